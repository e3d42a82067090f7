// Shoal as the cluster benches' side: a real lab (lab/lab.ts) of 1 manager and 0 or more workers,
// the `shoal` a user runs (native/build/shoal, which hands what it does not do itself to the Node
// CLI) run on the manager host as a user there would (what `shoal lab exec m1 -- shoal …` runs,
// without lab exec's own node start), as Swarm's side runs the docker binary; profile mode runs
// the Node CLI itself, under the profiler. The Control API is polled from outside through the
// host's socket, as test/e2e/harness.ts does. The lab's registry holds busybox:1 and busybox:2;
// every host pulls both before any figure, as Swarm's nodes have both imported.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { credentials, Metadata, type Client, type ServiceError } from "@grpc/grpc-js";
import { TaskState, type Task } from "../../proto/gen/cluster.js";
import { EngineClient } from "../../proto/gen/engine.js";
import { ControlClient } from "../../proto/gen/swarm.js";
import { HOST_SOCKET, hostRunning, packageRoot, processAlive, shoalDaemon, socketFromOutside, type DaemonCommand } from "../../lab/host.js";
import { bootstrapCluster } from "../../lab/readiness.js";
import { labDown, labUp } from "../../lab/lab.js";
import { mustLoadLab, type LabHost, type LabState } from "../../lab/state.js";
import { PROMPT_STOP, runCli, type CliRun, type Peer, type ServiceOptions, type TaskView } from "./peer.js";

const SHOAL = join(packageRoot(), "native/build/shoal");
const NODE_CLI = join(packageRoot(), "dist/cli/main.js");

/** Swarm's words for Shoal's task states ("TASK_STATE_RUNNING" → "running"). */
const stateWord = (s: TaskState): string => (TaskState[s] ?? String(s)).replace(/^TASK_STATE_/, "").toLowerCase();

type Unary = (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void;
function call<T>(client: Client, method: string, req: unknown, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) =>
    ((client as unknown as Record<string, Unary>)[method]).call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r as T))),
  );
}

export interface ShoalLabOptions {
  /** Profile mode: daemons and CLI runs write V8 CPU profiles under DIR/daemon and DIR/cli. */
  profileDir?: string;
}

/** Node's flags for a profiled process (--cpu-prof is refused in NODE_OPTIONS). */
const profileFlags = (dir?: string): string[] => (dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []);

export class ShoalLab implements Peer {
  readonly name = "shoal" as const;
  private readonly control: ControlClient;
  private readonly engines: EngineClient[];
  private nodeNames: Record<string, string> = {};

  private constructor(
    readonly lab: LabState,
    private readonly profileDir?: string,
  ) {
    this.control = new ControlClient(`unix://${socketFromOutside(this.m1.pid!)}`, credentials.createInsecure());
    this.engines = lab.hosts.map((h) => new EngineClient(`unix://${socketFromOutside(h.pid!)}`, credentials.createInsecure()));
  }

  get nodes(): number {
    return this.lab.hosts.length;
  }

  get m1(): LabHost {
    return this.lab.hosts[0];
  }

