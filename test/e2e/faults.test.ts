// Faults on a lab of 3 managers and 2 workers: a worker's power cut, the leader killed, the leader
// partitioned from the other managers, a worker leaving and joining again, every manager gone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState } from "../../proto/gen/cluster.js";
import { etcdMembers, etcdPids, startEtcdMember } from "../../lab/etcd.js";
import { labHeal, labKill, labPartition, labStart } from "../../lab/lab.js";
import { Cluster, eventually, figure, isRunning, STORES, total } from "./harness.js";

describe.each(STORES)("faults on a 3+2 lab (%s store)", (store) => {
  let c: Cluster;
  const leader = () => {
    const out = c.ok(alive[0], "node", "ls");
    const line = out.split("\n").find((l) => /Leader/.test(l))!;
    return /-(m\d)\b/.exec(line)![1];
  };
  let alive = ["m1", "m2", "m3"];
  beforeAll(async () => {
    c = await Cluster.up(`e2f${store[0]}${process.pid % 1000}`, 3, 2, store);
    c.ok("m1", "service", "create", "-d", "--name", "web", "--replicas", "6", "busybox:1", "httpd", "-f", "-p", "8080");
    await eventually("6 running", async () => total(await c.running("web")) === 6);
  });
  afterAll(async () => {
    await c?.down();
  });

  it("a killed worker is marked down and its tasks run elsewhere", async () => {
    const w2 = c.host("w2");
    expect((await c.running("web")).get(w2)).toBeGreaterThan(0);
    const killed = Date.now();
    await labKill(c.name, w2);
    await eventually("w2 down", async () => (await c.nodeState("w2")) === NodeState.NODE_STATE_DOWN, 30_000, 50);
    figure(`${store}_worker_marked_down_ms`, Date.now() - killed);
    await eventually("6 running without w2", async () => {
      const r = await c.running("web");
      return !r.has(w2) && total(r) === 6;
    }, 30_000, 50);
    figure(`${store}_worker_tasks_rescheduled_ms`, Date.now() - killed);
    await labStart(c.name, w2);
    await eventually("w2 ready again", async () => (await c.nodeState("w2")) === NodeState.NODE_STATE_READY, 30_000);
    // Its old tasks were replaced: once back, it runs none of the old ones and the count holds.
    await eventually("still 6", async () => total(await c.running("web")) === 6);
  });

  it("a killed leader is replaced; the new one serves reads and writes; no service runs more than asked", async () => {
    const old = leader();
    alive = alive.filter((m) => m !== old);
    // Timed from the power cut (the kill's first step freezes the daemon), not from the end of
    // the lab's clean-up of the host's containers: the survivors are asked while it runs.
    const killed = Date.now();
    const kill = labKill(c.name, c.host(old));
    // The tests after this one need all three managers: the killed one is started again even when
    // this one fails, so one failure is not reported five times.
    try {
      await eventually("a new leader answers service ls", async () => {
        const lead = (await c.nodes(alive[0])).find((n) => n.managerStatus?.leader);
        return !!lead && lead.description?.hostname !== c.host(old) && (await c.services(alive[0])).length > 0;
      }, 30_000, 20);
      figure(`${store}_leader_kill_to_service_ls_ms`, Date.now() - killed);
      await kill;
      await eventually("a new leader shown", () => leader() !== old, 30_000);
      const before = Date.now();
      const create = ["service", "create", "-d", "--name", "after", "--replicas", "3", "busybox:1", "sleep", "3600"];
      const r = c.shoal(alive[1], ...create);
      if (r.code === 0) figure(`${store}_service_create_after_leader_kill_ms`, Date.now() - before);
      else {
        // Leadership moved again mid-call (on a busy machine an etcd lease can lapse right after a
        // takeover): the CLI says so in one line, and the user does what it says: checks, and tries again.
        expect(r.err.trim().split("\n")).toHaveLength(1);
        expect(r.err).toMatch(/may not have been carried out; check, and try again/);
        await eventually("a leader answers service ls", async () => (await c.services(alive[0])).length > 0, 30_000);
        const made = (await c.services(alive[0])).some((s) => s.service?.spec?.annotations?.name === "after");
        if (!made) c.ok(alive[1], ...create);
      }
      await eventually("after: 3 running", async () => total(await c.running("after", alive[0])) === 3, 30_000, 200);
    } finally {
      await kill.catch(() => undefined);
      await labStart(c.name, c.host(old));
      alive = ["m1", "m2", "m3"];
    }
    await eventually("old leader ready again", async () => (await c.nodeState(old, alive.find((m) => m !== old))) === NodeState.NODE_STATE_READY, 30_000);
    for (const s of await c.services(alive.find((m) => m !== old))) {
      const running = (await c.tasks(s.service!.id, alive.find((m) => m !== old))).tasks.filter(isRunning).length;
      expect(running).toBeLessThanOrEqual(Number(s.desired));
    }
  });

  it("a leader cut off from the other managers (etcd store: from etcd) steps down; another leads; heal reconverges", async () => {
    // The previous test restarted a manager: the swarm may be electing right now.
    await eventually("a leader known", () => !!leader(), 30_000);
    const old = leader();
    const others = ["m1", "m2", "m3"].filter((m) => m !== old);
    // With Raft the majority is the other managers; with etcd, leadership lives in etcd.
    labPartition(c.name, [c.host(old)], store === "etcd" ? ["etcd"] : others.map((m) => c.host(m)));
    try {
      await eventually("majority has a new leader", () => {
        const out = c.ok(others[0], "node", "ls");
        const line = out.split("\n").find((l) => /Leader/.test(l));
        return !!line && !line.includes(c.host(old));
      }, 30_000);
      // Agents whose sessions were with the old leader move to the new one: no node but the cut-off one stays down.
      await eventually("every other node ready", async () => {
        for (const h of ["m1", "m2", "m3", "w1", "w2"].filter((h) => h !== old)) if ((await c.nodeState(h, others[0])) !== NodeState.NODE_STATE_READY) return false;
        return true;
      }, 30_000);
      // The old leader must not accept writes.
      const r = c.shoal(old, "service", "create", "-d", "--name", "split", "busybox:1", "sleep", "3600");
      expect(r.code).not.toBe(0);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    } finally {
      labHeal(c.name);
    }
    await eventually("the old leader serves again", () => c.shoal(old, "service", "ls").code === 0, 30_000);
    expect(c.ok(old, "service", "ls")).not.toMatch(/split/);
    await eventually("web back at 6", async () => total(await c.running("web")) === 6, 30_000);
  });

  it("a worker leaves: its tasks are rescheduled; node rm; a wrong or rotated token is refused; it joins again", async () => {
    const w1 = c.host("w1");
    c.ok("w1", "swarm", "leave");
    await eventually("w1 down, 6 running elsewhere", async () => (await c.nodeState("w1")) === NodeState.NODE_STATE_DOWN && !(await c.running("web")).has(w1) && total(await c.running("web")) === 6, 30_000);
    c.ok("m1", "node", "rm", w1);
    expect(c.ok("m1", "node", "ls")).not.toContain(w1);
    const addr = `${c.lab.hosts[0].address}:2377`;
    const old = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
    c.ok("m1", "swarm", "join-token", "--rotate", "-q", "worker");
    const bad = c.shoal("w1", "swarm", "join", "--token", "SWMTKN-1-nope", addr);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/invalid join token/i);
    const rotated = c.shoal("w1", "swarm", "join", "--token", old, addr);
    expect(rotated.code).not.toBe(0);
    expect(rotated.err).toMatch(/not valid|rotated/i);
    const token = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
    expect(c.ok("w1", "swarm", "join", "--token", token, addr)).toMatch(/joined a swarm as a worker/);
    await eventually("w1 ready again", async () => (await c.nodeState("w1")) === NodeState.NODE_STATE_READY, 30_000);
  });

  if (store === "etcd") it("the etcd leader killed during service creates: no acknowledged create is lost, the managers carry on", async () => {
    const members = etcdMembers(c.lab);
    const status = async (m: (typeof members)[number]) => (await (await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}" })).json()) as { header: { member_id: string }; leader: string };
    const leaderOf = async () => {
      for (const m of members) {
        try {
          const st = await status(m);
          if (st.header.member_id === st.leader) return m;
        } catch {
          /* down */
        }
      }
      return undefined;
    };
    const acked: string[] = [];
    let killed: (typeof members)[number] | undefined;
    for (let i = 0; i < 12; i++) {
      if (i === 4) {
        killed = await leaderOf();
        for (const pid of etcdPids(killed!)) process.kill(pid, "SIGKILL");
      }
      const name = `during${i}`;
      const r = c.shoal(alive[0], "service", "create", "-d", "--name", name, "--replicas", "1", "busybox:1", "sleep", "3600");
      if (r.code === 0) acked.push(name);
      else expect(r.err.trim().split("\n"), r.err).toHaveLength(1);
    }
    startEtcdMember(c.lab, killed!);
    await eventually("etcd whole again", async () => (await Promise.all(members.map((m) => status(m).then(() => true, () => false)))).every(Boolean), 30_000);
    const names = (await c.services()).map((s) => s.service!.spec!.annotations!.name);
    for (const n of acked) expect(names).toContain(n);
    expect(acked.length).toBeGreaterThan(4);
    c.ok("m1", "service", "create", "-d", "--name", "after-etcd", "busybox:1", "sleep", "3600");
    await eventually("after-etcd running", async () => total(await c.running("after-etcd")) === 1, 30_000);
    c.ok("m1", "service", "rm", ...names.filter((n) => n.startsWith("during")), "after-etcd");
  });

  it("with every manager stopped, workers keep their containers running and restart crashed ones", async () => {
    c.ok("m1", "service", "create", "-d", "--name", "keep", "--replicas", "2", "--constraint", "node.role==worker", "busybox:1", "sleep", "3600");
    await eventually("keep: 2 running", async () => total(await c.running("keep")) === 2);
    for (const m of ["m1", "m2", "m3"]) await labKill(c.name, c.host(m));
    try {
      const line = () => c.ok("w1", "ps").split("\n").find((l) => / keep\.\d/.test(l));
      await eventually("keep task still up on w1", () => /Up/.test(line() ?? ""), 10_000);
      const name = line()!.trim().split(/\s+/).at(-1)!;
      const state = () => (JSON.parse(c.ok("w1", "inspect", name)) as { RestartCount: number; State: { Pid: number } }[])[0];
      const restarts = () => state().RestartCount;
      const before = restarts();
      process.kill(state().State.Pid, "SIGKILL"); // a crash, not a stop asked for
      await eventually("restarted in place without managers", () => restarts() > before && /Up/.test(line() ?? ""), 30_000);
    } finally {
      for (const m of ["m1", "m2", "m3"]) await labStart(c.name, c.host(m));
    }
    await eventually("cluster back", async () => (await c.nodes()).every((n) => n.status?.state === NodeState.NODE_STATE_READY), 60_000);
  });
});
