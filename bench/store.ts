// Store bench: the embedded Raft store (3 members in this process, WAL with fsync, the leader's
// store) against the etcd backend (3 etcd 3.4 members with etcd's default timings, writes fenced
// through the managers' etcd election), same run, same code on top of each:
// - service creates per second through the Control API, 1 and 16 in flight;
// - store transactions per second (one task created each), 64 in flight;
// - time to converge 1,000 tasks: a service of 1,000 replicas created through the Control API
//   until the orchestrator, allocator and scheduler have placed every task on 50 ready nodes and
//   each is RUNNING (the agents' reports are written straight to the store, batched, as the
//   dispatcher would write them: no agents or gRPC sessions);
// - etcd only: raw etcd transactions/s (its ceiling here), manager handover after kill -9 of the
//   leading manager's process (the election's lease; on etcd's default timings and on a 500 ms
//   election timeout), and the longest pause in acknowledged writes when etcd's leader is killed.
// Needs a build (npm run build:ts) and /usr/bin/etcd. Env: STORE_BENCH_MS, STORE_BENCH_TRIALS.
// Last line: one JSON object of figures.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { NodeAvailability, NodeRole, NodeState, TaskState, type Task } from "../proto/gen/cluster.js";
import { ALLOCATOR_FILTER, allocate } from "../manager/allocator/allocator.js";
import { ControlApi } from "../manager/controlapi/api.js";
import { Orchestrator } from "../manager/orchestrator/orchestrator.js";
import { Role } from "../manager/raft/core/api.js";
import { RaftNode } from "../manager/raft/node.js";
import { Scheduler } from "../manager/scheduler/scheduler.js";
import { EtcdBackend } from "../manager/store/etcd/backend.js";
import { connectEtcd } from "../manager/store/etcd/client.js";
import { StoreLoop } from "../manager/store/loop.js";
import { raftStore } from "../manager/store/raft.js";
import { byServiceId, type Store } from "../manager/store/types.js";
import { EtcdCluster } from "../test/support/etcd.js";
import { freePort } from "../test/support/raft/cluster.js";

const MEASURE_MS = Number(process.env.STORE_BENCH_MS ?? 3000);
const TRIALS = Number(process.env.STORE_BENCH_TRIALS ?? 5);
const TASKS = 1000;
const NODES = 50;
const CANDIDATE = join(process.cwd(), "dist/test/integration/store-etcd/candidate.js");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Backend {
  name: string;
  /** The leading manager's store: where the control loops run and writes go. */
  store: Store;
  /** etcd's client URLs, for the raw etcd figure. */
  endpoints?: string[];
  stop(): Promise<void>;
}

async function embedded(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), "shoal-bench-store-"));
  const addrs = await Promise.all([1, 2, 3].map(async () => `127.0.0.1:${await freePort()}`));
  const members = new Map(addrs.map((a, i) => [i + 1, { raftAddress: a, clientAddress: a }]));
  const nodes: RaftNode[] = [];
  const stores: Store[] = [];
  for (let i = 0; i < 3; i++) {
    const { store, stateMachine } = raftStore(() => nodes[i]);
    nodes.push(new RaftNode({ id: i + 1, dataDir: join(dir, `m${i + 1}`), stateMachine, self: members.get(i + 1)!, initialMembers: members, log: () => undefined }));
    stores.push(store);
  }
  await Promise.all(nodes.map((n) => n.start()));
  let leader = -1;
  while (leader < 0) {
    await sleep(20);
    leader = nodes.findIndex((n) => n.status().role === Role.Leader);
  }
  await nodes[leader].linearizableRead(5000);
  return {
    name: "embedded",
    store: stores[leader],
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function etcd(): Promise<Backend & { cluster: EtcdCluster }> {
  // etcd's own default timings, as an operator's cluster runs: 100 ms heartbeat, 1 s election.
  const cluster = await EtcdCluster.start({ heartbeatMs: 100, electionMs: 1000 });
  const backend = new EtcdBackend({ endpoints: cluster.endpoints, addr: "bench:2377", log: () => undefined });
  await backend.start();
  while (!backend.isLeader()) await sleep(20);
  return {
    name: "etcd",
    cluster,
    store: backend.store,
    endpoints: cluster.endpoints,
    async stop() {
      await backend.stop();
      await cluster.stop();
    },
  };
}

const spec = (name: string, replicas: number) => ({
  annotations: { name, labels: {} },
  task: { container: { image: "busybox:1", command: ["sleep", "3600"], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} }, networks: [], forceUpdate: 0 },
  mode: { $case: "replicated" as const, value: { replicas } },
});

