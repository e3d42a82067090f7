// Raft bench: a 3-member Shoal cluster (kv-server processes, WAL with fsync) against a 3-member
// etcd 3.4 cluster, driven by the same client harness. Measures 256-byte write throughput at 1,
// 16 and 256 in flight, and failover (leader kill -9 → first successful write) over 20 trials.
// Needs a build (npm run build:ts) and /usr/bin/etcd. Last line: one JSON object of figures.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { Cluster, freePort, sleep } from "../test/support/raft/cluster.js";

interface Target {
  name: string;
  put(key: string, value: Buffer, timeoutMs: number): Promise<void>;
  /** Index (0..2) of the current leader, waiting until one is known. */
  leader(): Promise<number>;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

const VALUE = Buffer.alloc(256, 0x61);
const THROUGHPUT_MS = Number(process.env.RAFT_BENCH_MS ?? 3000);
const TRIALS = Number(process.env.RAFT_BENCH_TRIALS ?? 20);

async function throughput(t: Target, inFlight: number): Promise<number> {
  let done = 0;
  let n = 0;
  const end = Date.now() + THROUGHPUT_MS;
  const start = Date.now();
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
  return Math.round((done * 1000) / (Date.now() - start));
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
  };
}

async function measure(make: () => Promise<Target>): Promise<Record<string, number>> {
  const t = await make();
  try {
    const out: Record<string, number> = {};
    for (const c of [1, 16, 256]) {
      out[`ops_c${c}`] = await throughput(t, c);
      console.log(`${t.name}: ${out[`ops_c${c}`]} writes/s at ${c} in flight`);
    }
    const times: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      times.push(await failoverTrial(t));
      console.log(`${t.name}: failover trial ${i + 1}: ${times.at(-1)} ms`);
    }
    out.failover_median_ms = median(times);
    out.failover_max_ms = Math.max(...times);
    return out;
  } finally {
    await t.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  // `-- raft etcd` or `-- raft shoal` measures one side only (for debugging; no ratios then).
  if (args[0] === "etcd" || args[0] === "shoal") {
    console.log(JSON.stringify(await measure(args[0] === "etcd" ? etcdTarget : shoalTarget)));
    return;
  }
  const shoal = await measure(shoalTarget);
  const etcd = await measure(etcdTarget);
  const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const result = {
    ...shoal,
    etcd_ops_c1: etcd.ops_c1,
    etcd_ops_c16: etcd.ops_c16,
    etcd_ops_c256: etcd.ops_c256,
    etcd_failover_median_ms: etcd.failover_median_ms,
    etcd_failover_max_ms: etcd.failover_max_ms,
    ratio_ops_c1: r(shoal.ops_c1, etcd.ops_c1),
    ratio_ops_c16: r(shoal.ops_c16, etcd.ops_c16),
    ratio_ops_c256: r(shoal.ops_c256, etcd.ops_c256),
    ratio_failover_median: r(shoal.failover_median_ms, etcd.failover_median_ms),
  };
  console.log(JSON.stringify(result));
}
