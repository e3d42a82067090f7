// A real etcd cluster (Debian's /usr/bin/etcd) on loopback for tests and benches: free ports,
// temp data dirs, kill -9 and restart of one member by its PID, and cleanup even when a test
// fails or the process exits early. Only the PIDs this module started are ever signalled.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { freePort } from "./raft/cluster.js";

export const ETCD_BIN = "/usr/bin/etcd";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface EtcdClusterOptions {
  size?: number;
  /** etcd's Raft heartbeat and election timeout (ms). Shorter than etcd's defaults (100/1000) so
   * leader failover is quick, and so the shortest lease etcd grants is 1 s instead of 2 s. */
  heartbeatMs?: number;
  electionMs?: number;
  /** Serve clients over TLS with these PEM files, and require client certificates signed by the CA. */
  tls?: { caFile: string; certFile: string; keyFile: string };
}

class EtcdMember {
  proc?: ChildProcess;
  private exited?: Promise<void>;
  /** The tail of its output, for a failing test's message. */
  log = "";

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    private readonly args: string[],
  ) {}

  start(): void {
    const p = spawn(ETCD_BIN, this.args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8000));
    p.stdout!.on("data", keep);
    p.stderr!.on("data", keep);
    this.exited = new Promise((r) => p.once("exit", () => r()));
    this.proc = p;
    running.add(p);
    p.once("exit", () => running.delete(p));
  }

  get alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.alive ? this.proc!.pid : undefined;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.alive) return;
    this.proc!.kill(signal);
    await this.exited;
  }
}

// Every etcd this process started and has not seen exit, and every data dir not yet removed:
// cleaned up on exit, whatever ends the run.
const running = new Set<ChildProcess>();
const roots = new Set<string>();
function cleanUp(): void {
  for (const p of running) p.kill("SIGKILL");
  for (const r of roots) rmSync(r, { recursive: true, force: true });
}
process.once("exit", cleanUp);
// A signal ends the process without "exit": clean up, then die of the same signal.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    cleanUp();
    process.kill(process.pid, sig);
  });
}

export class EtcdCluster {
  private readonly status: Etcd3[];

  private constructor(
    readonly root: string,
    readonly members: EtcdMember[],
    tls?: EtcdClusterOptions["tls"],
  ) {
    const credentials = tls && { rootCertificate: readFileSync(tls.caFile), certChain: readFileSync(tls.certFile), privateKey: readFileSync(tls.keyFile) };
    this.status = members.map((m) => new Etcd3({ hosts: m.clientUrl, credentials }));
  }

  /** Starts `size` members (3 by default) and waits until they have a leader. */
  static async start(o: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    if (!existsSync(ETCD_BIN)) throw new Error(`${ETCD_BIN} not found: install etcd-server (scripts/setup.sh does)`);
    const size = o.size ?? 3;
    const root = mkdtempSync(join(tmpdir(), "shoal-etcd-"));
    roots.add(root);
    const token = `shoal-test-${process.pid}-${Date.now()}`;
    const scheme = o.tls ? "https" : "http";
    const urls = await Promise.all(Array.from({ length: size }, async () => ({ client: `${scheme}://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` })));
    const tlsArgs = o.tls ? ["--cert-file", o.tls.certFile, "--key-file", o.tls.keyFile, "--trusted-ca-file", o.tls.caFile, "--client-cert-auth"] : [];
    const initialCluster = urls.map((u, i) => `e${i + 1}=${u.peer}`).join(",");
    const members = urls.map((u, i) => {
      const name = `e${i + 1}`;
      const dataDir = join(root, name);
      const args = [
        "--name", name,
        "--data-dir", dataDir,
        "--listen-client-urls", u.client,
        "--advertise-client-urls", u.client,
        "--listen-peer-urls", u.peer,
        "--initial-advertise-peer-urls", u.peer,
        "--initial-cluster", initialCluster,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", token,
        "--heartbeat-interval", String(o.heartbeatMs ?? 50),
        "--election-timeout", String(o.electionMs ?? 500),
        "--logger", "zap",
        "--log-level", "warn",
        ...tlsArgs,
      ];
      return new EtcdMember(name, u.client, u.peer, dataDir, args);
    });
    const c = new EtcdCluster(root, members, o.tls);
    try {
      for (const m of members) m.start();
      await c.leader(30_000);
    } catch (err) {
      const logs = members.map((m) => `${m.name}: ${m.log.split("\n").slice(-3).join(" | ")}`).join("\n");
      await c.stop();
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
    return c;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Index of the member that leads now, waiting until one does. */
  async leader(timeoutMs = 15_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      for (let i = 0; i < this.members.length; i++) {
        if (!this.members[i].alive) continue;
        const s = await this.status[i].maintenance.status({ deadline: Date.now() + 500 }).catch(() => undefined);
        if (s && s.leader !== "0" && s.leader === s.header.member_id) return i;
      }
      await sleep(50);
    }
    throw new Error(`etcd: no leader within ${timeoutMs} ms`);
  }

  /** kill -9 of one member's process (by its PID). */
  kill(i: number): Promise<void> {
    return this.members[i].kill("SIGKILL");
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) one member: cut off without a closed connection. */
  pause(i: number, paused = true): void {
    if (this.members[i].alive) process.kill(this.members[i].pid!, paused ? "SIGSTOP" : "SIGCONT");
  }

  /** Starts a killed member again on its data dir; it rejoins as a follower. */
  restart(i: number): void {
    if (!this.members[i].alive) this.members[i].start();
  }

  /** Kills every member and removes the data dirs. Safe to call twice. */
  async stop(): Promise<void> {
    for (const s of this.status) s.close();
    await Promise.all(this.members.map((m) => m.kill("SIGKILL")));
    rmSync(this.root, { recursive: true, force: true });
    roots.delete(this.root);
  }
}
