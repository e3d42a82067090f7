// Labs as operators use them: a 3+5 swarm ready with every node Ready (the time it takes is a
// figure), and two labs with different names running at once, each its own swarm.
import { afterAll, describe, expect, it } from "vitest";
import { NodeState } from "../../proto/gen/cluster.js";
import { Cluster, eventually, figure, total } from "./harness.js";

describe("labs", () => {
  const made: Cluster[] = [];
  afterAll(async () => {
    for (const c of made) await c.down().catch(() => undefined);
  });

  it("brings up 3 managers and 5 workers, every node Ready", async () => {
    const started = Date.now();
    const c = await Cluster.up(`e2l${process.pid % 1000}`, 3, 5);
    made.push(c);
    const nodes = await c.nodes();
    figure("lab_up_3m5w_ms", Date.now() - started);
    expect(nodes).toHaveLength(8);
    expect(nodes.every((n) => n.status?.state === NodeState.NODE_STATE_READY)).toBe(true);
    expect(nodes.filter((n) => n.managerStatus?.leader)).toHaveLength(1);
  });

  it("runs a second lab beside the first, each its own swarm", async () => {
    const a = made[0];
    const b = await Cluster.up(`e2k${process.pid % 1000}`, 1, 1);
    made.push(b);
    a.ok("m1", "service", "create", "-d", "--name", "web", "--replicas", "3", "busybox:1", "sleep", "3600");
    b.ok("m1", "service", "create", "-d", "--name", "web", "--replicas", "2", "busybox:1", "sleep", "3600");
    await eventually("a: 3 running", async () => total(await a.running("web")) === 3);
    await eventually("b: 2 running", async () => total(await b.running("web")) === 2);
    const hostsA = (await a.nodes()).map((n) => n.description!.hostname);
    const hostsB = (await b.nodes()).map((n) => n.description!.hostname);
    expect(hostsB).toHaveLength(2);
    expect(hostsA.some((h) => hostsB.includes(h))).toBe(false);
    expect([...(await b.running("web")).keys()].every((h) => hostsB.includes(h))).toBe(true);
    await b.down();
    made.pop();
    // The first lab is untouched by the second's teardown.
    expect((await a.nodes()).every((n) => n.status?.state === NodeState.NODE_STATE_READY)).toBe(true);
    expect(total(await a.running("web"))).toBe(3);
  });
});
