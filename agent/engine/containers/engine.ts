// Container lifecycle: create, start, stop, kill, remove, restart policies, and re-adopting the
// containers an earlier daemon left running. The shim keeps each container alive; this class
// only decides, records, and wires networks and mounts.
import { hostname as osHostname } from "node:os";
import { existsSync, mkdirSync } from "node:fs";
import { makeSpreadDir } from "../store/spread.js";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { EventEmitter } from "node:events";
import type { ChildProcess } from "node:child_process";
import type { ContainerConfig, ExecStart } from "../../../proto/gen/engine.js";
import type { BridgeNetwork } from "../../network/bridge.js";
import { writeEtcFiles } from "../../network/etcfiles.js";
import type { PublishedPort } from "../../network/ports.js";
import { conflict, invalid, precondition } from "../errors.js";
import type { VolumeStore } from "../volumes/store.js";
import { buildRecord, mergeEnv, validateConfig } from "./create.js";
import type { ExitStatus, ImagePort, LaunchMount, RuntimePort } from "./launch.js";
import { generateName, newContainerId, validName } from "./naming.js";
import type { ContainerRecord } from "./record.js";
import { BACKOFF_RESET_MS, restartDelayMs, shouldRestart } from "./restart-policy.js";
import { initHears } from "./signals.js";
import { ensureInitLayer } from "./init-layer.js";
import { ContainerStore } from "./store.js";
import { resolveUser } from "./user.js";

/**
 * Joins containers to networks the engine does not own (a swarm's overlays). Set by their owner;
 * the engine calls it whenever a container's network namespace is made or goes away.
 */
export interface NetworkHook {
  /** The namespace was just made, the process not yet started: attach it. The nameservers its resolv.conf names (none: the host's). */
  attach(rec: ContainerRecord, netnsPath: string): Promise<string[]>;
  /** The container stopped for good or is being removed: its namespace goes. Never throws. */
  detach(rec: ContainerRecord): Promise<void>;
}

export interface EngineDeps {
  dataRoot: string;
  execRoot: string;
  cgroupParent: string;
  runtime: RuntimePort;
  images: ImagePort;
  network: BridgeNetwork;
  volumes: VolumeStore;
}

const DEFAULT_STOP_TIMEOUT_S = 10;
const portsOf = (c: ContainerConfig): PublishedPort[] =>
  c.ports.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol === "udp" ? "udp" : "tcp" }));

export class ContainerEngine {
  readonly store: ContainerStore;
  /** "exit:ID" after an exit is recorded; "gone:ID" after removal; "state:ID" on any change. */
  readonly events = new EventEmitter();
  private restartTimers = new Map<string, NodeJS.Timeout>();
  private backoffAttempt = new Map<string, number>();
  private followers = new Map<string, number>();
  private watching = new Set<string>();
  private networkHook?: NetworkHook;
  private hookGate?: { promise: Promise<void>; settle: () => void };
  /** Topmost of every container's lower layers (init-layer.ts). */
  private readonly initLayer: string;

  constructor(private readonly d: EngineDeps) {
    this.store = new ContainerStore(join(d.dataRoot, "containers"));
    makeSpreadDir(join(d.execRoot, "c"));
    this.initLayer = ensureInitLayer(join(d.dataRoot, "init"));
    this.events.setMaxListeners(0);
  }

  /** Who attaches containers to more networks than the bridge (none: the bridge only). */
  setNetworkHook(hook: NetworkHook | undefined): void {
    this.networkHook = hook;
    this.networkHookSettled();
  }

  /**
   * The daemon is about to rejoin its swarm, whose worker sets the hook: until then (10 s at
   * most) a container started again (a restart policy after a reboot) waits for it, or it would
   * come back without its overlays.
   */
  expectNetworkHook(): void {
    let settle = () => {};
    const promise = new Promise<void>((resolve) => (settle = resolve));
    const timer = setTimeout(settle, 10_000);
    this.hookGate = { promise, settle: () => (clearTimeout(timer), settle()) };
  }

  /** No hook is coming (the swarm is rejoined, or could not be): starts go on. */
  networkHookSettled(): void {
    this.hookGate?.settle();
    this.hookGate = undefined;
  }

  stateDir(id: string): string {
    return join(this.d.execRoot, "c", id.slice(0, 12));
  }

  logPath(rec: ContainerRecord): string {
    return this.d.runtime.logPath(this.stateDir(rec.id));
  }

