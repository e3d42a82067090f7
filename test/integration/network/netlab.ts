// Hosts and containers as network namespaces for the overlay tests: an underlay switch (a bridge
// in its own namespace), hosts with an address on it and the real data plane running inside
// (host-agent.ts), an outside client on the same switch, and containers as bare namespaces whose
// processes are host binaries (busybox httpd, curl) run with `ip netns exec`. Everything carries
// one prefix and is removed by cleanup(), also after a failed test.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const AGENT = join(process.cwd(), "dist/test/integration/network/host-agent.js");

export function sh(cmd: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(cmd[0], cmd.slice(1), { input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout ?? "", err: r.stderr ?? "" };
}

function must(cmd: string[]): string {
  const r = sh(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.err.trim() || `exit ${r.code}`}`);
  return r.out;
}

/** The data plane of one host, in its own process inside the host's namespace. */
export class HostAgent {
  private readonly proc: ChildProcess;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = "";

  constructor(netns: string) {
    this.proc = spawn("ip", ["netns", "exec", netns, process.execPath, AGENT], { stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.proc.stdout! }).on("line", (line) => {
      const m = JSON.parse(line) as { id: number; result?: unknown; error?: string };
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
    });
    this.proc.on("exit", () => {
      for (const w of this.waiting.values()) w.reject(new Error(`host agent exited: ${this.stderr.trim()}`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.stdin!.write(JSON.stringify({ id, op, args }) + "\n");
    });
  }

  /** Ends the process at once, as a crash or a power cut would. */
  kill(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      this.proc.once("exit", () => resolve());
      this.proc.kill("SIGKILL");
    });
  }
}

export interface Host {
  name: string;
  netns: string;
  ip: string;
  agent: HostAgent;
  stateFile: string;
}

export class NetLab {
  readonly prefix: string;
  readonly net: string;
  readonly dir: string;
  readonly hosts: Host[] = [];
  readonly client: string;
  readonly clientIp: string;
  private readonly procs: ChildProcess[] = [];

  constructor(hostCount: number) {
    if (!existsSync(AGENT)) throw new Error(`${AGENT} is missing: build first (npx tsc -p tsconfig.json)`);
    const tag = String(process.pid % 1000).padStart(3, "0");
    this.prefix = `t6n${tag}`;
    // 198.18.0.0/15 is for benchmarks: nothing real lives there. Only these namespaces see it.
    this.net = `198.18.${process.pid % 250}`;
    NetLab.removeLeftovers(this.prefix);
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    this.client = `${this.prefix}-cl`;
    this.clientIp = `${this.net}.100`;
    try {
      this.build(hostCount);
    } catch (e) {
      // Half a lab is removed as a whole one would be.
      NetLab.removeLeftovers(this.prefix);
      rmSync(this.dir, { recursive: true, force: true });
      throw e;
    }
  }

  private build(hostCount: number): void {
    const sw = `${this.prefix}-sw`;
    must(["ip", "netns", "add", sw]);
    must(["ip", "-n", sw, "link", "add", "sw", "type", "bridge"]);
    must(["ip", "-n", sw, "link", "set", "sw", "up"]);
    const plug = (netns: string, port: string, ip: string) => {
      must(["ip", "netns", "add", netns]);
      must(["ip", "-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw]);
      must(["ip", "-n", sw, "link", "set", port, "master", "sw", "up"]);
      must(["ip", "-n", netns, "addr", "add", `${ip}/24`, "dev", "eth0"]);
      must(["ip", "-n", netns, "link", "set", "eth0", "up"]);
      must(["ip", "-n", netns, "link", "set", "lo", "up"]);
    };
    for (let i = 1; i <= hostCount; i++) {
      const netns = `${this.prefix}-h${i}`;
      const ip = `${this.net}.${i}`;
      plug(netns, `p${i}`, ip);
      this.hosts.push({ name: `h${i}`, netns, ip, agent: new HostAgent(netns), stateFile: join(this.dir, `h${i}.json`) });
    }
    plug(this.client, "pcl", this.clientIp);
  }

  /** Starts (or restarts) a host's data plane from its state file. */
  async open(h: Host, upstreamPort = 5300): Promise<void> {
    await h.agent.call("open", { localIp: h.ip, stateFile: h.stateFile, upstreams: [{ host: "127.0.0.1", port: upstreamPort }] });
  }

  /** Kills the host's agent and starts a new one (its data plane is not opened yet). */
  async restartAgent(h: Host): Promise<void> {
    await h.agent.kill();
    h.agent = new HostAgent(h.netns);
  }

  /** A container: a bare network namespace; `nameserver` goes to its resolv.conf (what `ip netns exec` shows it). */
  container(name: string, nameserver?: string): string {
    const netns = `${this.prefix}-${name}`;
    must(["ip", "netns", "add", netns]);
    must(["ip", "-n", netns, "link", "set", "lo", "up"]);
    if (nameserver) this.resolvConf(netns, nameserver);
    return netns;
  }

  resolvConf(netns: string, nameserver: string): void {
    mkdirSync(`/etc/netns/${netns}`, { recursive: true });
    writeFileSync(`/etc/netns/${netns}/resolv.conf`, `nameserver ${nameserver}\noptions timeout:1 attempts:2\n`);
  }

  netnsPath = (netns: string): string => `/run/netns/${netns}`;

  /** Runs a command in a namespace and waits for it. */
  exec(netns: string, cmd: string[]): { code: number; out: string; err: string } {
    return sh(["ip", "netns", "exec", netns, ...cmd]);
  }

  /** Starts a long-running command in a namespace (stopped by cleanup). */
  spawn(netns: string, cmd: string[], logFile: string): ChildProcess {
    const p = spawn("sh", ["-c", `exec ip netns exec ${netns} "$@" >>${logFile} 2>&1`, "sh", ...cmd], { stdio: "ignore" });
    this.procs.push(p);
    return p;
  }

  /** busybox httpd serving `body` on port 80, logging each client's address to the returned file. */
  httpd(netns: string, body: string): string {
    const root = join(this.dir, `${netns}-www`);
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "index.html"), body);
    const log = join(this.dir, `${netns}-httpd.log`);
    writeFileSync(log, "");
    this.spawn(netns, ["busybox", "httpd", "-f", "-vv", "-p", "80", "-h", root], log);
    return log;
  }

  /** GET through curl in the namespace: the body, or undefined when it failed. */
  get(netns: string, url: string): string | undefined {
    const r = this.exec(netns, ["curl", "-s", "--max-time", "2", url]);
    return r.code === 0 ? r.out : undefined;
  }

  /** IPv4 addresses a name resolves to inside the namespace (glibc, through its resolv.conf). */
  resolve(netns: string, name: string): string[] {
    const r = this.exec(netns, ["getent", "ahostsv4", name]);
    if (r.code !== 0) return [];
    return [...new Set(r.out.split("\n").filter(Boolean).map((l) => l.split(/\s+/)[0]))].sort();
  }

  async cleanup(): Promise<void> {
    for (const h of this.hosts) await h.agent.kill();
    for (const p of this.procs) if (p.exitCode === null) p.kill("SIGKILL");
    NetLab.removeLeftovers(this.prefix);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Deletes every namespace with the prefix, killing what runs inside, and their resolv.conf dirs. */
  static removeLeftovers(prefix: string): void {
    const names = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(`${prefix}-`)) : [];
    for (const n of names) {
      const pids = sh(["ip", "netns", "pids", n]).out.split("\n").filter(Boolean);
      if (pids.length > 0) sh(["kill", "-9", ...pids]);
      sh(["ip", "netns", "del", n]);
    }
    if (existsSync("/etc/netns")) for (const n of readdirSync("/etc/netns")) if (n.startsWith(`${prefix}-`)) rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
  }
}