/** etcd's own ceiling on this machine: raw compare-and-put transactions (no Shoal), 64 in flight. */
async function rawTxnRate(endpoints: string[]): Promise<number> {
  const client = connectEtcd({ endpoints });
  try {
    return await rate(64, (n) => {
      const key = Buffer.from(`/bench-raw/${n}`);
      return client.kv.txn({ compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }], success: [{ request_put: { key, value: Buffer.alloc(300) } }] });
    });
  } finally {
    client.close();
  }
}

/** Runs `op` with `inFlight` at a time for MEASURE_MS; completed ops per second. */
async function rate(inFlight: number, op: (n: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  let n = 0;
  const start = Date.now();
  const end = start + MEASURE_MS;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await op(n++);
        done++;
      }
    }),
  );
  return Math.round((done * 1000) / (Date.now() - start));
}

const newTask = (serviceId: string, slot: number): Task => ({
  id: "",
  serviceId,
  slot,
  nodeId: "",
  specVersion: 1,
  desiredState: TaskState.TASK_STATE_SHUTDOWN,
  status: { state: TaskState.TASK_STATE_NEW, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
  networks: [],
  assignedGenericResources: [],
});

/** Stands in for the agents and the dispatcher: every task placed on a node is reported RUNNING, in batches. */
function reporter(store: Store): StoreLoop {
  return new StoreLoop(
    store,
    () =>
      store.batch(async (b) => {
        const placed = store.view((tx) => tx.find("task").filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED));
        for (const t of placed) {
          await b.update((tx) => {
            const cur = tx.get("task", t.id);
            if (cur?.status?.state !== TaskState.TASK_STATE_ASSIGNED) return;
            tx.update("task", { ...cur, status: { ...cur.status, state: TaskState.TASK_STATE_RUNNING, timestamp: Date.now(), message: "started" } });
          });
        }
      }),
    { filter: { kinds: ["task"] }, batchDelayMs: 10, firstDelayMs: 10 },
  );
}

/** ms from the service create to every one of its TASKS tasks RUNNING. */
async function converge(store: Store): Promise<number> {
  await store.batch(async (b) => {
    for (let i = 0; i < NODES; i++) {
      await b.update((tx) =>
        tx.create("node", {
          id: `bench-node-${i}`,
          spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_WORKER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
          description: { hostname: `bench-node-${i}`, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 } },
          status: { state: NodeState.NODE_STATE_READY, message: "", addr: `10.9.0.${i + 1}` },
          membership: 1,
        }),
      );
    }
  });
  const onError = (e: unknown) => console.error(`bench: ${(e as Error).message}`);
  const loops = [
    new Orchestrator(store, { onError, batchDelayMs: 10 }),
    new StoreLoop(store, () => allocate(store, Date.now()), { filter: ALLOCATOR_FILTER, batchDelayMs: 5, firstDelayMs: 0, onError }),
    new Scheduler(store, { onError, batchDelayMs: 10 }),
    reporter(store),
  ];
  for (const l of loops) l.start();
  try {
    const t0 = Date.now();
    const svc = await new ControlApi(store).createService({ spec: spec("converge", TASKS) });
    const deadline = t0 + 120_000;
    for (;;) {
      const running = store.view((tx) => tx.find("task", byServiceId(svc.id)).filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING).length);
      if (running >= TASKS) return Date.now() - t0;
      if (Date.now() > deadline) throw new Error(`bench: only ${running} of ${TASKS} tasks running after 120 s`);
      await sleep(5);
    }
  } finally {
    for (const l of loops) l.stop();
  }
}

async function measure(b: Backend): Promise<Record<string, number>> {
  const api = new ControlApi(b.store);
  const out: Record<string, number> = {};
  out.creates_c1 = await rate(1, (n) => api.createService({ spec: spec(`c1-${n}`, 0) }));
  console.log(`${b.name}: ${out.creates_c1} service creates/s at 1 in flight`);
  out.creates_c16 = await rate(16, (n) => api.createService({ spec: spec(`c16-${n}`, 0) }));
  console.log(`${b.name}: ${out.creates_c16} service creates/s at 16 in flight`);
  const sid = await api.createService({ spec: spec("txn", 0) }).then((s) => s.id);
  out.txn_c64 = await rate(64, (n) => b.store.update((tx) => tx.create("task", newTask(sid, n + 1))));
  console.log(`${b.name}: ${out.txn_c64} store transactions/s at 64 in flight`);
  if (b.endpoints) {
    // Measured right after, so the machine's load is alike for both figures.
    out.raw_txn_c64 = await rawTxnRate(b.endpoints);
    console.log(`${b.name}: ${out.raw_txn_c64} raw compare-and-put transactions/s at 64 in flight (etcd alone, no Shoal)`);
  }
  out.converge_ms = await converge(b.store);
  console.log(`${b.name}: ${TASKS} tasks running ${out.converge_ms} ms after the service create`);
  return out;
}

