// Raft bench: a 3-member Shoal cluster (kv-server processes, WAL with fsync) against a 3-member
// etcd 3.4 cluster, driven by the same client harness. Measures 256-byte write throughput at 1,
// 16 and 256 in flight, and failover (leader kill -9 → first successful write) over 20 trials.
// Throughput goes to the leader over one gRPC connection on both sides (Shoal's TestKv.Put, etcd's
// KV.Put), through one lean HTTP/2 gRPC client (test/support/raft/grpc-put.ts) that sends both the
// same bytes; RAFT_BENCH_CLIENT=grpc-js uses grpc-js clients instead (TestKvClient, etcd3), whose
// own CPU bounded both sides on 2 cores. etcd is also measured with etcd3 spread over all members, as before
// (etcd_any_ops_*), where two writes in three are forwarded by a follower. Failover writes go
// through clients that know every member. Both clusters run throughout and are measured
// alternately, so load on the (shared) machine moves both alike; each figure is the median of
// RAFT_BENCH_ROUNDS rounds. The CPU each write costs the members and the client is reported too:
// on a machine with few cores the client's gRPC calls are a large share. Needs a build
// (npm run build:ts) and /usr/bin/etcd. Last line: one JSON object of figures.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { Cluster, freePort, sleep } from "../test/support/raft/cluster.js";
import { GrpcPut } from "../test/support/raft/grpc-put.js";
import { PutResponse } from "../proto/gen/raft_test_kv.js";

interface Target {
  name: string;
  /** A write through a client that knows every member (it follows leader changes). */
  put(key: string, value: Buffer, timeoutMs: number): Promise<void>;
  /** A writer over one connection to the current leader, for throughput; closed after use. */
  leaderWriter(): Promise<{ put: Target["put"]; close(): void }>;
  /** Index (0..2) of the current leader, waiting until one is known. */
  leader(): Promise<number>;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
  /** PIDs of the running members, for CPU accounting. */
  pids(): number[];
}

const VALUE = Buffer.alloc(256, 0x61);
const THROUGHPUT_MS = Number(process.env.RAFT_BENCH_MS ?? 3000);
const TRIALS = Number(process.env.RAFT_BENCH_TRIALS ?? 20);
/** The throughput client: "h2" (default) is GrpcPut for both sides; "grpc-js" is each side's grpc-js client (TestKvClient, etcd3), as the bench did before. */
const CLIENT = process.env.RAFT_BENCH_CLIENT ?? "h2";

/** CPU time (µs) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return 0;
  }
}

interface Throughput {
  ops: number;
  /** CPU per write of the three members together, and of this (client) process. */
  serverCpuUs: number;
  clientCpuUs: number;
}

async function throughput(t: Pick<Target, "put">, inFlight: number, pids: number[], ms = THROUGHPUT_MS): Promise<Throughput> {
  let done = 0;
  let n = 0;
  const end = Date.now() + ms;
  const start = Date.now();
  const serverBefore = pids.map(cpuMicros);
  const clientBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        try {
          await t.put(`bench-${inFlight}-${n++ % 10000}`, VALUE, 5000);
          done++;
        } catch {
          // counted as not done
        }
      }
    }),
  );
  const client = process.cpuUsage(clientBefore);
  const server = pids.reduce((sum, pid, i) => sum + cpuMicros(pid) - serverBefore[i]!, 0);
  const per = (us: number) => Math.round(us / Math.max(1, done));
  return { ops: Math.round((done * 1000) / (Date.now() - start)), serverCpuUs: per(server), clientCpuUs: per(client.user + client.system) };
}

