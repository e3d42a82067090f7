// `shoal daemon`: takes the data root's lock, brings up the bridge network, re-adopts running
// containers, and serves the engine API on a root-only unix socket until SIGTERM/SIGINT.
import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { existsSync, mkdirSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { arch, release } from "node:os";
import { dirname, join } from "node:path";
import { engineServer, serveEngine, API_VERSION } from "../engine/api/server.js";
import { ContainerEngine } from "../engine/containers/engine.js";
import { VolumeStore } from "../engine/volumes/store.js";
import { BridgeNetwork } from "../network/bridge.js";
import { formatCidr } from "../network/ipv4.js";
import { daemonNames } from "../network/names.js";
import { favourCgroupMoves } from "./cgroup-moves.js";
import { lockDataRoot } from "./lock.js";
import { openImages } from "./images.js";
import { nativeRuntime } from "./runtime.js";
import { ControlService, SwarmService } from "../../proto/gen/swarm.js";
import { SwarmNode } from "../swarm/node.js";

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  socket: string;
  registryMirror?: string;
  insecureRegistries: string[];
  bridgeSubnet?: string;
  /** Leave the cgroup2 mount's options alone (see cgroup-moves.ts). */
  keepCgroupMount?: boolean;
}

const VERSION = "0.1.0";

function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** Every line the daemon logs starts with its time (as dockerd's do): elections, sessions and faults are read against each other. */
function timestampLogs(): void {
  const write = console.error.bind(console);
  console.error = (...args: unknown[]) => write(new Date().toISOString(), ...args);
}

export async function runDaemon(o: DaemonOptions): Promise<void> {
  timestampLogs();
  if (process.getuid?.() !== 0) throw new Error("shoal daemon needs root: run it with sudo or as root");
  mkdirSync(o.dataRoot, { recursive: true, mode: 0o700 });
  mkdirSync(o.execRoot, { recursive: true, mode: 0o700 });
  const unlock = lockDataRoot(o.dataRoot);
  const cleanups: (() => Promise<void> | void)[] = [unlock];
  const undo = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    if (existsSync(o.socket)) {
      if (await socketInUse(o.socket)) throw new Error(`socket ${o.socket} is in use by another daemon: pass a different --socket`);
      unlinkSync(o.socket);
    }
    mkdirSync(dirname(o.socket), { recursive: true, mode: 0o700 });

    if (!o.keepCgroupMount) await favourCgroupMoves((l) => console.error(l));
    const names = daemonNames(o.dataRoot);
    const network = new BridgeNetwork(names, o.dataRoot, o.bridgeSubnet);
    await network.setup();
    let engine: ContainerEngine | undefined;
    cleanups.push(() => network.teardown(!engine || engine.runningCount() === 0));

    const volumes = new VolumeStore(join(o.dataRoot, "volumes"));
    volumes.sweep();
    const images = await openImages(join(o.dataRoot, "images"), {
      mirror: o.registryMirror,
      insecure: o.insecureRegistries,
      isInUse: (id) => engine?.isImageInUse(id) ?? false,
    });
    const runtime = await nativeRuntime();
    engine = new ContainerEngine({ dataRoot: o.dataRoot, execRoot: o.execRoot, cgroupParent: names.cgroupParent, runtime, images, network, volumes });
    engine.expectNetworkHook(); // the swarm's worker sets it, once resumed below
    await engine.recover();
    cleanups.push(() => engine!.shutdown());
    cleanups.push(() => removeEmptyCgroupParents(names.cgroupParent, engine!.runningCount()));

    const cgroupVersion = existsSync("/sys/fs/cgroup/memory") ? "1 (v2 at /sys/fs/cgroup/unified)" : "2";
    const impl = engineServer({
      engine,
      volumes,
      images,
      info: () => ({ version: VERSION, apiVersion: API_VERSION, os: "linux", arch: arch(), kernel: release(), dataRoot: o.dataRoot, bridge: network.bridge, bridgeSubnet: formatCidr(network.subnet), cgroupVersion }),
    });
    const swarm = new SwarmNode({ dataRoot: o.dataRoot, engineVersion: VERSION, worker: { engine, images } });
    // A node that cannot rejoin (its port taken, its data damaged) still serves its engine and says why.
    await swarm.resume().catch((e: Error) => console.error(`shoal daemon: cannot rejoin the swarm: ${e.message}`));
    engine.networkHookSettled();
    cleanups.push(() => swarm.shutdown());
    const old = process.umask(0o177); // the socket is born 0600: root only
    let server;
    try {
      server = await serveEngine(o.socket, impl, [
        [SwarmService, swarm.swarmServer() as unknown as UntypedServiceImplementation],
        [ControlService, swarm.controlServer() as unknown as UntypedServiceImplementation],
      ]);
    } finally {
      process.umask(old);
    }
    cleanups.push(() => server.forceShutdown()); // open `logs -f` streams would hold a graceful one forever
    cleanups.push(() => (existsSync(o.socket) ? unlinkSync(o.socket) : undefined));
    console.error(`shoal daemon: serving on unix://${o.socket} (data root ${o.dataRoot}, bridge ${network.bridge} ${formatCidr(network.subnet)})`);
  } catch (err) {
    await undo();
    throw err;
  }

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await undo();
  process.exit(0);
}

/** The daemon's cgroup parents, once no container is left in them. */
function removeEmptyCgroupParents(parent: string, running: number): void {
  if (running > 0) return;
  for (const ctl of readdirSync("/sys/fs/cgroup")) {
    const dir = join("/sys/fs/cgroup", ctl, parent);
    try {
      if (existsSync(dir)) rmdirSync(dir);
    } catch {
      /* still in use, or not ours to remove */
    }
  }
}