/** kill -9 of the leading manager (its own process); ms until another manager leads. */
async function handover(endpoints: string[]): Promise<number> {
  const prefix = `/bench-handover-${Date.now()}/`;
  const start = () => {
    const p = spawn(process.execPath, [CANDIDATE, endpoints.join(","), prefix, `cand-${Math.random()}`], { stdio: ["ignore", "pipe", "ignore"] });
    const said: string[] = [];
    const lead = new Promise<number>((resolve) => createInterface({ input: p.stdout! }).on("line", (l) => (said.push(l), l === "leading" && resolve(Date.now()))));
    return { p, said, lead };
  };
  const a = start();
  await a.lead;
  const b = start();
  while (!b.said.includes("ready")) await sleep(10);
  await sleep(1500); // b's key is in line (its campaign follows its start)
  const killed = Date.now();
  a.p.kill("SIGKILL");
  const ms = (await Promise.race([b.lead, sleep(15_000).then(() => killed + 15_000)])) - killed;
  b.p.kill("SIGKILL");
  return ms;
}

/** Writes one service at a time, 4 lanes; kill -9 etcd's leader; the longest pause between acknowledged writes. */
async function etcdLeaderKill(e: Backend & { cluster: EtcdCluster }): Promise<number> {
  const acks: number[] = [];
  let stop = false;
  let n = 0;
  const lanes = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (!stop) {
        // A refused write (this manager not leading for a moment) waits a little: no hot loop.
        await e.store.update((tx) => tx.create("service", { id: "", spec: spec(`kill-${n++}`, 0), specVersion: 1 })).then(
          () => acks.push(Date.now()),
          () => sleep(10),
        );
      }
    }),
  );
  await sleep(500);
  const victim = await e.cluster.leader();
  await e.cluster.kill(victim);
  await e.cluster.leader();
  await sleep(3000);
  stop = true;
  await lanes;
  e.cluster.restart(victim);
  acks.sort((x, y) => x - y);
  let gap = 0;
  for (let i = 1; i < acks.length; i++) gap = Math.max(gap, acks[i] - acks[i - 1]);
  return gap;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

export async function main(): Promise<void> {
  const emb = await embedded();
  const raft = await measure(emb).finally(() => emb.stop());
  const e = await etcd();
  let ext: Record<string, number>;
  const handovers: number[] = [];
  try {
    ext = await measure(e);
    for (let i = 0; i < TRIALS; i++) {
      handovers.push(await handover(e.cluster.endpoints));
      console.log(`etcd: manager handover after kill -9, trial ${i + 1}: ${handovers.at(-1)} ms`);
    }
    ext.etcd_leader_kill_write_gap_ms = await etcdLeaderKill(e);
    console.log(`etcd: longest pause in acknowledged writes when etcd's leader is killed: ${ext.etcd_leader_kill_write_gap_ms} ms`);
  } finally {
    await e.stop();
  }
  // etcd's shortest lease is 1.5 election timeouts rounded up to a second: 2 s at its default
  // 1 s election timeout, 1 s at 500 ms. The handover follows the lease.
  const tuned = await EtcdCluster.start({ heartbeatMs: 50, electionMs: 500 });
  const tunedHandovers: number[] = [];
  try {
    for (let i = 0; i < TRIALS; i++) {
      tunedHandovers.push(await handover(tuned.endpoints));
      console.log(`etcd (--election-timeout=500): manager handover after kill -9, trial ${i + 1}: ${tunedHandovers.at(-1)} ms`);
    }
  } finally {
    await tuned.stop();
  }
  console.log(
    JSON.stringify({
      embedded_creates_c1: raft.creates_c1,
      embedded_creates_c16: raft.creates_c16,
      embedded_txn_c64: raft.txn_c64,
      embedded_converge_1000_ms: raft.converge_ms,
      etcd_creates_c1: ext.creates_c1,
      etcd_creates_c16: ext.creates_c16,
      etcd_txn_c64: ext.txn_c64,
      etcd_raw_txn_c64: ext.raw_txn_c64,
      etcd_converge_1000_ms: ext.converge_ms,
      etcd_handover_median_ms: median(handovers),
      etcd_handover_max_ms: Math.max(...handovers),
      etcd_tuned_handover_median_ms: median(tunedHandovers),
      etcd_tuned_handover_max_ms: Math.max(...tunedHandovers),
      etcd_leader_kill_write_gap_ms: ext.etcd_leader_kill_write_gap_ms,
      ratio_creates_c1: ratio(ext.creates_c1, raft.creates_c1),
      ratio_creates_c16: ratio(ext.creates_c16, raft.creates_c16),
      ratio_txn_c64: ratio(ext.txn_c64, raft.txn_c64),
      ratio_txn_c64_to_raw_etcd: ratio(ext.txn_c64, ext.raw_txn_c64),
      ratio_converge: ratio(ext.converge_ms, raft.converge_ms),
    }),
  );
}
