// `npm run bench -- update [--profile DIR]`: a rolling update of 50 replicas to a new image
// (busybox:1 → busybox:2), stop-first, delay 0, at parallelism 5 and then 1, Shoal and Docker
// Swarm side by side in the same run. One node each: Shoal a lab of 1 manager alone (both images
// from the lab's registry, pulled before), Swarm one dockerd (both images imported). Containers
// stop at once on SIGTERM. Each time runs from the CLI's start until a poll of the task list
// (every 25 ms) sees all 50 running busybox:2 and none running busybox:1; each side gets a fresh
// 50-replica service for each figure, the two taking turns to go first. Besides the times, each
// slot's cycle (old task stopped, new task started, seen running, next batch made) shows where
// the time goes on either side. Last line: one JSON object.
import { mkdirSync, rmSync } from "node:fs";
import { showSummary, summarise, type Window } from "./support/cpuprofile.js";
import { cleanupOnSignal, loadAvg, measure, median, mustOk, quiesce, round, runningAll, settle, showFigure, sleep, StallError, type Figure, type Peer, type TaskView } from "./support/peer.js";
import { ShoalLab } from "./support/shoal.js";
import { SwarmCluster } from "./support/swarm.js";

const REPLICAS = 50;
const LAB = "bench-update";
const SWARM = "up";

/** One update figure on a fresh service; a stalled update is reported, not waited for. */
async function updateFigure(p: Peer, parallelism: number): Promise<{ f: Figure; c: Record<string, number> } | { stalled: string }> {
  const svc = `u${parallelism}`;
  mustOk(await p.create(svc, REPLICAS, { image: "busybox:1" }), `${p.name} create ${svc}`);
  await settle(p, svc, runningAll(REPLICAS, "busybox:1"));
  await sleep(2000);
  let f: Figure;
  try {
    f = await measure(p, svc, () => p.update(svc, "busybox:2", parallelism), runningAll(REPLICAS, "busybox:2"), { timeoutMs: 600_000 });
  } catch (err) {
    if (!(err instanceof StallError)) throw err;
    console.log(`${p.name.padEnd(5)} update parallelism ${parallelism}: ${err.message}`);
    return { stalled: err.message }; // the caller replaces the whole cluster
  }
  // Old tasks stay in the history: their shutdown times are part of each slot's cycle.
  f.tasks = await p.tasks(svc);
  const c = await cycle(p, f, parallelism);
  mustOk(await p.remove(svc), `${p.name} service rm ${svc}`);
  await quiesce(p);
  return { f, c };
}

/**
 * Per slot (medians, ms): new task made → old task reported shut down; → new container started
 * (engine); → new task seen running by the managers (its report's time); and a slot freed (a
 * new task up) → the next new task made (the updater's reaction).
 */
async function cycle(p: Peer, f: Figure, parallelism: number): Promise<Record<string, number>> {
  const bySlot = new Map<number, TaskView[]>();
  for (const t of f.tasks) bySlot.set(t.slot, [...(bySlot.get(t.slot) ?? []), t]);
  const stop: number[] = [];
  const start: number[] = [];
  const report: number[] = [];
  const made: { created: number; running: number }[] = [];
  for (const ts of bySlot.values()) {
    const fresh = ts.find((t) => t.image === "busybox:2" && t.state === "running");
    const old = ts.find((t) => t.image === "busybox:1" && t.desired !== "running");
    if (!fresh || !old) continue;
    const e = await p.containerTimes(fresh.node, fresh.containerId);
    stop.push(old.stateAt - fresh.createdAt);
    start.push(e.started - old.stateAt);
    report.push(fresh.stateAt - e.started);
    made.push({ created: fresh.createdAt, running: fresh.stateAt });
  }
  // The updater's reaction: a slot freed (a new task came up) → the next new task made.
  made.sort((a, b) => a.created - b.created);
  const gaps: number[] = [];
  for (const x of made.slice(parallelism)) {
    const freed = made.map((y) => y.running).filter((r) => r <= x.created);
    if (freed.length) gaps.push(x.created - Math.max(...freed));
  }
  return {
    new_made_to_old_down_ms: median(stop),
    old_down_to_new_started_ms: median(start),
    new_started_to_running_ms: median(report),
    freed_to_next_made_ms: median(gaps),
    per_batch_ms: f.ms / Math.ceil(REPLICAS / parallelism),
  };
}

function showCycle(p: Peer, c: Record<string, number>): void {
  console.log(`  ${p.name} per slot (median ms): ${Object.entries(c).map(([k, v]) => `${k.replace(/_ms$/, "")} ${v.toFixed(0)}`).join(", ")}`);
}

