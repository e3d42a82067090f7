// Reading V8 CPU profiles (node --cpu-prof) for a bench's profile mode: the self time of each
// function and of each part of the code base, counted only inside the windows the bench measured.
// Profile timestamps are CLOCK_MONOTONIC microseconds, the clock process.hrtime reads in any
// process, so a bench can cut a daemon's profile to the seconds of one figure.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Window {
  from: number; // monotonic µs
  to: number;
}

/** Now on the profiles' clock (monotonic µs). */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Which part of Shoal (or of Node) a frame belongs to: "manager/raft", "@grpc/grpc-js", "node:internal"… */
export function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native)";
  if (url.startsWith("node:")) return url.replace(/^node:(internal\/)?([^/]+).*$/, "node:$2");
  const nm = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const own = /\/dist\/((?:[^/]+\/)?[^/]+)\//.exec(url);
  return own ? own[1] : url.replace(/^.*\//, "");
}

export interface ProfileSummary {
  totalMs: number;
  byArea: [string, number][];
  byFunction: [string, number][];
  /** Self time charged to the nearest Shoal function on the stack (what called into Node or C). */
  byCaller: [string, number][];
}

const isOwn = (url: string) => url.includes("/dist/") && !url.includes("node_modules");
const frameName = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/dist\//, "").replace(/^file:\/\//, "")}:${n.callFrame.lineNumber + 1}`;

/** Self time by area and by function, within `windows` (all of it when none are given). */
/** A profile with its nodes by id and each node's parent. */
function loadProfile(file: string): { p: CpuProfile; byId: Map<number, ProfileNode>; parent: Map<number, ProfileNode> } {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  return { p, byId, parent };
}

export function summarise(files: string[], windows: Window[] = []): ProfileSummary {
  const area = new Map<string, number>();
  const fns = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const { p, byId, parent } = loadProfile(f);
    const ownCaller = (n: ProfileNode): string => {
      for (let x: ProfileNode | undefined = n; x; x = parent.get(x.id)) if (isOwn(x.callFrame.url)) return frameName(x);
      return "(no Shoal frame)";
    };
    let t = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i];
      const dt = p.timeDeltas[i + 1] ?? 0; // a sample stands for the time until the next one
      if (windows.length && !windows.some((w) => t >= w.from && t <= w.to)) continue;
      const n = byId.get(p.samples[i])!;
      const { functionName, url } = n.callFrame;
      if (functionName === "(idle)") continue;
      const a = areaOf(url, functionName);
      area.set(a, (area.get(a) ?? 0) + dt);
      const key = frameName(n);
      fns.set(key, (fns.get(key) ?? 0) + dt);
      const c = ownCaller(n);
      callers.set(c, (callers.get(c) ?? 0) + dt);
      total += dt;
    }
  }
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v / 1000] as [string, number]);
  return { totalMs: total / 1000, byArea: top(area, 12), byFunction: top(fns, 12), byCaller: top(callers, 12) };
}

export function showSummary(label: string, s: ProfileSummary, o: { wallMs?: number; functions?: boolean } = {}): void {
  const wall = o.wallMs ? ` in ${o.wallMs.toFixed(0)} ms of wall time` : "";
  console.log(`${label}: ${s.totalMs.toFixed(0)} ms of CPU${wall} (idle excluded)`);
  if (s.totalMs < 1) return;
  console.log(`  by area: ${s.byArea.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}`);
  console.log(`  by Shoal caller:`);
  for (const [k, v] of s.byCaller) if (v >= 1) console.log(`    ${v.toFixed(1).padStart(7)} ms  ${k}`);
  if (o.functions === false) return;
  console.log(`  by function (self):`);
  for (const [k, v] of s.byFunction) if (v >= 1) console.log(`    ${v.toFixed(1).padStart(7)} ms  ${k}`);
}

/** A stretch of a profile with no idle sample: the thread held without a break. */
export interface BusyStretch {
  /** Start on the profiles' clock (monotonic µs) and length in ms. */
  at: number;
  ms: number;
  /** Shoal's functions on the stack in most of its samples, with the share of samples, most first. */
  top: { frame: string; share: number }[];
}

/**
 * The longest stretches of `file` without an idle sample, at least `minMs` long, longest first
 * (only those overlapping `window`, if given).
 * A Raft member that holds its thread past the election timeout loses its leadership: these are
 * the passes to slice. (Back-to-back macrotasks with no idle time between count as one stretch.)
 */
export function busyStretches(file: string, minMs = 200, count = 5, window?: Window): BusyStretch[] {
  const { p, byId, parent } = loadProfile(file);
  const stretches: { start: number; end: number; samples: number[] }[] = [];
  let t = p.startTime;
  let cur: { start: number; end: number; samples: number[] } | undefined;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (byId.get(p.samples[i])!.callFrame.functionName === "(idle)") {
      if (cur) stretches.push({ ...cur, end: t });
      cur = undefined;
    } else (cur ??= { start: t, end: t, samples: [] }).samples.push(p.samples[i]);
  }
  return stretches
    .filter((s) => (s.end - s.start) / 1000 >= minMs && (!window || (s.end > window.from && s.start < window.to)))
    .sort((a, b) => b.end - b.start - (a.end - a.start))
    .slice(0, count)
    .map((s) => {
      const on = new Map<string, number>();
      for (const leaf of s.samples) {
        const seen = new Set<string>();
        for (let n: ProfileNode | undefined = byId.get(leaf); n; n = parent.get(n.id)) {
          if (!isOwn(n.callFrame.url)) continue;
          const f = frameName(n);
          if (!seen.has(f)) (seen.add(f), on.set(f, (on.get(f) ?? 0) + 1));
        }
      }
      const top = [...on].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([frame, n]) => ({ frame, share: n / s.samples.length }));
      return { at: s.start, ms: (s.end - s.start) / 1000, top };
    });
}

export function showStretches(label: string, stretches: BusyStretch[]): void {
  if (stretches.length === 0) return;
  console.log(`${label}: longest stretches without an idle sample`);
  for (const s of stretches) console.log(`  ${s.ms.toFixed(0)} ms at ${s.at} µs: ${s.top.map((x) => `${Math.round(100 * x.share)}% ${x.frame}`).join("; ")}`);
}