/** One write every 10 ms; kill -9 the leader; ms from the kill to the first write that succeeds. */
async function failoverTrial(t: Target): Promise<number> {
  const victim = await t.leader();
  let killedAt = 0;
  let firstOk = 0;
  let stop = false;
  const inflight: Promise<void>[] = [];
  const ticker = (async () => {
    let i = 0;
    while (!stop) {
      const issuedAfterKill = killedAt > 0;
      inflight.push(
        t.put(`fo-${i++}`, VALUE, 3000).then(
          () => {
            if (issuedAfterKill && !firstOk) firstOk = Date.now();
          },
          () => {},
        ),
      );
      await sleep(10);
    }
  })();
  await sleep(200);
  killedAt = Date.now();
  await t.kill(victim);
  const deadline = Date.now() + 15_000;
  while (!firstOk && Date.now() < deadline) await sleep(5);
  stop = true;
  await ticker;
  await Promise.all(inflight);
  await t.restart(victim);
  return firstOk ? firstOk - killedAt : 15_000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---- Shoal ----

async function shoalTarget(): Promise<Target> {
  const c = await Cluster.start({ size: 3 });
  return {
    name: "shoal",
    put: (k, v, ms) => c.client.put(k, v, ms),
    async leaderWriter() {
      const id = await c.waitForLeader();
      if (CLIENT === "grpc-js") return { put: (k, v, ms) => c.client.put(k, v, ms), close: () => {} };
      const one = new GrpcPut(c.member(id).raft, "/shoal.raft.testkv.TestKv/Put");
      return {
        put: async (k, v, ms) => {
          const r = PutResponse.decode(await one.put(k, v, ms));
          if (r.notLeader || r.error) throw new Error(r.error || "not the leader");
        },
        close: () => one.close(),
      };
    },
    async leader() {
      const id = await c.waitForLeader();
      return c.members.findIndex((m) => m.id === id);
    },
    kill: (i) => c.members[i].kill("SIGKILL"),
    async restart(i) {
      c.members[i].start();
      await c.waitForLeader();
      await waitCaughtUp(c);
    },
    stop: () => c.destroy(),
    pids: () => c.members.filter((m) => m.alive).map((m) => m.proc!.pid!),
  };
}

async function waitCaughtUp(c: Cluster): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const st = await Promise.all(c.members.map((m) => c.status(m)));
    if (st.every((s) => s && s.applied >= st[0]!.commit - 10)) return;
    await sleep(20);
  }
}

// ---- the floor: no Raft, only the disk and HTTP/2 a replicated write needs (bench/support/raft-floor.ts) ----

async function floorTarget(): Promise<Target> {
  const root = mkdtempSync(join(tmpdir(), "shoal-bench-floor-"));
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const script = join(import.meta.dirname, "support", "raft-floor.js");
  const procs: ChildProcess[] = [];
  // Followers first: the leader opens its streams to them as it starts.
  for (const i of [2, 1, 0]) {
    const p = spawn(process.execPath, [script, "--port", String(ports[i]), "--dir", join(root, `m${i}`), ...(i === 0 ? ["--followers", `${ports[1]},${ports[2]}`] : [])], { stdio: ["ignore", "pipe", "inherit"] });
    procs.push(p);
    await new Promise((r) => p.stdout!.once("data", r));
  }
  const unsupported = async (): Promise<never> => {
    throw new Error("the floor has no elections");
  };
  return {
    name: "floor",
    put: unsupported,
    async leaderWriter() {
      const one = new GrpcPut(`127.0.0.1:${ports[0]}`, "/floor/Put");
      return { put: async (k, v, ms) => void (await one.put(k, v, ms)), close: () => one.close() };
    },
    leader: async () => 0,
    kill: unsupported,
    restart: unsupported,
    async stop() {
      for (const p of procs) {
        p.kill("SIGKILL");
        await new Promise((r) => (p.exitCode !== null || p.signalCode ? r(null) : p.once("exit", r)));
      }
      rmSync(root, { recursive: true, force: true });
    },
    pids: () => procs.map((p) => p.pid!),
  };
}

// ---- etcd ----