  isImageInUse(imageId: string): boolean {
    return this.store.all().some((c) => c.imageId === imageId);
  }

  volumeUsers(name: string): string[] {
    return this.store.all().filter((c) => c.config.mounts.some((m) => m.type === "volume" && m.source === name)).map((c) => c.id);
  }

  async create(name: string, config: ContainerConfig): Promise<ContainerRecord> {
    validateConfig(config);
    if (name && !validName(name)) throw invalid(`invalid container name ${JSON.stringify(name)}: use letters, digits, _ . -`);
    if (name && this.store.nameTaken(name)) throw conflict(`the container name ${name} is already in use by container ${this.store.nameTaken(name)!.id.slice(0, 12)}: remove it or pick another name`);
    const ports = portsOf(config);
    await this.d.network.checkPorts("", ports);
    const image = await this.d.images.resolve(config.image); // its errors say what to do
    const id = newContainerId();
    const rec = buildRecord(id, name || generateName((n) => this.store.nameTaken(n) !== undefined), config, image.id, image.layerDirs, image.config);
    const dir = this.store.dir(id);
    mkdirSync(join(dir, "fs", "upper"), { recursive: true, mode: 0o755 });
    mkdirSync(join(dir, "fs", "work"), { mode: 0o700 });
    // A container the caller was told of survives a power loss; one that removes itself (--rm)
    // would be removed at the next start anyway, so its record need not wait for the disk.
    await (config.autoRemove ? this.store.save(rec) : this.store.saveDurable(rec));
    return rec;
  }

  /**
   * `run -d` in one call: creates and starts. A start that fails leaves no container behind, as
   * the CLI's own removal after a failed start did; the start's error is the one thrown.
   */
  async createStarted(name: string, config: ContainerConfig): Promise<ContainerRecord> {
    const rec = await this.create(name, config);
    try {
      await this.launch(rec);
    } catch (err) {
      await this.remove(rec.id, true).catch(() => undefined);
      throw err;
    }
    return rec;
  }

  /** Starts a created or stopped container (no-op when running). */
  async start(ref: string): Promise<void> {
    const rec = this.store.get(ref);
    if (rec.state.status === "running") return;
    this.cancelRestart(rec.id);
    const wasStopped = rec.stoppedByUser;
    rec.stoppedByUser = false;
    rec.restartCount = 0;
    this.backoffAttempt.delete(rec.id);
    if (wasStopped) await this.store.saveDurable(rec); // the user's start undoes their stop, also after a power loss
    await this.launch(rec);
  }

  private async launch(rec: ContainerRecord): Promise<void> {
    const c = rec.config;
    // Kept for a container whose other networks are attached only once their owner is back.
    let nameservers = rec.network?.nameservers;
    if (rec.network && !existsSync(rec.network.netnsPath)) {
      // The host rebooted (a lab host's power came back): its network namespace and veth are
      // gone with /run, so the container gets a fresh attachment rather than a dangling path.
      await this.d.network.detach(rec.id);
      rec.network = null;
    }
    const attached = c.networkMode === "bridge" && !rec.network;
    try {
      if (attached) {
        await this.hookGate?.promise;
        await this.d.network.checkPorts(rec.id, portsOf(c));
        rec.network = await this.d.network.attach(rec.id, portsOf(c));
        if (this.networkHook) nameservers = await this.networkHook.attach(rec, rec.network.netnsPath);
        if (nameservers?.length) rec.network.nameservers = nameservers;
      }
      const mounts = await this.mountsOf(rec);
      const stateDir = this.stateDir(rec.id); // made by the runtime's start
      const dir = this.store.dir(rec.id);
      const { pid, shimPid } = await this.d.runtime.start(
        {
          id: rec.id,
          ...rec.process,
          hostname: rec.process.hostname || osHostname(),
          lowerDirs: [...rec.layerDirs, this.initLayer],
          upperDir: join(dir, "fs", "upper"),
          workDir: join(dir, "fs", "work"),
          mounts,
          netns: c.networkMode === "host" ? "host" : rec.network ? rec.network.netnsPath : "new",
          cgroupParent: this.d.cgroupParent,
          memoryBytes: c.memoryBytes,
          nanoCpus: c.nanoCpus,
          pidsLimit: c.pidsLimit,
        },
        stateDir,
      );
      rec.state = { ...rec.state, status: "running", pid, shimPid, exitCode: 0, oomKilled: false, startedAt: new Date().toISOString(), error: "" };
      const saved = this.store.save(rec);
      this.events.emit(`state:${rec.id}`);
      this.watch(rec.id);
      await saved;
    } catch (err) {
      if (attached) await this.detachNetworks(rec);
      rec.state = { ...rec.state, status: rec.state.startedAt ? "exited" : "created", error: (err as Error).message };
      await this.store.save(rec).catch(() => undefined); // the start's error is the one to tell
      throw err;
    }
  }

