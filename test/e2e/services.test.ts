// Services on a lab of 3 managers and 2 workers: create, scale, drain, global mode, constraints,
// pending reasons, logs and refused specs — as a user sees them through `shoal`.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState } from "../../proto/gen/cluster.js";
import { Cluster, eventually, STORES, total } from "./harness.js";

const spreadOk = (m: Map<string, number>, nodes: number) => {
  const counts = [...m.values()];
  while (counts.length < nodes) counts.push(0);
  return Math.max(...counts) - Math.min(...counts) <= 1;
};

describe.each(STORES)("services on a 3+2 lab (%s store)", (store) => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.up(`e2s${store[0]}${process.pid % 1000}`, 3, 2, store);
  });
  afterAll(async () => {
    await c?.down();
  });

  it("lists 5 ready nodes, 3 of them managers with one leader", async () => {
    const out = c.ok("m1", "node", "ls");
    expect(out.split("\n").filter((l) => /Ready/.test(l))).toHaveLength(5);
    expect(out.split("\n").filter((l) => /Leader/.test(l))).toHaveLength(1);
    expect(out.split("\n").filter((l) => /Reachable/.test(l))).toHaveLength(2);
  });

  it("runs 6 replicas spread evenly, then scales 6 → 20 → 2", async () => {
    const id = c.ok("m1", "service", "create", "-d", "--name", "web", "--replicas", "6", "busybox:1", "httpd", "-f", "-p", "8080").trim();
    expect(id).toMatch(/^[0-9a-z]{10,}$/);
    await eventually("6 running", async () => total(await c.running("web")) === 6);
    expect(spreadOk(await c.running("web"), 5)).toBe(true);
    expect(c.ok("m2", "service", "ls")).toMatch(/web\s+replicated\s+6\/6\s+busybox:1/);

    c.ok("m2", "service", "scale", "-d", "web=20");
    await eventually("20 running", async () => total(await c.running("web")) === 20);
    expect(spreadOk(await c.running("web"), 5)).toBe(true);

    c.ok("m3", "service", "scale", "-d", "web=2");
    await eventually("2 running", async () => total(await c.running("web")) === 2 && (await c.tasks("web")).tasks.filter((t) => t.status!.state <= 512 && t.desiredState === 512).length === 2);
    expect([...(await c.running("web")).values()].every((n) => n === 1)).toBe(true);
  });

  it("drains a worker: its tasks move away; active again, it takes new tasks", async () => {
    c.ok("m1", "service", "scale", "-d", "web=10");
    await eventually("10 running", async () => total(await c.running("web")) === 10);
    const w1 = c.host("w1");
    expect((await c.running("web")).get(w1)).toBeGreaterThan(0);
    c.ok("m1", "node", "update", "--availability", "drain", w1);
    await eventually("w1 empty, 10 running elsewhere", async () => {
      const r = await c.running("web");
      return !r.has(w1) && total(r) === 10;
    });
    expect(c.ok("m1", "node", "ls")).toMatch(new RegExp(`${w1}\\s+Ready\\s+Drain`));
    c.ok("m1", "node", "update", "--availability", "active", w1);
    c.ok("m1", "service", "scale", "-d", "web=15");
    await eventually("w1 takes new tasks", async () => ((await c.running("web")).get(w1) ?? 0) > 0 && total(await c.running("web")) === 15);
  });

  it("global mode runs one task per active node", async () => {
    c.ok("m1", "service", "create", "-d", "--name", "agent", "--mode", "global", "busybox:1", "sleep", "3600");
    await eventually("5 running, one per node", async () => {
      const r = await c.running("agent");
      return r.size === 5 && total(r) === 5;
    });
  });

  it("a label constraint places only on labeled nodes; an impossible reservation stays pending with the reason", async () => {
    c.ok("m1", "node", "update", "--label-add", "zone=a", c.host("w2"));
    c.ok("m1", "service", "create", "-d", "--name", "zoned", "--replicas", "3", "--constraint", "node.labels.zone==a", "busybox:1", "sleep", "3600");
    await eventually("3 on w2", async () => {
      const r = await c.running("zoned");
      return total(r) === 3 && r.get(c.host("w2")) === 3;
    });
    c.ok("m1", "service", "create", "-d", "--name", "huge", "--replicas", "2", "--reserve-memory", "100T", "busybox:1", "sleep", "3600");
    await eventually("pending reason shown", () => /insufficient|no suitable node/i.test(c.ok("m1", "service", "ps", "huge")));
    expect(total(await c.running("huge"))).toBe(0);
    c.ok("m1", "service", "rm", "huge", "zoned");
  });

  it("service logs -f streams every replica's output from every node", async () => {
    c.ok("m1", "service", "create", "-d", "--name", "talk", "--replicas", "4", "busybox:1", "sh", "-c", "while true; do echo hello from $(hostname); sleep 0.2; done");
    await eventually("4 running", async () => total(await c.running("talk")) === 4);
    const p = spawn("nsenter", c.shoalArgs("m2", "service", "logs", "-f", "talk"));
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    try {
      const ids = (await c.tasks("talk")).tasks.filter((t) => t.desiredState === 512).map((t) => t.id.slice(0, 12));
      await eventually("lines from all 4 tasks", () => ids.every((id) => out.includes(id)), 30_000);
      expect(out).toMatch(/talk\.\d\.[0-9a-z]+@\S+\s+\| hello from/);
    } finally {
      p.kill("SIGINT");
    }
  });

  it("refuses bad specs with one line, storing nothing", async () => {
    const before = (await c.services()).length;
    const cases: [string[], RegExp][] = [
      [["--replicas", "-1", "busybox:1"], /replicas/i],
      [["--name", "bad", "busybox::1"], /image|reference/i],
      [["--name", "bad2", "--constraint", "node.labels.zone=>a", "busybox:1"], /constraint/i],
      [["--name", "web", "busybox:1"], /already/i],
      [["--name", "p1", "-p", "9000:80", "busybox:1"], /^$/],
      [["--name", "p2", "-p", "9000:80", "busybox:1"], /port 9000|already/i],
    ];
    for (const [args, msg] of cases) {
      const r = c.shoal("m1", "service", "create", "-d", ...args);
      if (msg.source === "^$") {
        expect(r.code).toBe(0);
        continue;
      }
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
    expect((await c.services()).length).toBe(before + 1);
    c.ok("m1", "service", "rm", "p1");
  });

  it("nodes stay ready throughout", async () => {
    for (const n of await c.nodes()) expect(n.status?.state).toBe(NodeState.NODE_STATE_READY);
  });
});