  /** A lab of 1 manager and `workers` workers, formed into one swarm, both images pulled on every host. */
  static async up(name: string, workers: number, o: ShoalLabOptions = {}): Promise<ShoalLab> {
    await labDown(name).catch(() => undefined);
    if (!o.profileDir) await labUp({ name, managers: 1, workers, timeoutMs: 120_000 });
    else {
      // The real daemon under the profiler; a lab given its own daemon command leaves forming the swarm to its caller.
      const flags = profileFlags(join(o.profileDir, "daemon"));
      const daemon: DaemonCommand = (lab, h) => [process.execPath, ...flags, ...shoalDaemon(lab, h).slice(1)];
      const lab = await labUp({ name, managers: 1, workers, daemon, timeoutMs: 120_000 });
      await bootstrapCluster(lab);
    }
    const c = new ShoalLab(mustLoadLab(name), o.profileDir);
    try {
      for (const h of c.lab.hosts) {
        for (const img of ["busybox:1", "busybox:2"]) {
          const r = await c.shoalOn(h, "pull", img);
          if (r.code !== 0) throw new Error(`shoal pull ${img} on ${h.name} failed: ${(r.err || r.out).trim()}`);
        }
      }
      const { nodes } = await call<{ nodes: { id: string; description?: { hostname: string } }[] }>(c.control, "listNodes", {});
      c.nodeNames = Object.fromEntries(nodes.map((n) => [n.id, n.description?.hostname ?? n.id]));
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  async stop(): Promise<void> {
    this.control.close();
    for (const e of this.engines) e.close();
    if (this.profileDir) await this.stopDaemons();
    await labDown(this.lab.name);
  }

  /** SIGTERM to each host's daemon (by the PID the lab recorded), so it exits and writes its profile. */
  private async stopDaemons(): Promise<void> {
    for (const h of this.lab.hosts.filter((x) => hostRunning(this.lab, x))) process.kill(h.pid!, "SIGTERM");
    for (let i = 0; i < 300 && this.lab.hosts.some((h) => processAlive(h.pid!)); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** Profile mode: each host's daemon profile (host short name → files), and the CLI runs'. */
  profiles(): { daemons: Record<string, string[]>; cli: string[] } {
    const dir = this.profileDir!;
    const files = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(d, f)) : []);
    const daemons: Record<string, string[]> = {};
    for (const h of this.lab.hosts) daemons[h.name.slice(this.lab.name.length + 1)] = files(join(dir, "daemon")).filter((f) => f.includes(`.${h.pid}.`));
    return { daemons, cli: files(join(dir, "cli")) };
  }

  /**
   * `shoal ARGS` on a lab host: the host's network, mount and UTS namespaces, its socket. The
   * native client finds the Node CLI's `node` on PATH: this process's first.
   */
  shoalOn(h: LabHost, ...args: string[]): Promise<CliRun> {
    const shoal = this.profileDir ? [process.execPath, ...profileFlags(join(this.profileDir, "cli")), NODE_CLI] : [SHOAL];
    const path = `PATH=${dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`;
    return runCli("nsenter", ["--target", String(h.pid), "--net", "--mount", "--uts", "--", "env", `SHOAL_HOST=unix://${HOST_SOCKET}`, path, ...shoal, ...args]);
  }

  shoal(...args: string[]): Promise<CliRun> {
    return this.shoalOn(this.m1, ...args);
  }

  create(service: string, replicas: number, o: ServiceOptions): Promise<CliRun> {
    const flags = ["--replicas", String(replicas)];
    if (o.onManager) flags.push("--constraint", "node.role==manager");
    if (o.restartDelay0) flags.push("--restart-delay", "0s");
    return this.shoal("service", "create", "-d", "--name", service, ...flags, o.image, ...PROMPT_STOP);
  }

  scale(service: string, replicas: number): Promise<CliRun> {
    return this.shoal("service", "scale", "-d", `${service}=${replicas}`);
  }

  update(service: string, image: string, parallelism: number): Promise<CliRun> {
    return this.shoal("service", "update", "-d", "--image", image, "--update-parallelism", String(parallelism), "--update-delay", "0s", service);
  }

  remove(service: string): Promise<CliRun> {
    return this.shoal("service", "rm", service);
  }

  async rawTasks(service: string): Promise<Task[]> {
    return (await call<{ tasks: Task[] }>(this.control, "listTasks", { service, node: "" })).tasks;
  }

  async tasks(service: string): Promise<TaskView[]> {
    return (await this.rawTasks(service)).map((t) => ({
      id: t.id,
      slot: Number(t.slot),
      node: this.nodeNames[t.nodeId] ?? t.nodeId,
      state: stateWord(t.status?.state ?? TaskState.TASK_STATE_NEW),
      desired: stateWord(t.desiredState),
      image: t.spec?.container?.image ?? "",
      pid: t.status?.containerStatus?.pid ?? 0,
      containerId: t.status?.containerStatus?.containerId ?? "",
      createdAt: Number(t.meta?.createdAt ?? 0),
      stateAt: Number(t.status?.timestamp ?? 0),
    }));
  }

  async serviceCreatedAt(service: string): Promise<number> {
    return Number((await call<{ meta?: { createdAt: number } }>(this.control, "getService", { ref: service })).meta?.createdAt ?? 0);
  }

  async containers(): Promise<number> {
    const lists = await Promise.all(this.engines.map((e) => call<{ containers: unknown[] }>(e, "listContainers", { all: true })));
    return lists.reduce((a, l) => a + l.containers.length, 0);
  }

  async containerTimes(node: string, containerId: string): Promise<{ created: number; started: number }> {
    const i = this.lab.hosts.findIndex((h) => h.name === node);
    const c = (await this.inspect(i, containerId)) as unknown as { Created: string; State: { StartedAt: string } };
    return { created: Date.parse(c.Created), started: Date.parse(c.State.StartedAt) };
  }

  /** A container's engine record on the host that runs it (State.StartedAt, FinishedAt…). */
  async inspect(host: number, id: string): Promise<{ State: { StartedAt: string; FinishedAt: string; Pid: number } }> {
    return JSON.parse((await call<{ json: string }>(this.engines[host], "inspectContainer", { id })).json);
  }

  /** CPU ms of each host's daemon (with its reaped children: runtime, ip); shims and containers excluded. */
  cpuMs(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const h of this.lab.hosts) {
      const f = readFileSync(`/proc/${h.pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      out[h.name.slice(this.lab.name.length + 1)] = ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / 100;
    }
    return out;
  }

  rssKiB(host: number): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.lab.hosts[host].pid}/status`, "utf8"))?.[1] ?? 0);
  }
}
