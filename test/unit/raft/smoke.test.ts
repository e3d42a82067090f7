import { describe, expect, it } from "vitest";
import { Role } from "../../../manager/raft/core/index.js";
import { Cluster } from "./cluster.js";

describe("smoke", () => {
  it("elects and replicates", () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.raft(1).role).toBe(Role.Leader);
    c.propose(1, "a");
    c.tick(1);
    c.settle();
    for (const id of [1, 2, 3]) expect(c.data(id)).toEqual(["a"]);
  });
});
