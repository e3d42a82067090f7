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
export function summarise(files: string[], windows: Window[] = []): ProfileSummary {
  const area = new Map<string, number>();
  const fns = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, "utf8")) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, ProfileNode>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
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
