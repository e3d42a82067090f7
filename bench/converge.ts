// `npm run bench -- converge [--reps N]`: real containers, Shoal and Docker Swarm side by side in
// the same run, on the same work. Both clusters have 2 nodes: Shoal a lab of 1 manager and
// 1 worker, Swarm two dockerds (manager + worker), each node in its own network namespace. The
// one-node figures (create 10, scale 10 → 50, restart) keep the tasks on the manager node with a
// node.role==manager constraint on both sides; spread 20 uses both nodes.
//   create10   service create --replicas 10 → 10 running
//   scale50    a running 10-replica service scaled to 50 → 50 running
//   spread20   service create --replicas 20 over 2 nodes → 20 running
//   restart    kill -9 a task's container process → running again: Shoal restarts in place (the
//              same task, a new process); Swarm replaces the task, at its default restart delay
//              (5 s) and with --restart-delay 0
// Every time runs from the CLI's start until a poll of the task list (every 25 ms, 10 ms for
// restarts) sees it so. Containers stop at once on SIGTERM. Medians over --reps (default 3),
// the two sides taking turns to go first. Last line: one JSON object.
import { mkdirSync, rmSync } from "node:fs";
import { cleanupOnSignal, isUp, loadAvg, measure, median, mustOk, quiesce, round, runningAll, settle, showFigure, sleep, type Figure, type Peer, type TaskView } from "./support/peer.js";
import { monoUs, showSummary, summarise, type Window } from "./support/cpuprofile.js";
import { showProfile } from "./support/profile.js";
import { ShoalLab } from "./support/shoal.js";
import { SwarmCluster } from "./support/swarm.js";

const IMAGE = "busybox:1";
const LAB = "bench-converge";
const SWARM = "cv";

async function removeAll(p: Peer, service: string): Promise<void> {
  mustOk(await p.remove(service), `${p.name} service rm ${service}`);
  await quiesce(p);
}

async function create(p: Peer, svc: string, n: number, onManager: boolean): Promise<Figure> {
  return measure(p, svc, () => p.create(svc, n, { image: IMAGE, onManager }), runningAll(n), { create: true });
}

async function scale(p: Peer, svc: string): Promise<Figure> {
  mustOk(await p.create(svc, 10, { image: IMAGE, onManager: true }), `${p.name} create ${svc}`);
  await settle(p, svc, runningAll(10));
  await sleep(1000);
  return measure(p, svc, () => p.scale(svc, 50), runningAll(50));
}

/** The timed figures, each on a fresh service removed afterwards. */
const FIGURES: { key: string; label: string; service: string; run: (p: Peer) => Promise<Figure> }[] = [
  { key: "create10", label: "create 10", service: "c10", run: (p) => create(p, "c10", 10, true) },
  { key: "scale50", label: "scale 10 → 50", service: "s50", run: (p) => scale(p, "s50") },
  { key: "spread20", label: "spread 20 over 2 nodes", service: "sp20", run: (p) => create(p, "sp20", 20, false) },
];

/** Per node, how many of a service's tasks run there. */
const spread = (ts: TaskView[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const t of ts.filter(isUp)) out[t.node] = (out[t.node] ?? 0) + 1;
  return out;
};

interface RestartSample {
  ms: number;
  /** The kill, on the CPU profiles' clock (µs). */
  t0Mono: number;
  /** Shoal only: kill → the engine recorded the exit (FinishedAt), and → the new process (StartedAt). */
  exitMs?: number;
  engineMs?: number;
}

/** Kills the container process of `kills` different tasks in turn; each time until it runs again. */
async function restarts(p: Peer, svc: string, kills: number, restartDelay0: boolean): Promise<RestartSample[]> {
  mustOk(await p.create(svc, kills, { image: IMAGE, onManager: true, restartDelay0 }), `${p.name} create ${svc}`);
  await settle(p, svc, runningAll(kills));
  await sleep(1000);
  const out: RestartSample[] = [];
  for (let k = 0; k < kills; k++) {
    const victim = (await p.tasks(svc)).filter(isUp).sort((a, b) => a.slot - b.slot)[k];
    const t0Mono = monoUs();
    const t0 = Date.now();
    process.kill(victim.pid, "SIGKILL");
    // Shoal: the same task running with a new process. Swarm: a new task of the slot running.
    const again = (t: TaskView) => isUp(t) && t.pid > 0 && t.pid !== victim.pid && (p.name === "shoal" ? t.id === victim.id : t.slot === victim.slot && t.id !== victim.id);
    let at = 0;
    for (const deadline = t0 + 60_000; !at; await sleep(10)) {
      if ((await p.tasks(svc)).some(again)) at = Date.now();
      else if (Date.now() > deadline) throw new Error(`${p.name}: task ${victim.id} not running again 60 s after kill -9`);
    }
    const sample: RestartSample = { ms: at - t0, t0Mono };
    if (p instanceof ShoalLab) {
      const raw = (await p.rawTasks(svc)).find((t) => t.id === victim.id)!;
      const st = (await p.inspect(0, raw.status!.containerStatus!.containerId)).State;
      sample.exitMs = Date.parse(st.FinishedAt) - t0;
      sample.engineMs = Date.parse(st.StartedAt) - t0;
    }
    out.push(sample);
    await sleep(500);
  }
  await removeAll(p, svc);
  return out;
}

