// A private daemon for one test file: temp data/exec roots and socket, the real CLI from dist/,
// and the check that nothing it made is left on the host afterwards.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { DAEMON_NODE_FLAGS } from "../../../agent/daemon/node-flags.js";
import { daemonNames, type DaemonNames } from "../../../agent/network/names.js";

/** The Node CLI, which also runs the daemon. */
export const NODE_CLI = join(process.cwd(), "dist/cli/main.js");
/** The `shoal` an operator runs: the native client (it hands what it does not do to the Node
 * CLI). SHOAL_CLI overrides, e.g. SHOAL_CLI=dist/cli/main.js to test the Node CLI alone. */
export const CLI = process.env.SHOAL_CLI ?? join(process.cwd(), "native/build/shoal");

/** The command line that runs `shoal ARGS...` with CLI. */
export function shoalCommand(args: string[]): [string, string[]] {
  return CLI.endsWith(".js") ? ["node", [CLI, ...args]] : [CLI, args];
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export class TestDaemon {
  readonly root = mkdtempSync("/tmp/shoal-it-");
  readonly dataRoot = join(this.root, "data");
  readonly execRoot = join(this.root, "exec");
  readonly socket = join(this.root, "shoal.sock");
  readonly names: DaemonNames = daemonNames(this.dataRoot);
  proc?: ChildProcess;
  log = "";

  get host(): string {
    return `unix://${this.socket}`;
  }

  async start(): Promise<void> {
    for (const f of [CLI, NODE_CLI]) if (!existsSync(f)) throw new Error(`${f} missing: build first with npm run build`);
    const p = spawn("node", [...DAEMON_NODE_FLAGS, NODE_CLI, "daemon", "--data-root", this.dataRoot, "--exec-root", this.execRoot, "--socket", this.socket], { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout!.on("data", (d: Buffer) => (this.log += d));
    p.stderr!.on("data", (d: Buffer) => (this.log += d));
    this.proc = p;
    const deadline = Date.now() + 30_000;
    while (!(await this.answers())) {
      if (p.exitCode !== null) throw new Error(`daemon exited ${p.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`daemon did not come up: ${this.log}`);
      await sleep(100);
    }
  }

  private async answers(): Promise<boolean> {
    if (!existsSync(this.socket)) return false;
    return (await this.shoal("version")).code === 0;
  }

  /** Ends the daemon: SIGKILL (a crash) or SIGTERM (a clean shutdown). */
  async stop(signal: "SIGKILL" | "SIGTERM" = "SIGTERM"): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  }

  shoal(...args: string[]): Promise<Result> {
    const [file, argv] = shoalCommand(args);
    return run(file, argv, { SHOAL_HOST: this.host });
  }

  /** Everything of this daemon's still on the host (empty when clean). */
  leftovers(): string[] {
    const out: string[] = [];
    const netns = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(this.names.netnsPrefix)) : [];
    out.push(...netns.map((n) => `netns ${n}`));
    const mounts = execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(this.root));
    out.push(...mounts.map((m) => `mount ${m}`));
    for (const ctl of readdirSync("/sys/fs/cgroup")) {
      const dir = join("/sys/fs/cgroup", ctl, this.names.cgroupParent);
      if (existsSync(dir)) out.push(`cgroup ${dir}`);
    }
    const links = execFileSync("ip", ["-o", "link"], { encoding: "utf8" });
    if (links.includes(`master ${this.names.bridge}`)) out.push(`veth on ${this.names.bridge}`);
    if (links.includes(` ${this.names.bridge}:`)) out.push(`bridge ${this.names.bridge}`);
    const tables = execFileSync("nft", ["list", "tables"], { encoding: "utf8" });
    if (tables.includes(`inet ${this.names.nftTable}\n`) || tables.endsWith(`inet ${this.names.nftTable}`)) out.push(`nft table ${this.names.nftTable}`);
    return out;
  }

  /**
   * leftovers(), once it equals `expected` or `ms` have passed. A failed start deletes its
   * container's netns before the CLI returns, but the kernel destroys the veth inside it (and so
   * the host end on the bridge) in its deferred netns cleanup, 2-35 ms later even on an idle
   * host: that is not something left behind, a leak is what is still there seconds later. The
   * last reading is returned (not thrown, as until() would) so the assertion shows what is left.
   */
  async leftoversSettled(expected: string[], ms = 5000): Promise<string[]> {
    const end = Date.now() + ms;
    for (;;) {
      const now = this.leftovers();
      if (JSON.stringify(now) === JSON.stringify(expected) || Date.now() > end) return now;
      await sleep(50);
    }
  }

  async destroy(): Promise<string[]> {
    const ids = (await this.shoal("ps", "-aq")).stdout.split("\n").filter(Boolean);
    if (ids.length) await this.shoal("rm", "-f", ...ids);
    await this.stop("SIGTERM");
    const left = this.leftovers();
    rmSync(this.root, { recursive: true, force: true });
    return left;
  }
}

export function run(file: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const p = spawn(file, args, { env: { ...process.env, ...env }, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d: Buffer) => (stdout += d));
    p.stderr!.on("data", (d: Buffer) => (stderr += d));
    if (input !== undefined) p.stdin!.end(input);
    p.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
