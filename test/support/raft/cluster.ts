// Runs kv-server members as real processes on loopback for tests and the bench: free ports, temp
// data dirs, kill -9 and restart by PID, and a gRPC client that finds the leader.
import { spawn, type ChildProcess } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { request, type Agent } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Role } from "../../../manager/raft/core/index.js";
import type { RaftNodeStatus } from "../../../manager/raft/node.js";
import { TestKvClient, type PutResponse } from "../../../proto/gen/raft_test_kv.js";

export const KV_SERVER = join(process.cwd(), "dist/test/support/raft/kv-server.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class Member {
  proc?: ChildProcess;
  log = "";
  exit?: Promise<number | null>;
  constructor(
    readonly id: number,
    readonly dataDir: string,
    readonly raft: string,
    readonly client: string,
    private readonly extraArgs: string[],
    private readonly env: Record<string, string> = {},
    private readonly nodeArgs: string[] = [],
  ) {}

  /** `peers` bootstraps a new cluster; `join` names an existing one's members. */
  start(peers?: string, join?: string): void {
    const args = [...this.nodeArgs, KV_SERVER, "--id", String(this.id), "--data", this.dataDir, "--raft", this.raft, "--client", this.client, ...this.extraArgs];
    if (peers) args.push("--peers", peers);
    if (join) args.push("--join", join);
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...this.env } });
    p.stdout!.on("data", (d: Buffer) => (this.log += d));
    p.stderr!.on("data", (d: Buffer) => (this.log += d));
    this.exit = new Promise((resolve) => p.once("exit", (code) => resolve(code)));
    this.proc = p;
  }

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.alive) return;
    this.proc!.kill(signal);
    await this.exit;
  }
}

export interface ClusterOptions {
  size: number;
  /** Extra kv-server arguments for every member (e.g. --snapshot-interval). */
  args?: string[];
  env?: Record<string, string>;
  /** Extra node flags for every member (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

export class Cluster {
  readonly root = mkdtempSync(join(tmpdir(), "shoal-raft-"));
  readonly members: Member[] = [];
  readonly client: KvClient;
  private nextId = 1;

  private constructor(
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly nodeArgs: string[],
  ) {
    this.client = new KvClient(() => this.members.filter((m) => m.alive).map((m) => m.raft));
  }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    if (!existsSync(KV_SERVER)) throw new Error(`${KV_SERVER} missing: build first with npx tsc -p tsconfig.json`);
    const c = new Cluster(opts.args ?? [], opts.env ?? {}, opts.nodeArgs ?? []);
    for (let i = 0; i < opts.size; i++) await c.newMember();
    const peers = c.members.map((m) => `${m.id}=${m.raft}/${m.client}`).join(",");
    for (const m of c.members) m.start(peers);
    try {
      await c.waitForLeader();
    } catch (err) {
      await c.destroy(); // leave no processes or data dirs behind
      throw err;
    }
    return c;
  }

  async newMember(): Promise<Member> {
    const id = this.nextId++;
    const m = new Member(id, join(this.root, `m${id}`), `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, this.args, this.env, this.nodeArgs);
    this.members.push(m);
    return m;
  }

  /** The members as a --peers/--join list. */
  memberList(): string {
    return this.members.map((m) => `${m.id}=${m.raft}/${m.client}`).join(",");
  }

  member(id: number): Member {
    return this.members.find((m) => m.id === id)!;
  }

  async status(m: Member): Promise<Status | undefined> {
    const r = await httpCall(m.client, "GET", "/status", undefined, 1000).catch(() => undefined);
    return r?.code === 200 ? (JSON.parse(r.body.toString()) as Status) : undefined;
  }

