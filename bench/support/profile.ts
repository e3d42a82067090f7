// Profile mode of the cluster benches: a Shoal figure cut into the steps a task goes through,
// and for each step the wall time and where each daemon's CPU went (V8 profiles, bench/support/
// cpuprofile.ts), so the owners of each step see what to fix.
import { showSummary, summarise, type Window } from "./cpuprofile.js";
import { median, type Figure } from "./peer.js";
import type { ShoalLab } from "./shoal.js";

/**
 * A figure cut into the steps the owners asked about, as [from, to] ms after the CLI started.
 * The engine's own record times (container made, process started) split the node's part; the
 * task states in between are often not seen, as reports of one task are coalesced.
 */
export function phases(f: Figure): [string, number, number][] {
  const row = (s: string) => f.rows.find((r) => r.state === s);
  const written = f.serviceMs ?? row("created")?.first ?? 0;
  const assigned = row("assigned")?.last ?? written;
  const made = row("engine_created");
  const started = row("engine_started")?.last ?? f.ms;
  const running = row("running")?.last ?? f.ms;
  return [
    ["CLI start → spec proposed to Raft", 0, written],
    ["proposed → all tasks assigned (commit, orchestrator, allocator, scheduler)", written, assigned],
    ["assigned → first container made (commit, dispatcher push, worker, image resolve)", assigned, made?.first ?? assigned],
    ["first → last container made (engine create)", made?.first ?? assigned, made?.last ?? assigned],
    ["last made → last started (engine start: runtime, network attach)", made?.last ?? assigned, started],
    ["last started → all seen running (status report, commit, poll)", started, Math.max(running, f.ms)],
  ];
}

/** Profile mode's report: per figure and step, the wall time and where each daemon's CPU went. */
export function showProfile(lab: ShoalLab, figs: Record<string, Figure[]>): void {
  const p = lab.profiles();
  for (const [k, fs] of Object.entries(figs)) {
    console.log(`\n== ${k}: ${fs.map((f) => (f.ms / 1000).toFixed(2)).join(", ")} s`);
    for (let i = 0; i < phases(fs[0]).length; i++) {
      const name = phases(fs[0])[i][0];
      const windows: Window[] = fs.map((f) => {
        const [, a, b] = phases(f)[i];
        return { from: f.t0Mono + a * 1000, to: f.t0Mono + b * 1000 };
      });
      const wall = median(windows.map((w) => (w.to - w.from) / 1000));
      console.log(`-- ${name}: ${wall.toFixed(0)} ms (median wall)`);
      for (const [host, files] of Object.entries(p.daemons)) {
        const s = summarise(files, windows);
        if (s.totalMs >= 5) showSummary(`   ${host} daemon`, s, { functions: false });
      }
    }
  }
  showSummary(`\n== CLI (${p.cli.length} runs, whole processes)`, summarise(p.cli));
}
