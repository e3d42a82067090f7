// Scheduler bench: 3 managers as real processes (Raft with fsync, dispatcher, Control API) and
// simulated agents with real gRPC sessions but no containers. Phase 1: 1,000 nodes; services
// totalling 100,000 tasks created through the Control API, timed until every task is placed and
// reported running. Phase 2: 5,000 nodes heartbeating, the leader's CPU measured over 10 s.
// The peer figure is SwarmKit's own published one (scheduling 100,000 tasks on 1,000 nodes:
// 22.6 s); Docker Swarm cannot run 1,000 simulated nodes here.
// Env: SCHED_NODES, SCHED_TASKS, SCHED_IDLE_NODES, SCHED_JOIN_FIRST, SCHED_NO_INGRESS, SCHED_PROFILE, SCHED_KEEP, SCHED_NODE_FLAGS. Last line: one JSON object.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { DAEMON_NODE_FLAGS } from "../agent/daemon/node-flags.js";
import { createNodeKey } from "../manager/ca/csr.js";
import { ControlClient, DispatcherClient } from "../proto/gen/swarm.js";
import { freePort } from "../test/support/cluster/managers.js";
import { SimAgent } from "../test/support/cluster/sim-agent.js";
import { busyStretches, monoUs, showStretches, showSummary, summarise, type Window } from "./support/cpuprofile.js";

const SWARMKIT_100K_S = 22.6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Unary = (req: unknown, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
function call<T>(client: object, method: string, req: unknown, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => ((client as Record<string, Unary>)[method]).call(client, req, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as T))));
}

class Managers {
  procs: ChildProcess[] = [];
  addrs: string[] = [];
  dir = mkdtempSync(join(tmpdir(), "shoal-bench-sched-"));