type Side = { peer: ShoalLab | SwarmCluster; up: () => Promise<ShoalLab | SwarmCluster> };

/**
 * A figure, tried again on a fresh cluster when an update stalls (a stalled cluster may keep
 * containers it lost track of): the figure and the stalls met on the way.
 */
async function figureOf(side: Side, parallelism: number, tries: number): Promise<{ r: Awaited<ReturnType<typeof updateFigure>>; stalls: number }> {
  for (let attempt = 1; ; attempt++) {
    const r = await updateFigure(side.peer, parallelism);
    if (!("stalled" in r) || attempt >= tries) return { r, stalls: "stalled" in r ? attempt : attempt - 1 };
    await side.peer.stop();
    side.peer = await side.up();
  }
}

/** `--profile DIR`: Shoal alone, its daemon and CLI runs under the V8 profiler, for both figures. */
async function profile(dir: string): Promise<void> {
  console.log(`bench update --profile ${dir}: Shoal only, daemon and CLI under --cpu-prof (slowed by the profiler: not for quoting)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const labs: ShoalLab[] = [];
  const side: Side = { peer: await ShoalLab.up(LAB, 0, { profileDir: dir }), up: () => ShoalLab.up(LAB, 0, { profileDir: dir }) };
  const windows: Record<string, { lab: ShoalLab; w: Window }> = {};
  try {
    for (const par of [5, 1]) {
      const { r } = await figureOf(side, par, 3);
      const lab = side.peer as ShoalLab;
      if (!labs.includes(lab)) labs.push(lab);
      if ("stalled" in r) continue;
      showFigure(lab, `update parallelism ${par}`, r.f);
      showCycle(lab, r.c);
      windows[`par${par}`] = { lab, w: { from: r.f.t0Mono, to: r.f.t0Mono + r.f.ms * 1000 } };
    }
  } finally {
    await side.peer.stop();
  }
  for (const [k, { lab, w }] of Object.entries(windows)) showSummary(`\nm1 daemon during ${k}`, summarise(lab.profiles().daemons.m1, [w]), { wallMs: (w.to - w.from) / 1000 });
}

export async function main(args: string[]): Promise<void> {
  if (args.includes("--profile")) return profile(args[args.indexOf("--profile") + 1] || "/tmp/shoal-bench-profile-update");
  const load0 = await loadAvg();
  console.log(`bench update: ${REPLICAS} replicas busybox:1 → busybox:2, stop-first, delay 0; Shoal lab (1 manager alone) and Docker Swarm (1 dockerd); load average ${load0}`);
  const sides: Side[] = [{ peer: await ShoalLab.up(LAB, 0), up: () => ShoalLab.up(LAB, 0) }];
  const unhook = cleanupOnSignal(async () => {
    await SwarmCluster.down(SWARM);
    for (const side of sides) await side.peer.stop();
  });
  try {
    sides.push({ peer: await SwarmCluster.up(SWARM, 1), up: () => SwarmCluster.up(SWARM, 1) });
    const out: Record<string, unknown> = { replicas: REPLICAS, nodes: 1, shoal_nodes: "1 manager", swarm_nodes: "1 dockerd" };
    for (const [i, par] of [5, 1].entries()) {
      const secs: Record<string, number> = {};
      for (const side of i % 2 ? [...sides].reverse() : sides) {
        const { r, stalls } = await figureOf(side, par, 2);
        const p = side.peer;
        const pre = p.name === "shoal" ? "" : "swarm_";
        out[`${pre}par${par}_stalls`] = stalls;
        if ("stalled" in r) {
          secs[p.name] = NaN;
          out[`${pre}par${par}_s`] = null;
          out[`${pre}par${par}_stalled`] = r.stalled;
          continue;
        }
        const { f, c } = r;
        showFigure(p, `update parallelism ${par}`, f);
        showCycle(p, c);
        secs[p.name] = f.ms / 1000;
        out[`${pre}par${par}_s`] = round(f.ms / 1000);
        out[`${pre}par${par}_cli_ms`] = round(f.cliMs, 0);
        for (const [k, v] of Object.entries(c)) out[`${pre}par${par}_${k}`] = round(v, 0);
      }
      out[`par${par}_ratio`] = round(secs.shoal / secs.swarm, 3);
    }
    out.load_avg_start = load0;
    out.load_avg_end = await loadAvg();
    out.goals_met = (out.par5_ratio as number) <= 0.25 && (out.par1_ratio as number) <= 0.25 && !out.par5_stalls && !out.par1_stalls;
    console.log(JSON.stringify(out));
  } finally {
    unhook();
    for (const side of sides) await side.peer.stop();
  }
}