  /** Waits until one live member leads and every live member that knows a leader agrees; returns its id. */
  async waitForLeader(timeoutMs = 20_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.members.filter((m) => m.alive).map((m) => this.status(m)));
      const leaders = statuses.filter((s) => s?.role === Role.Leader);
      if (leaders.length === 1 && statuses.every((s) => s && (s.leader === leaders[0]!.id || s.leader === 0 && s.term === 0))) return leaders[0]!.id;
      if (Date.now() > end) throw new Error(`no leader within ${timeoutMs} ms: ${JSON.stringify(statuses)}\n${this.logs()}`);
      await sleep(50);
    }
  }

  /** Waits until every live member has applied the same index and holds the same data. */
  async waitConverged(timeoutMs = 30_000): Promise<Record<string, string>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const live = this.members.filter((m) => m.alive);
      const dumps = await Promise.all(live.map((m) => httpCall(m.client, "GET", "/dump", undefined, 5000).then((r) => r.body.toString()).catch(() => "")));
      if (dumps[0] && dumps.every((d) => d === dumps[0])) return JSON.parse(dumps[0]) as Record<string, string>;
      if (Date.now() > end) {
        const st = await Promise.all(live.map((m) => this.status(m)));
        throw new Error(`members did not converge within ${timeoutMs} ms: ${JSON.stringify(st)} (keys: ${dumps.map((d) => Object.keys(JSON.parse(d || "{}")).length)})\n${this.logs()}`);
      }
      await sleep(100);
    }
  }

  /** An admin call at the leader, following leadership changes until `timeoutMs`. */
  async atLeader(method: string, path: string, timeoutMs = 60_000): Promise<{ code: number; body: string }> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.member(await this.waitForLeader());
      const r = await this.client.admin(leader.client, method, path, Math.max(1000, end - Date.now())).catch((e: Error) => ({ code: 0, body: e.message }));
      if (r.code === 200 || Date.now() > end) return r;
      await sleep(50);
    }
  }

  logs(): string {
    return this.members.map((m) => `--- member ${m.id}\n${m.log.slice(-3000)}`).join("\n");
  }

  async destroy(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    this.client.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A member's /status answer: the node's own status, and its worst event-loop stall. */
export type Status = RaftNodeStatus & { maxLoopDelayMs: number };

/** Writes with a deadline over gRPC (one connection per member), following not-leader answers to the leader and retrying elsewhere on failure. */
export class KvClient {
  private leader?: string;
  private readonly channels = new Map<string, TestKvClient>();

  /** `addresses` lists the live members' Raft (cluster) ports, where TestKv is served. */
  constructor(private readonly addresses: () => string[]) {}

  async put(key: string, value: Buffer | string, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const bytes = Buffer.from(value);
    let i = 0;
    for (;;) {
      const addrs = this.addresses();
      const target = this.leader ?? addrs[i++ % Math.max(1, addrs.length)];
      const left = end - Date.now();
      if (left <= 0) throw new Error(`put ${key}: no success within ${timeoutMs} ms`);
      if (!target) {
        await sleep(10); // no member up right now
        continue;
      }
      try {
        const r = await this.call(target, key, bytes, Math.min(left, 2000));
        if (!r.notLeader && !r.error) {
          this.leader = target;
          return;
        }
        this.leader = r.notLeader && r.leaderAddress ? r.leaderAddress : undefined;
        if (!this.leader) await sleep(5);
      } catch {
        this.leader = undefined;
        await sleep(5);
      }
    }
  }

  private call(address: string, key: string, value: Buffer, timeoutMs: number): Promise<PutResponse> {
    let c = this.channels.get(address);
    if (!c) {
      c = new TestKvClient(address, grpc.credentials.createInsecure(), { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1000 });
      this.channels.set(address, c);
    }
    return new Promise((resolve, reject) => c.put({ key, value }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, r) => (err ? reject(err) : resolve(r))));
  }

  /** One call to a given member, for membership changes and other admin requests. */
  async admin(address: string, method: string, path: string, timeoutMs = 60_000): Promise<{ code: number; body: string }> {
    const r = await httpCall(address, method, path, undefined, timeoutMs);
    return { code: r.code, body: r.body.toString() };
  }

  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}

export function httpCall(address: string, method: string, path: string, body: Buffer | undefined, timeoutMs: number, agent?: Agent): Promise<{ code: number; body: Buffer }> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method, path, agent, timeout: timeoutMs, headers: body ? { "content-length": body.length } : {} }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ code: res.statusCode!, body: Buffer.concat(parts) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${address}${path}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