async function etcdTarget(): Promise<Target> {
  const root = mkdtempSync(join(tmpdir(), "shoal-bench-etcd-"));
  const members = await Promise.all(
    [1, 2, 3].map(async (i) => ({ name: `e${i}`, client: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}`, dir: join(root, `e${i}`), proc: undefined as ChildProcess | undefined })),
  );
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(",");
  const start = (m: (typeof members)[number]) => {
    m.proc = spawn(
      "/usr/bin/etcd",
      ["--name", m.name, "--data-dir", m.dir, "--listen-client-urls", m.client, "--advertise-client-urls", m.client, "--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer, "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", "shoal-bench"],
      { stdio: ["ignore", "ignore", "ignore"] },
    );
  };
  members.forEach(start);
  const client = new Etcd3({ hosts: members.map((m) => m.client) });
  const statusClients = members.map((m) => new Etcd3({ hosts: m.client }));
  const leader = async (): Promise<number> => {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      for (let i = 0; i < 3; i++) {
        if (members[i].proc?.exitCode !== null || members[i].proc?.signalCode) continue;
        const s = await statusClients[i].maintenance.status({ deadline: Date.now() + 500 }).catch(() => undefined);
        if (s && s.leader !== "0" && s.leader === s.header.member_id) return i;
      }
      await sleep(50);
    }
    throw new Error("etcd: no leader within 30 s");
  };
  await leader();
  return {
    name: "etcd",
    put: async (k, v, ms) => {
      await client.put(k).value(v).options({ deadline: Date.now() + ms });
    },
    async leaderWriter() {
      const at = members[await leader()].client;
      if (CLIENT !== "grpc-js") {
        const h2 = new GrpcPut(at.replace("http://", ""), "/etcdserverpb.KV/Put");
        return { put: async (k, v, ms) => void (await h2.put(k, v, ms)), close: () => h2.close() };
      }
      const one = new Etcd3({ hosts: at });
      return {
        put: async (k, v, ms) => {
          await one.put(k).value(v).options({ deadline: Date.now() + ms });
        },
        close: () => one.close(),
      };
    },
    leader,
    async kill(i) {
      const p = members[i].proc!;
      p.kill("SIGKILL");
      await new Promise((r) => (p.exitCode !== null || p.signalCode ? r(null) : p.once("exit", r)));
    },
    async restart(i) {
      start(members[i]);
      await leader();
      await sleep(500);
    },
    async stop() {
      client.close();
      statusClients.forEach((c) => c.close());
      for (const m of members) {
        if (m.proc && m.proc.exitCode === null && !m.proc.signalCode) {
          const p = m.proc;
          p.kill("SIGKILL");
          await new Promise((r) => p.once("exit", r));
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
    pids: () => members.filter((m) => m.proc && m.proc.exitCode === null && !m.proc.signalCode).map((m) => m.proc!.pid!),
  };
}

/** Writes in flight per throughput level (RAFT_BENCH_LEVELS=1,16 narrows it when experimenting). */
const LEVELS = (process.env.RAFT_BENCH_LEVELS ?? "1,16,256").split(",").map(Number);
/** Throughput rounds per level; each round measures Shoal then etcd back to back. */
const ROUNDS = Number(process.env.RAFT_BENCH_ROUNDS ?? 3);
/** Unmeasured writes (16 in flight) to each side first: Shoal's JIT is cold after start (its first round at 1 in flight cost ~1.5× the CPU per write of its third), etcd's Go is not. */
const WARMUP_MS = Number(process.env.RAFT_BENCH_WARMUP_MS ?? 3000);

// Both clusters run for the whole bench and are measured alternately, level by level and trial by
// trial, so a shift in the machine's load (it is shared) moves both sides alike and the ratios hold.
async function measure(targets: Target[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = Object.fromEntries(targets.map((t) => [t.name, {}]));
  const samples = new Map<string, number[]>();
  const sample = (name: string, key: string, v: number) => {
    const k = `${name}/${key}`;
    samples.set(k, [...(samples.get(k) ?? []), v]);
  };
  for (const t of targets) {
    const w = await t.leaderWriter();
    const r = await throughput(w, 16, [], WARMUP_MS);
    w.close();
    console.log(`${t.name}: warm-up, ${r.ops} writes/s at 16 in flight (not counted)`);
  }
  for (const c of LEVELS) {
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const w = await t.leaderWriter();
        const r = await throughput(w, c, t.pids());
        w.close();
        sample(t.name, `ops_c${c}`, r.ops);
        sample(t.name, `server_cpu_us_per_op_c${c}`, r.serverCpuUs);
        sample(t.name, `client_cpu_us_per_op_c${c}`, r.clientCpuUs);
        console.log(`${t.name}: ${r.ops} writes/s at ${c} in flight, to the leader (round ${round + 1}); CPU per write: members ${r.serverCpuUs} µs, client ${r.clientCpuUs} µs`);
      }
      const etcd = targets.find((t) => t.name === "etcd");
      if (etcd && round === 0) {
        const { ops } = await throughput(etcd, c, []);
        sample(etcd.name, `any_ops_c${c}`, ops);
        console.log(`etcd: ${ops} writes/s at ${c} in flight, spread over all members`);
      }
    }
  }
  for (let i = 0; i < TRIALS; i++) {
    for (const t of targets.filter((t) => t.name !== "floor")) {
      const ms = await failoverTrial(t);
      sample(t.name, "failover", ms);
      console.log(`${t.name}: failover trial ${i + 1}: ${ms} ms`);
    }
  }
  for (const [k, v] of samples) {
    const [name, key] = k.split("/") as [string, string];
    if (key === "failover") {
      out[name]!.failover_median_ms = median(v);
      out[name]!.failover_max_ms = Math.max(...v);
    } else {
      out[name]![key] = median(v);
    }
  }
  return out;
}

export async function main(args: string[]): Promise<void> {
  // `-- raft etcd` or `-- raft shoal` measures one side only (for debugging; no ratios then);
  // `-- raft floor` adds the floor (bench/support/raft-floor.ts) beside both, with its ratios to etcd.
  const names = args[0] === "etcd" || args[0] === "shoal" ? [args[0]] : args[0] === "floor" ? ["shoal", "floor", "etcd"] : ["shoal", "etcd"];
  const targets: Target[] = [];
  try {
    for (const n of names) targets.push(await (n === "etcd" ? etcdTarget() : n === "floor" ? floorTarget() : shoalTarget()));
    const m = await measure(targets);
    if (names.length === 1) {
      console.log(JSON.stringify(m[names[0]!]));
      return;
    }
    const shoal = m.shoal!;
    const etcd = m.etcd!;
    const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const result = {
      ...shoal,
      etcd_ops_c1: etcd.ops_c1,
      etcd_ops_c16: etcd.ops_c16,
      etcd_ops_c256: etcd.ops_c256,
      etcd_any_ops_c1: etcd.any_ops_c1,
      etcd_any_ops_c16: etcd.any_ops_c16,
      etcd_any_ops_c256: etcd.any_ops_c256,
      etcd_failover_median_ms: etcd.failover_median_ms,
      etcd_failover_max_ms: etcd.failover_max_ms,
      ...Object.fromEntries(Object.entries(etcd).filter(([k]) => k.includes("cpu_us")).map(([k, v]) => [`etcd_${k}`, v])),
      ratio_ops_c1: r(shoal.ops_c1!, etcd.ops_c1!),
      ratio_ops_c16: r(shoal.ops_c16!, etcd.ops_c16!),
      ratio_ops_c256: r(shoal.ops_c256!, etcd.ops_c256!),
      ratio_failover_median: r(shoal.failover_median_ms!, etcd.failover_median_ms!),
      ...(m.floor
        ? Object.fromEntries(
            LEVELS.flatMap((c) => [
              [`floor_ops_c${c}`, m.floor![`ops_c${c}`]],
              [`floor_server_cpu_us_per_op_c${c}`, m.floor![`server_cpu_us_per_op_c${c}`]],
              [`ratio_floor_ops_c${c}`, r(m.floor![`ops_c${c}`]!, etcd[`ops_c${c}`]!)],
            ]),
          )
        : {}),
    };
    console.log(JSON.stringify(result));
  } finally {
    for (const t of targets) await t.stop();
  }
}
