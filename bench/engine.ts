// `npm run bench -- engine`: the runtime figures (bench/engine-runtime.ts) plus the whole engine
// seen from the CLI: `shoal run --rm IMG true` end to end, 100 detached containers to running,
// shim memory, and the restart of a SIGKILLed `--restart always` container. The CLI is the
// `shoal` a user runs (native/build/shoal, which hands what it does not do itself to the Node
// CLI); the Node CLI's own run is timed beside it (node_run_e2e_ms). `-- engine floor` adds the
// runtime's share of the 100 starts alone beside crun (bench/support/engine-floor.ts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeBusyboxTarball } from "../test/support/busybox.js";
import { NODE_CLI, run, sleep, TestDaemon, type Result } from "../test/integration/engine/harness.js";
import { packageRoot } from "../lab/host.js";
import { crunTimes, measureRuntime, ociBundle, timed as timedSync } from "./engine-runtime.js";
import { EngineFloor, machineCpu, quiet } from "./support/engine-floor.js";

const IMG = "bench/busybox:1";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 2) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function main(args: string[]): Promise<void> {
  // `--skip-runtime`: only the engine's figures (the runtime's own bench runs runc and crun too).
  const skipRuntime = args.includes("--skip-runtime");
  // `floor`: also the runtime's share of the 100 starts alone (bench/support/engine-floor.ts), beside crun.
  const withFloor = args.includes("floor");
  const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);
  // The runtime's own figures and its peers' (runtime_ms, runc_ms, crun_ms, …).
  // Its start100_s and shim_rss_kib are the bare runtime's; this bench's are through the daemon.
  let figures: Record<string, number | null> = {};
  try {
    if (!skipRuntime) figures = (await measureRuntime()) as unknown as Record<string, number | null>;
  } catch (err) {
    console.error(`bench engine: the runtime's figures failed (${(err as Error).message}); going on without them`);
  }
  const { start100_s: runtime_start100_s = null, shim_rss_kib: runtime_shim_rss_kib = null, ...runtime } = figures;

  const d = new TestDaemon();
  await d.start();
  const native = join(packageRoot(), "native/build/shoal");
  const shoal = (...a: string[]): Promise<Result> => run(native, a, { SHOAL_HOST: d.host });
  const nodeCli = (...a: string[]): Promise<Result> => run("node", [NODE_CLI, ...a], { SHOAL_HOST: d.host });
  try {
    const rootfs = mkdtempSync(join(d.root, "rootfs-"));
    makeBusyboxTarball(join(d.root, "bb.tar"), rootfs);
    const runcBundle = ociBundle(join(d.root, "runc-true"), rootfs, ["/bin/true"]);
    const runcRoot = join(d.root, "runc-state");
    const imp = await d.shoal("import", join(d.root, "bb.tar"), IMG);
    if (imp.code !== 0) throw new Error(`import failed: ${imp.stderr}`);

    const versions: number[] = [];
    for (let i = 0; i < 5; i++) versions.push(await timed(() => nodeCli("version")));
    const version = median(versions);
    // A daemon runs for days: five uncounted runs first, so the figure is not its first calls'
    // (cold JIT, first netlink and cgroup set-up), as the peers' binaries have nothing to warm.
    for (let i = 0; i < 5; i++) await shoal("run", "--rm", IMG, "true");
    // Timed as runc's lifecycle is (engine-runtime.ts): spawnSync, stdout ignored, stderr piped.
    const e2e: number[] = [];
    const runcBeside: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(native, ["run", "--rm", IMG, "true"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, SHOAL_HOST: d.host } });
      e2e.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) throw new Error(`run failed: ${r.stderr?.toString().trim() || r.status}`);
      runcBeside.push(timedSync("runc", ["--root", runcRoot, "run", "--bundle", runcBundle, `b${process.pid}-${i}`]));
    }
    const run_e2e_ms = median(e2e);
    const runc_beside_ms = median(runcBeside);
    const nodeE2e: number[] = [];
    for (let i = 0; i < 5; i++) nodeE2e.push(await timed(() => nodeCli("run", "--rm", IMG, "true")));
    const node_run_e2e_ms = median(nodeE2e);
    console.log(`shoal run --rm true: median ${run_e2e_ms.toFixed(1)} ms over ${runs}, runc's lifecycle beside it ${runc_beside_ms.toFixed(1)} ms (the Node CLI's ${node_run_e2e_ms.toFixed(1)} ms); node dist/cli/main.js version ${version.toFixed(0)} ms`);

    // 100 detached containers, 8 CLI calls in flight, until ps shows them all running; three
    // rounds, each right after crun's 100 detached sleeps, the median of each side and of the
    // rounds' ratios reported (one round apart from its peer moved by ±20 % on this machine).
    const crunSleep = ociBundle(join(d.root, "crun-sleep"), rootfs, ["sleep", "1000"]);
    const rounds: { shoal: number; crun: number; cpu: number }[] = [];
    let shim_rss_kib = 0;
    for (let i = 0; i < 3; i++) {
      await quiet();
      const crunS = crunTimes(d.root, "detach", crunSleep, 100)[0] / 1000;
      await quiet();
      const cpu0 = machineCpu();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < 100) {
            next++;
            const r = await shoal("run", "-d", IMG, "sleep", "100000");
            if (r.code !== 0) throw new Error(`run -d failed: ${r.stderr}`);
          }
        }),
      );
      for (;;) {
        const ids = (await shoal("ps", "-q")).stdout.split("\n").filter(Boolean);
        if (ids.length >= 100) break;
        await sleep(50);
      }
      const s = (performance.now() - t0) / 1000;
      const cpu = (machineCpu().busyMs - cpu0.busyMs) / 100;
      rounds.push({ shoal: s, crun: crunS, cpu });
      console.log(`100 x shoal run -d, round ${i + 1}: all running after ${s.toFixed(2)} s (the machine busy ${cpu.toFixed(1)} ms of CPU a start), crun beside ${crunS.toFixed(2)} s: ${(s / crunS).toFixed(2)}x`);

      // Shim RSS: the parent of each container's PID 1.
      if (i === 0) {
        const ids = (await shoal("ps", "-q")).stdout.split("\n").filter(Boolean).slice(0, 20);
        const rss: number[] = [];
        for (const id of ids) {
          const pid = JSON.parse((await shoal("inspect", id)).stdout)[0].State.Pid as number;
          const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
          rss.push(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${ppid}/status`, "utf8"))![1]));
        }
        shim_rss_kib = median(rss);
      }
      const all = (await shoal("ps", "-aq")).stdout.split("\n").filter(Boolean);
      await shoal("rm", "-f", ...all);
    }
    const start100_s = median(rounds.map((r) => r.shoal));
    const crun_start100_beside_s = median(rounds.map((r) => r.crun));
    const start100_cpu_ms = round(median(rounds.map((r) => r.cpu)), 1);
    const start100_vs_crun = median(rounds.map((r) => r.shoal / r.crun));

    // Restart of a SIGKILLed `--restart always` container: exit noticed → running again.
    const restarts: number[] = [];
    await shoal("run", "-d", "--name", "phoenix", "--restart", "always", IMG, "sleep", "100000");
    for (let i = 0; i < 5; i++) {
      const before = JSON.parse((await shoal("inspect", "phoenix")).stdout)[0];
      process.kill(before.State.Pid, "SIGKILL");
      let after;
      do {
        await sleep(20);
        after = JSON.parse((await shoal("inspect", "phoenix")).stdout)[0];
      } while (!(after.State.Running && after.State.Pid !== before.State.Pid));
      restarts.push(Date.parse(after.State.StartedAt) - Date.parse(after.State.FinishedAt));
      await sleep(200);
    }
    // The first restart is immediate; the next ones back off (100, 200, 400 ms …) by design.
    const restart_first_ms = restarts[0];
    console.log(`restart after SIGKILL (--restart always): first ${restart_first_ms} ms; series ${restarts.join(", ")} ms (backoff after the first)`);
    await shoal("rm", "-f", "phoenix");

    // The floor, three rounds each beside crun's (after an uncounted one of 20 starts).
    const floor: Record<string, number | null> = {};
    if (withFloor) {
      const f = new EngineFloor(join(d.root, "floor"), rootfs);
      await f.setup();
      try {
        await f.measure(20, 8);
        const floorRounds: { floor: number; crun: number; cpu: number }[] = [];
        for (let i = 0; i < 3; i++) {
          await quiet();
          const crunS = crunTimes(d.root, "detach", crunSleep, 100)[0] / 1000;
          await quiet();
          const r = await f.measure(100, 8);
          floorRounds.push({ floor: r.seconds, crun: crunS, cpu: r.cpuMsPerStart });
          console.log(`floor round ${i + 1}: ${r.seconds.toFixed(3)} s (${r.cpuMsPerStart.toFixed(1)} ms of CPU a start), crun beside ${crunS.toFixed(3)} s: ${(r.seconds / crunS).toFixed(2)}x`);
        }
        floor.floor_start100_s = round(median(floorRounds.map((r) => r.floor)), 3);
        floor.floor_crun_beside_s = round(median(floorRounds.map((r) => r.crun)), 3);
        floor.floor_cpu_ms_per_start = round(median(floorRounds.map((r) => r.cpu)), 2);
        floor.floor_vs_crun = round(median(floorRounds.map((r) => r.floor / r.crun)));
      } finally {
        await f.teardown();
      }
    }

    const crun = runtime.crun_ms ?? NaN;
    console.log(
      JSON.stringify({
        ...runtime,
        runtime_start100_s,
        runtime_shim_rss_kib,
        run_e2e_ms: round(run_e2e_ms),
        node_run_e2e_ms: round(node_run_e2e_ms),
        runc_beside_ms: round(runc_beside_ms),
        start100_s: round(start100_s),
        start100_cpu_ms,
        crun_start100_s: round(runtime.crun_start100_s ?? NaN),
        crun_start100_beside_s: round(crun_start100_beside_s),
        shim_rss_kib,
        restart_first_ms,
        cli_version_ms: round(version),
        run_e2e_vs_runc: round(run_e2e_ms / runc_beside_ms),
        run_e2e_vs_crun: round(run_e2e_ms / crun),
        start100_vs_crun: round(start100_vs_crun),
        ...floor,
      }),
    );
  } finally {
    const left = await d.destroy();
    if (left.length) console.error(`bench engine: left behind: ${left.join("; ")}`);
  }
}
