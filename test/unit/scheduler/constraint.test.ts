import { describe, expect, it } from "vitest";
import { NodeRole } from "../../../proto/gen/cluster.js";
import { ConstraintError, parseConstraint, parseConstraints, satisfies } from "../../../manager/scheduler/constraint.js";
import { node } from "./fixtures.js";

describe("constraints", () => {
  const n = node("n1", { labels: { zone: "East" }, role: NodeRole.NODE_ROLE_MANAGER });

  it("match node.id, hostname, role and labels with == and !=", () => {
    expect(satisfies(n, parseConstraints(["node.id==n1", "node.hostname==n1", "node.role==manager", "node.labels.zone==east"]))).toBe(true);
    expect(satisfies(n, parseConstraints(["node.role!=manager"]))).toBe(false);
    expect(satisfies(n, parseConstraints(["node.labels.rack==r1"]))).toBe(false);
    expect(satisfies(n, parseConstraints(["node.labels.rack!=r1"]))).toBe(true);
    expect(satisfies(n, parseConstraints(["engine.labels.ssd==true"]))).toBe(false);
  });

  it.each([
    ["node.labels.zone=east", "KEY==VALUE"],
    ["zone==east", "unknown key"],
    ["node.labels.==x", "name the label"],
    ["node.role==boss", "manager or worker"],
    ["node.id==", "KEY==VALUE"],
  ])("refuse %s in one line", (text, hint) => {
    let err: unknown;
    try {
      parseConstraint(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConstraintError);
    expect((err as Error).message).toContain(hint);
    expect((err as Error).message).not.toContain("\n");
  });
});