  async start(): Promise<void> {
    const ports = await Promise.all([1, 2, 3].map(() => freePort()));
    this.addrs = ports.map((p) => `127.0.0.1:${p}`);
    const script = join(process.cwd(), "dist/test/support/cluster/manager-proc.js");
    await Promise.all(
      this.addrs.map((_, i) => {
        // SCHED_PROFILE=DIR: each manager writes a V8 CPU profile there when it exits.
        const prof = process.env.SCHED_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.SCHED_PROFILE}`] : [];
        // Each manager's log goes to DIR/mN.log (kept with SCHED_KEEP=1).
        const log = openSync(join(this.dir, `m${i + 1}.log`), "a");
        // SCHED_NODE_FLAGS="--flag …": the managers' V8 flags instead of the daemon's own (to try others).
        const flags = process.env.SCHED_NODE_FLAGS !== undefined ? process.env.SCHED_NODE_FLAGS.split(" ").filter(Boolean) : DAEMON_NODE_FLAGS;
        const p = spawn(process.execPath, [...flags, ...prof, script, String(i + 1), this.addrs.join(","), this.dir], { stdio: ["ignore", "pipe", log] });
        this.procs.push(p);
        return new Promise<void>((resolve, reject) => {
          const rl = createInterface({ input: p.stdout! });
          rl.once("line", (l) => (l === "ready" ? resolve() : reject(new Error(`manager ${i + 1}: ${l}`))));
          p.once("exit", (code) => reject(new Error(`manager ${i + 1} exited with ${code}`)));
        });
      }),
    );
  }

  /** CPU ms and leadership of each manager process. */
  async cpu(): Promise<{ cpuMs: number; leader: boolean }[]> {
    return Promise.all(
      this.procs.map(
        (p) =>
          new Promise<{ cpuMs: number; leader: boolean }>((resolve) => {
            const rl = createInterface({ input: p.stdout! });
            rl.once("line", (l) => (rl.close(), resolve(JSON.parse(l))));
            p.kill("SIGUSR2");
          }),
      ),
    );
  }

  /** With SCHED_PROFILE: each manager's CPU inside `window` (a phase), by area and caller. */
  showProfiles(phase: string, window: Window): void {
    const dir = process.env.SCHED_PROFILE;
    if (!dir) return;
    const files = readdirSync(dir);
    this.procs.forEach((p, i) => {
      const f = files.find((x) => x.includes(`.${p.pid}.`) && x.endsWith(".cpuprofile"));
      if (!f) return;
      showSummary(`${phase}, manager ${i + 1} (${join(dir, f)})`, summarise([join(dir, f)], [window]), { wallMs: (window.to - window.from) / 1000 });
      showStretches(`manager ${i + 1}`, busyStretches(join(dir, f), 200, 5, window));
    });
  }

  /** SIGTERM (a profiled manager writes its profile on a clean exit), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null) return resolve();
            const t = setTimeout(() => p.kill("SIGKILL"), 5000);
            p.once("exit", () => (clearTimeout(t), resolve()));
            p.kill("SIGTERM");
          }),
      ),
    );
    if (process.env.SCHED_KEEP) console.error(`bench scheduler: managers' logs kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Joins `n` simulated nodes through the manager at `addr`, following it to the leader, 200 at a
 * time; `joined` hears each batch as it joins, so their agents can open their sessions before a
 * joined node's silence gets it marked down.
 */
async function joinNodes(addr: string, token: string, n: number, prefix: string, joined: (ids: string[]) => void = () => undefined): Promise<string[]> {
  // One client per manager, closed only at the end: 200 joins run at once, and one of them
  // following the leader elsewhere must not close the channel under the others.
  const clients = new Map<string, DispatcherClient>();
  const client = (a: string) => clients.get(a) ?? clients.set(a, new DispatcherClient(a, credentials.createInsecure())).get(a)!;
  const ids: string[] = [];
  // One key for every simulated node: each join still gets its own certificate signed.
  const { csrPem } = await createNodeKey();
  // 100 tries 100 ms apart: a leader busy signing 200 certificates at once can lose its lease,
  // and the election after it takes a while under that load.
  const joinOne = async (hostname: string, tries = 100): Promise<string> => {
    const req = { token, addr: "127.0.0.1:1", description: { hostname, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 }, platform: { architecture: "x86_64", os: "linux" }, engine: { engineVersion: "sim", labels: {} } }, csr: csrPem };
    try {
      return (await call<{ nodeId: string }>(client(addr), "join", req)).nodeId;
    } catch (err) {
      // "…leader is at ADDR" (a join answered by a follower) or "…forward to member N at ADDR" (the leader changed meanwhile).
      const leader = /(?:leader is|forward to member \d+) at (\S+)/.exec((err as ServiceError).details ?? "")?.[1];
      // A leader change in the middle of the join: ask the same manager again, it knows the new leader by then.
      const changed = /leader/i.test((err as ServiceError).details ?? "");
      if ((!leader && !changed) || tries === 0) throw err;
      if (leader) addr = leader;
      await sleep(100);
      return joinOne(hostname, tries - 1);
    }
  };
  for (let i = 0; i < n; i += 200) {
    const batch = await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => joinOne(`${prefix}${i + j}`)));
    ids.push(...batch);
    joined(batch);
  }
  for (const c of clients.values()) c.close();
  return ids;
}

/** Ready nodes; -1 while no leader answers (a leader change under the load of joins). */
async function readyNodes(c: ControlClient): Promise<number> {
  try {
    const r = await call<{ nodes: { status?: { state: number } }[] }>(c, "listNodes", {});
    return r.nodes.filter((n) => n.status?.state === 2).length;
  } catch (err) {
    if ((err as ServiceError).code === 14) return -1;
    throw err;
  }
}

export async function main(): Promise<void> {
  const NODES = Number(process.env.SCHED_NODES ?? 1000);
  const TASKS = Number(process.env.SCHED_TASKS ?? 100_000);
  const IDLE_NODES = Number(process.env.SCHED_IDLE_NODES ?? 5000);
  const PER_SERVICE = Math.min(1000, TASKS);
  const m = new Managers();
  const agents: SimAgent[] = [];
  let result: object | undefined;
  let timed: Window | undefined;
  let joins: Window | undefined;
  try {
    await m.start();
    const control = new ControlClient(m.addrs[0], credentials.createInsecure(), { "grpc.max_receive_message_length": 256 * 1024 * 1024 });
    const { worker } = await call<{ worker: string }>(control, "getJoinTokens", {});
    const startAgents = (ids: string[]) => {
      for (const id of ids) {
        const a = new SimAgent(id, m.addrs);
        agents.push(a);
        a.start();
      }
    };
    await joinNodes(m.addrs[0], worker, NODES, "sim", startAgents);
    for (let waited = 0, ready = 0; (ready = await readyNodes(control)) < NODES; waited += 200) {
      if (waited > 0 && waited % 5000 === 0) console.log(`${ready} of ${NODES} simulated nodes ready`);
      if (waited > 120_000) throw new Error(`only ${ready} of ${NODES} simulated nodes ready after 120 s`);
      await sleep(200);
    }
    console.log(`${NODES} simulated nodes ready`);

    // CPU of each process over the timed phase: on 2 shared cores it moves less than the wall time.
    const cpu0 = await m.cpu();
    const messages0 = agents.reduce((a, x) => a + x.messages, 0);
    const self0 = process.cpuUsage();
    const t0 = Date.now();
    const t0Us = monoUs();
    const creates: Promise<unknown>[] = [];
    for (let s = 0; s * PER_SERVICE < TASKS; s++) {
      const replicas = Math.min(PER_SERVICE, TASKS - s * PER_SERVICE);
      creates.push(
        call(control, "createService", {
          spec: { annotations: { name: `bench${s}`, labels: {} }, task: { container: { image: "busybox:1", command: ["sleep", "3600"], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} }, networks: [], forceUpdate: 0 }, mode: { $case: "replicated", value: { replicas } } },
        }),
      );
    }
    await Promise.all(creates);
    const created = Date.now() - t0;
    let running = 0;
    let last = -1;
    let leaderChanges = 0;
    while (running < TASKS) {
      await sleep(250);
      let r: { services: { running: number }[] };
      try {
        r = await call<{ services: { running: number }[] }>(control, "listServices", {});
      } catch (err) {
        // A leader whose thread is held too long by the work loses its followers: count it, go on.
        if ((err as ServiceError).code !== 14) throw err;
        leaderChanges++;
        console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${(err as ServiceError).details}`);
        continue;
      }
      running = r.services.reduce((a, s) => a + Number(s.running), 0);
      if (running !== last) console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${running} running`);
      last = running;
      if (Date.now() - t0 > 600_000) throw new Error(`only ${running} of ${TASKS} running after 600 s`);
    }
    const seconds = (Date.now() - t0) / 1000;
    timed = { from: t0Us, to: monoUs() };
    if (process.env.SCHED_PROFILE) console.log(`timed phase on the profiles' clock: ${timed.from}..${timed.to} µs`);
    if (leaderChanges > 0) console.log(`leadership changed hands ${leaderChanges} time(s) under the load (see the managers' logs with SCHED_KEEP=1)`);
    const self1 = process.cpuUsage(self0);
    const cpu1 = await m.cpu();
    const managersCpuS = cpu1.map((c, i) => Math.round(c.cpuMs - cpu0[i].cpuMs) / 1000);
    const agentsCpuS = Math.round((self1.user + self1.system) / 1000) / 1000;
    console.log(`${TASKS} tasks on ${NODES} nodes placed and running in ${seconds.toFixed(2)} s (services created in ${created} ms); SwarmKit: ${SWARMKIT_100K_S} s`);
    console.log(`CPU in that time: managers ${cpu1.map((c, i) => `${managersCpuS[i].toFixed(1)} s${c.leader ? " (leader)" : ""}`).join(", ")}; the simulated agents' process ${agentsCpuS.toFixed(1)} s`);
    const pushes = agents.reduce((a, x) => a + x.messages, 0) - messages0;
    console.log(`the agents were sent ${pushes} assignment messages (${(TASKS / pushes).toFixed(1)} tasks each)`);

    // Phase 2: idle nodes heartbeating.
    const more = IDLE_NODES - NODES;
    const j0 = monoUs();
    if (more > 0) {
      // Each batch's sessions open as it joins, as real nodes do. SCHED_JOIN_FIRST=1 joins all
      // first and opens the sessions after (the default until 4 December, when the mass join
      // still lost the leader: docs/benchmarks.md); nodes without a session are then marked down
      // 5 s after they join, thousands of writes during the joins.
      if (process.env.SCHED_JOIN_FIRST) startAgents(await joinNodes(m.addrs[0], worker, more, "idle"));
      else await joinNodes(m.addrs[0], worker, more, "idle", startAgents);
      while ((await readyNodes(control)) < IDLE_NODES) await sleep(500);
    }
    joins = { from: j0, to: monoUs() };
    if (more > 0) console.log(`${more} more nodes joined and ready in ${((joins.to - joins.from) / 1e6).toFixed(1)} s`);
    await sleep(2000);
    const before = await m.cpu();
    const t1 = Date.now();
    await sleep(10_000);
    const after = await m.cpu();
    const li = after.findIndex((x) => x.leader);
    const heartbeatCpuPct = Math.round((1000 * (after[li].cpuMs - before[li].cpuMs)) / (Date.now() - t1)) / 10;
    console.log(`${IDLE_NODES} nodes heartbeating: leader CPU ${heartbeatCpuPct}% of one core (goal ≤ 50%)`);
    control.close();
    result = {
      tasks: TASKS,
      nodes: NODES,
      seconds,
      swarmkit_seconds: SWARMKIT_100K_S,
      ratio_vs_swarmkit: Math.round((seconds / SWARMKIT_100K_S) * 100) / 100,
      tasks_per_s: Math.round(TASKS / seconds),
      heartbeat_nodes: IDLE_NODES,
      heartbeat_cpu_pct: heartbeatCpuPct,
      leader_changes_seen: leaderChanges,
      managers_cpu_s: managersCpuS,
      agents_cpu_s: agentsCpuS,
    };
  } finally {
    for (const a of agents) a.stop();
    await m.stop();
  }
  // The managers write their profiles as they exit: only then can the timed phase be read.
  if (timed && process.env.SCHED_PROFILE) m.showProfiles("timed phase", timed);
  if (joins && process.env.SCHED_PROFILE) m.showProfiles("phase 2's joins", joins);
  console.log(JSON.stringify(result));
}