/** `--profile DIR`: Shoal alone, its daemons and CLI runs under the V8 profiler; where the time goes in each figure. */
async function profile(dir: string, reps: number): Promise<void> {
  console.log(`bench converge --profile ${dir}: Shoal only, daemons and CLI under --cpu-prof (figures slowed by the profiler: not for quoting)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const shoal = await ShoalLab.up(LAB, 1, { profileDir: dir });
  const figs: Record<string, Figure[]> = {};
  const restartWindows: Window[] = [];
  const add = (k: string, f: Figure) => (showFigure(shoal, k, f), (figs[k] ??= []).push(f));
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const fig of FIGURES) {
        add(fig.key, await fig.run(shoal));
        await removeAll(shoal, fig.service);
      }
    }
    const r = await restarts(shoal, "rs", 5, false);
    console.log(`shoal restart: ${r.map((x) => `${x.ms} ms (exit recorded ${x.exitMs}, new process ${x.engineMs})`).join(", ")}`);
    restartWindows.push(...r.map((x) => ({ from: x.t0Mono, to: x.t0Mono + x.ms * 1000 })));
  } finally {
    await shoal.stop();
  }
  showProfile(shoal, figs);
  showSummary(`\n== restart (${restartWindows.length} kills, kill → seen running again), m1 daemon`, summarise(shoal.profiles().daemons.m1, restartWindows));
}

export async function main(args: string[]): Promise<void> {
  const reps = Number(args[args.indexOf("--reps") + 1] || 3) || 3;
  if (args.includes("--profile")) return profile(args[args.indexOf("--profile") + 1] || "/tmp/shoal-bench-profile", reps);
  const load0 = await loadAvg();
  console.log(`bench converge: Shoal lab (1 manager + 1 worker) and Docker Swarm (2 dockerd nodes), ${reps} reps; load average ${load0}`);
  const shoal = await ShoalLab.up(LAB, 1);
  let swarm: SwarmCluster | undefined;
  const unhook = cleanupOnSignal(async () => {
    await SwarmCluster.down(SWARM);
    await shoal.stop();
  });
  try {
    swarm = await SwarmCluster.up(SWARM, 2);
    const peers: Peer[] = [shoal, swarm];
    const figs: Record<string, Record<string, Figure[]>> = { shoal: {}, swarm: {} };
    const add = (p: Peer, k: string, f: Figure) => (figs[p.name][k] ??= []).push(f);
    const spreads: Record<string, Record<string, number>> = {};
    const rss: Record<string, Record<string, number>> = {};

    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 ? [...peers].reverse() : peers;
      for (const fig of FIGURES) {
        for (const p of order) {
          const f = await fig.run(p);
          add(p, fig.key, f);
          if (fig.key === "scale50") rss[p.name] = p instanceof ShoalLab ? { "shoal daemon": p.rssKiB(0) } : (p as SwarmCluster).rssKiB(0);
          if (fig.key === "spread20") spreads[p.name] = spread(f.tasks);
          showFigure(p, `${fig.label} (rep ${rep + 1})${fig.key === "spread20" ? ` ${JSON.stringify(spreads[p.name])}` : ""}`, f);
          await removeAll(p, fig.service);
        }
      }
    }

    const kills = Math.max(3, reps + 2);
    const shoalRestarts = await restarts(shoal, "rs", kills, false);
    console.log(`shoal restart after kill -9 (defaults, in place): ${shoalRestarts.map((s) => `${s.ms} ms (exit recorded ${s.exitMs}, new process ${s.engineMs})`).join(", ")}`);
    const swarmRestarts0 = await restarts(swarm, "rs0", kills, true);
    console.log(`swarm restart after kill -9 (--restart-delay 0): ${swarmRestarts0.map((s) => `${s.ms} ms`).join(", ")}`);
    const swarmRestarts = await restarts(swarm, "rs", kills, false);
    console.log(`swarm restart after kill -9 (defaults): ${swarmRestarts.map((s) => `${s.ms} ms`).join(", ")}`);

    const s = (who: string, k: string) => median(figs[who][k].map((f) => f.ms)) / 1000;
    const cli = (who: string, k: string) => median(figs[who][k].map((f) => f.cliMs));
    const out: Record<string, unknown> = { nodes: 2, reps, shoal_nodes: "1 manager + 1 worker", swarm_nodes: "manager + worker dockerd" };
    for (const { key: k } of FIGURES) {
      out[`${k}_s`] = round(s("shoal", k));
      out[`swarm_${k}_s`] = round(s("swarm", k));
      out[`${k}_ratio`] = round(s("shoal", k) / s("swarm", k), 3);
      out[`${k}_cli_ms`] = round(cli("shoal", k), 0);
      out[`swarm_${k}_cli_ms`] = round(cli("swarm", k), 0);
    }
    const restart = median(shoalRestarts.map((x) => x.ms));
    const swarm0 = median(swarmRestarts0.map((x) => x.ms));
    const swarmDefault = median(swarmRestarts.map((x) => x.ms));
    Object.assign(out, {
      restart_ms: restart,
      restart_engine_ms: median(shoalRestarts.map((x) => x.engineMs!)),
      restart_exit_recorded_ms: median(shoalRestarts.map((x) => x.exitMs!)),
      swarm_restart_ms: swarm0,
      swarm_restart_default_ms: swarmDefault,
      restart_ratio: round(restart / swarm0, 3),
      restart_default_ratio: round(restart / swarmDefault, 3),
      rss50_kib: rss.shoal,
      swarm_rss50_kib: rss.swarm,
      spread20_nodes: spreads.shoal,
      swarm_spread20_nodes: spreads.swarm,
      load_avg_start: load0,
      load_avg_end: await loadAvg(),
    });
    out.goals_met = FIGURES.every((f) => (out[`${f.key}_ratio`] as number) <= 0.25) && restart <= 100 && restart / swarm0 <= 0.25;
    console.log(JSON.stringify(out));
  } finally {
    unhook();
    await swarm?.stop();
    await shoal.stop();
  }
}