  private async mountsOf(rec: ContainerRecord): Promise<LaunchMount[]> {
    const out: LaunchMount[] = [];
    for (const m of rec.config.mounts) {
      let source = m.source;
      if (m.type === "volume") source = this.d.volumes.create(m.source).mountpoint;
      else if (!existsSync(source)) mkdirSync(source, { recursive: true }); // as docker -v does
      out.push({ source, destination: m.destination, readOnly: m.readOnly });
    }
    const hostNet = rec.config.networkMode === "host";
    const fresh = !rec.state.startedAt && rec.state.status === "created";
    const etc = await writeEtcFiles(this.store.dir(rec.id), rec.process.hostname || osHostname(), rec.network?.ip, hostNet, rec.network?.nameservers, fresh);
    out.push({ source: etc.hosts, destination: "/etc/hosts", readOnly: false });
    out.push({ source: etc.hostname, destination: "/etc/hostname", readOnly: false });
    out.push({ source: etc.resolv, destination: "/etc/resolv.conf", readOnly: false });
    return out;
  }

  private watch(id: string): void {
    if (this.watching.has(id)) return;
    this.watching.add(id);
    this.d.runtime
      .watchExit(this.stateDir(id))
      .catch((): ExitStatus => ({ exitCode: 255, oomKilled: false })) // shim gone without a word
      .then((status) => {
        this.watching.delete(id);
        return this.onExit(id, status);
      })
      .catch((err) => console.error(`shoal daemon: handling exit of ${id.slice(0, 12)}: ${(err as Error).message}`));
  }

