// The floor under the engine's 100 detached starts: the runtime's share of `shoal run -d` alone.
// For each container the bench's own process does only what the daemon must hand to the runtime:
// the container's overlay directories, its spec, then through the same spawner the daemon uses
// (agent/engine/runtime/spawner.ts) the bridge attachment (netns, veth on a bridge, address,
// route) and the start (cgroups, namespaces, overlay root, shim, exec). No CLI, no gRPC, no
// records, logs or etc files. Whatever a start through the daemon spends above this is the CLI's
// and the daemon's; what this spends is the kernel's and the runtime's. `npm run bench -- engine
// floor` measures it beside crun, as the through-the-daemon figure is.
import { mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { runtimeBinary } from "../../agent/engine/runtime/binary.js";
import { deleteContainer, start } from "../../agent/engine/runtime/runtime.js";
import { makeSpreadDir } from "../../agent/engine/store/spread.js";
import { run } from "../../agent/network/cmd.js";

/** Busy and idle CPU milliseconds of the whole machine so far (/proc/stat, all cores). */
export function machineCpu(): { busyMs: number; idleMs: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 9).map(Number);
  const tick = 10; // USER_HZ is 100 on Linux
  const idle = f[3] + f[4];
  return { busyMs: (f.reduce((a, b) => a + b, 0) - idle) * tick, idleMs: idle * tick };
}

/**
 * Waits (10 s at most) for a quarter second with the machine at least 90 % idle. A round's
 * clean-up goes on in the kernel after its last call returns (each deleted netns is torn down by
 * a kernel worker): the next round, Shoal's or a peer's, must not pay for it.
 */
export async function quiet(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const a = machineCpu();
    await new Promise((r) => setTimeout(r, 250));
    const b = machineCpu();
    const busy = b.busyMs - a.busyMs;
    if (busy <= 0.1 * (busy + b.idleMs - a.idleMs)) return;
  }
}

export interface FloorRound {
  seconds: number;
  /** The machine's busy CPU over the round, per start. */
  cpuMsPerStart: number;
}

/** A bridge of the floor's own, on a /24 no route on this host uses. */
async function makeBridge(name: string): Promise<{ gateway: string; prefix: string }> {
  const routes = await run("ip", ["-4", "route", "show", "table", "all"]);
  for (let i = 0; i < 256; i++) {
    const prefix = `10.214.${(process.pid + i) % 256}`;
    if (routes.includes(`${prefix}.`)) continue;
    await run("ip", ["link", "add", name, "type", "bridge"]);
    await run("ip", ["addr", "add", `${prefix}.1/24`, "dev", name]);
    await run("ip", ["link", "set", name, "up"]);
    return { gateway: `${prefix}.1`, prefix };
  }
  throw new Error("engine floor: no free 10.214.N.0/24 for its bridge");
}

export class EngineFloor {
  private readonly bridge = `shflr${process.pid % 100000}`;
  private net?: { gateway: string; prefix: string };
  private round = 0;

  constructor(private readonly work: string, private readonly lowerDir: string) {}

  async setup(): Promise<void> {
    makeSpreadDir(this.work); // as the daemon's container directories are (store/spread.ts)
    this.net = await makeBridge(this.bridge);
  }

  /** `n` starts, `inFlight` at a time, until every container's process has exec'd; then removes them (not timed). */
  async measure(n: number, inFlight: number): Promise<FloorRound> {
    const r = this.round++;
    const started: { stateDir: string; netns: string }[] = [];
    const c0 = machineCpu();
    const t0 = performance.now();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < n) {
            const i = next++;
            const id = `floor-${process.pid}-${r}-${i}`;
            const dir = join(this.work, id);
            mkdirSync(join(dir, "upper"), { recursive: true });
            mkdirSync(join(dir, "work"));
            const netns = `shflr-${process.pid % 100000}-${r}-${i}`;
            const entry = { stateDir: join(dir, "state"), netns };
            started.push(entry);
            await run("@bridge-attach", [netns, `vf${process.pid % 10000}x${r}x${i}`, this.bridge, `${this.net!.prefix}.${i + 2}/24`, this.net!.gateway]);
            await start(
              {
                id,
                args: ["sleep", "100000"],
                env: ["PATH=/bin"],
                hostname: id.slice(0, 63),
                rootfs: { lowerDirs: [this.lowerDir], upperDir: join(dir, "upper"), workDir: join(dir, "work") },
                netns: `/run/netns/${netns}`,
                cgroupParent: "shoal-bench-floor",
              },
              entry.stateDir,
            );
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const c1 = machineCpu();
      return { seconds, cpuMsPerStart: (c1.busyMs - c0.busyMs) / n };
    } finally {
      for (const s of started) {
        await deleteContainer(s.stateDir).catch(() => undefined);
        await run(runtimeBinary(), ["netns-delete", `/run/netns/${s.netns}`]).catch(() => undefined);
      }
    }
  }

  async teardown(): Promise<void> {
    await run("ip", ["link", "del", this.bridge]).catch(() => undefined);
    for (const c of ["memory", "cpu", "cpuacct", "pids", "unified", ""]) {
      try {
        rmdirSync(`/sys/fs/cgroup/${c}/shoal-bench-floor`);
      } catch {
        /* absent on this host's hierarchy */
      }
    }
  }
}