  private async onExit(id: string, status: ExitStatus): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.store.get(id);
    } catch {
      return;
    }
    const ranMs = Date.now() - Date.parse(rec.state.startedAt || new Date().toISOString());
    const restart = shouldRestart(rec.config.restartPolicy, status.exitCode, rec.restartCount, rec.stoppedByUser);
    rec.state = { ...rec.state, status: restart ? "restarting" : "exited", pid: 0, shimPid: 0, exitCode: status.exitCode, oomKilled: status.oomKilled, finishedAt: new Date().toISOString() };
    this.saveInBackground(rec); // one write with the next save below, if there is one
    await this.d.runtime.cleanup(this.stateDir(id)).catch(() => undefined);
    if (!restart) {
      await this.detachNetworks(rec);
      await this.store.save(rec);
    }
    this.events.emit(`exit:${id}`, status);
    this.events.emit(`state:${id}`);
    if (restart) {
      const attempt = ranMs >= BACKOFF_RESET_MS ? 0 : (this.backoffAttempt.get(id) ?? 0);
      this.backoffAttempt.set(id, attempt + 1);
      const timer = setTimeout(() => {
        this.restartTimers.delete(id);
        const cur = this.store.all().find((c) => c.id === id);
        if (!cur || cur.state.status !== "restarting") return;
        cur.restartCount++;
        this.launch(cur).catch((err) => {
          console.error(`shoal daemon: restarting ${id.slice(0, 12)}: ${(err as Error).message}`);
          this.onExit(id, { exitCode: 255, oomKilled: false }).catch(() => undefined);
        });
      }, restartDelayMs(attempt));
      this.restartTimers.set(id, timer);
    } else if (rec.config.autoRemove) {
      await this.drainFollowers(id);
      await this.removeRecord(rec, { cleanedUp: true }).catch((err) => {
        // Kept, and said so, rather than leaving waiters for a removal that will not come.
        rec.config.autoRemove = false;
        rec.state.error = `removing after exit: ${(err as Error).message}`;
        this.saveInBackground(rec);
        this.events.emit(`state:${id}`);
      });
    }
  }

  /** The container's namespace goes: its other networks first, then the bridge (which deletes it). */
  private async detachNetworks(rec: ContainerRecord): Promise<void> {
    await this.networkHook?.detach(rec);
    await this.d.network.detach(rec.id);
    rec.network = null;
  }

  private cancelRestart(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  /** Resolves at the next recorded exit of the container, or after `ms` with false. */
  private nextExit(id: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.events.off(`exit:${id}`, onExit);
        resolve(v);
      };
      const onExit = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.events.on(`exit:${id}`, onExit);
    });
  }

  async stop(ref: string, timeoutS?: number): Promise<void> {
    const rec = this.store.get(ref);
    rec.stoppedByUser = true;
    await this.store.saveDurable(rec); // no restart policy brings it back, even after a power loss
    if (rec.state.status === "restarting") {
      this.cancelRestart(rec.id);
      rec.state.status = "exited";
      await this.detachNetworks(rec);
      await this.store.save(rec);
      this.events.emit(`state:${rec.id}`);
      return;
    }
    if (rec.state.status !== "running") return;
    const grace = timeoutS ?? (rec.config.stopTimeout >= 0 ? rec.config.stopTimeout : DEFAULT_STOP_TIMEOUT_S);
    const signal = rec.config.stopSignal || "SIGTERM";
    // An init that does not catch the stop signal never sees it: no grace period to wait out.
    if (initHears(rec.state.pid, signal)) {
      const exited = this.nextExit(rec.id, grace * 1000);
      await this.d.runtime.kill(this.stateDir(rec.id), signal).catch(() => undefined);
      if (await exited) return;
    }
    const killed = this.nextExit(rec.id, 30_000);
    await this.d.runtime.kill(this.stateDir(rec.id), "SIGKILL").catch(() => undefined);
    if (!(await killed)) throw precondition(`container ${rec.name} did not exit after SIGKILL: it may be stuck in the kernel`);
  }

  async kill(ref: string, signal = "SIGKILL"): Promise<void> {
    const rec = this.store.get(ref);
    if (rec.state.status !== "running") throw precondition(`container ${rec.name} is not running`);
    const sig = signal.toUpperCase().startsWith("SIG") ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
    if (["SIGKILL", "SIGTERM", "SIGINT", "SIGQUIT"].includes(sig)) {
      rec.stoppedByUser = true;
      await this.store.saveDurable(rec);
    }
    const exited = sig === "SIGKILL" ? this.nextExit(rec.id, 30_000) : undefined;
    await this.d.runtime.kill(this.stateDir(rec.id), sig);
    if (exited) await exited;
  }

  async restart(ref: string, timeoutS?: number): Promise<void> {
    await this.stop(ref, timeoutS);
    await this.start(ref);
  }

  async remove(ref: string, force: boolean): Promise<void> {
    const rec = this.store.get(ref);
    const active = rec.state.status === "running" || rec.state.status === "restarting";
    if (active && !force) throw precondition(`cannot remove running container ${rec.name}: stop it first or use rm -f`);
    if (active) {
      rec.stoppedByUser = true;
      await this.store.saveDurable(rec);
      if (rec.state.status === "running") {
        const exited = this.nextExit(rec.id, 30_000);
        await this.d.runtime.kill(this.stateDir(rec.id), "SIGKILL").catch(() => undefined);
        await exited;
      }
      this.cancelRestart(rec.id);
    }
    await this.removeRecord(rec);
  }

  /** cleanedUp: the runtime has just freed the container (onExit): not asked a second time. */
  private async removeRecord(rec: ContainerRecord, o: { cleanedUp?: boolean } = {}): Promise<void> {
    this.cancelRestart(rec.id);
    if (!o.cleanedUp) await this.d.runtime.cleanup(this.stateDir(rec.id)).catch(() => undefined);
    await this.detachNetworks(rec);
    await rm(this.stateDir(rec.id), { recursive: true, force: true });
    this.store.delete(rec.id);
    this.backoffAttempt.delete(rec.id);
    this.events.emit(`gone:${rec.id}`);
    this.events.emit(`state:${rec.id}`);
  }

  /** Calls `registered` once listening, then resolves at the container's next stop (or now, if stopped). */
  wait(ref: string, registered: () => void): Promise<ExitStatus> {
    const rec = this.store.get(ref);
    return new Promise((resolve) => {
      const settle = () => {
        this.events.off(`state:${rec.id}`, check);
        resolve({ exitCode: rec.state.exitCode, oomKilled: rec.state.oomKilled });
      };
      // An auto-removed container is waited for until it is gone, as `docker run --rm` does.
      const check = () => {
        const gone = !this.store.all().includes(rec);
        if (gone || (!rec.config.autoRemove && (rec.state.status === "exited" || rec.state.status === "dead"))) settle();
      };
      this.events.on(`state:${rec.id}`, check);
      registered();
      if (!rec.config.autoRemove && (rec.state.status === "exited" || rec.state.status === "dead")) settle();
    });
  }

  /** Log followers keep an auto-removed container's log until they have read it all. */
  followerEnter(id: string): () => void {
    this.followers.set(id, (this.followers.get(id) ?? 0) + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.followers.set(id, (this.followers.get(id) ?? 1) - 1);
      this.events.emit(`followers:${id}`);
    };
  }

  /** Resolves once the container's log followers have all left (5 s at most): each leaving says so. */
  private async drainFollowers(id: string): Promise<void> {
    if ((this.followers.get(id) ?? 0) > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          if ((this.followers.get(id) ?? 0) > 0 && !expired) return;
          clearTimeout(timer);
          this.events.off(`followers:${id}`, done);
          resolve();
        };
        let expired = false;
        const timer = setTimeout(() => ((expired = true), done()), 5000);
        this.events.on(`followers:${id}`, done);
      });
    }
    this.followers.delete(id);
  }

  /** Re-adopts what an earlier daemon left: running containers keep their PID; exits that happened meanwhile are handled now. */
  async recover(): Promise<void> {
    const withNetwork = new Set<string>();
    // Every address a record names is claimed before anything below starts: the bridge's pool
    // lives in memory only, and a restart must not be handed an address a later record holds.
    for (const rec of this.store.all()) {
      const active = rec.state.status === "running" || rec.state.status === "restarting";
      if (active && rec.network) await this.d.network.readopt(rec.id, rec.network.ip, portsOf(rec.config)).catch(() => undefined);
    }
    for (const rec of this.store.all()) {
      const stateDir = this.stateDir(rec.id);
      if (rec.state.status !== "running" && existsSync(join(stateDir, "shim.pid"))) {
        // The runtime started it, but the daemon died before its record said so: the caller was
        // never told it runs. Undone (the container killed, a namespace of its own deleted), so
        // that the record is what runs; a start or a restart policy takes it from there.
        await this.d.runtime.cleanup(stateDir).catch(() => undefined);
        if (!rec.network) await this.d.network.detach(rec.id);
      }
      if (rec.network) withNetwork.add(rec.id);
      if (rec.state.status === "running") {
        this.watch(rec.id);
      } else if (rec.state.status === "restarting") {
        rec.restartCount++;
        this.launch(rec).catch(() => this.onExit(rec.id, { exitCode: 255, oomKilled: false }));
      } else if (rec.config.autoRemove && rec.state.status === "exited") {
        await this.removeRecord(rec); // exited while no daemon was there to remove it
        withNetwork.delete(rec.id);
      } else if (rec.network) {
        await this.detachNetworks(rec); // stopped while the daemon was down mid-teardown
        await this.store.save(rec);
        withNetwork.delete(rec.id);
      }
    }
    this.d.network.retain(withNetwork);
  }

  /** Stops pending restarts and waits for the records' writes; running containers stay with their shims. */
  async shutdown(): Promise<void> {
    for (const id of [...this.restartTimers.keys()]) this.cancelRestart(id);
    await this.store.flushed();
  }

  /** A save nothing waits for (its failure only logged): a later save, or the exit handling, carries on regardless. */
  private saveInBackground(rec: ContainerRecord): void {
    this.store.save(rec).catch((err: Error) => console.error(`shoal daemon: saving container ${rec.id.slice(0, 12)}: ${err.message}`));
  }

  /** Runs a process inside the running container's namespaces. */
  exec(req: ExecStart): ChildProcess {
    const rec = this.store.get(req.id);
    if (rec.state.status !== "running") throw precondition(`container ${rec.name} is not running: start it first`);
    if (req.cmd.length === 0) throw invalid("no command given to exec");
    const user = req.user || rec.process.user;
    const ids = user ? resolveUser(user, [join(this.store.dir(rec.id), "fs", "upper"), ...[...rec.layerDirs].reverse()]) : undefined;
    return this.d.runtime.exec(this.stateDir(rec.id), req.cmd, {
      env: mergeEnv(rec.process.env, req.env),
      cwd: req.workingDir || rec.process.cwd,
      user: ids ? `${ids.uid}:${ids.gid}` : "",
    });
  }

  runningCount(): number {
    return this.store.all().filter((c) => c.state.status === "running").length;
  }
}
