// The native runtime's container lifecycle against runc and crun on the same busybox rootfs:
// `run` of /bin/true (create, start, wait, delete), the shim's memory, and 100 detached starts.
// The same run with seccomp unconfined prices the default seccomp filter.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeBinary } from "../agent/engine/runtime/binary.js";
import { encodeSpec, type ContainerSpec } from "../agent/engine/runtime/spec.js";
import { makeBusyboxRootfs } from "../test/support/busybox.js";

const RUNS = 40;
const STARTS = 100;

export interface RuntimeFigures {
  runtime_ms: number;
  runtime_overlay_ms: number;
  runtime_unconfined_ms: number;
  runc_ms: number;
  crun_ms: number;
  unshare_ms: number;
  spawn_overhead_ms: number;
  shim_rss_kib: number;
  start100_s: number;
  crun_start100_s: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Wall time of one synchronous child process, in ms; throws if it fails. */
export function timed(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr?.toString().trim() || r.status}`);
  return ms;
}

/** An OCI bundle as `runc spec` makes it, running args without a terminal on an absolute root. */
export function ociBundle(dir: string, rootfs: string, args: string[]): string {
  mkdirSync(dir, { recursive: true });
  execFileSync("runc", ["spec", "--bundle", dir]);
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  cfg.process.terminal = false;
  cfg.process.args = args;
  cfg.root = { path: rootfs, readonly: true };
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  return dir;
}

// crun refuses this hybrid host while the cgroup2 mount is visible: a node child in a private
// mount namespace unmounts it there only, then times crun with the same spawnSync as the others.
const CRUN_SCRIPT = `
import { spawnSync } from "node:child_process";
const [mode, bundle, root, n] = process.argv.slice(2);
spawnSync("umount", ["/sys/fs/cgroup/unified"]);
const t = [];
// A detached container keeps the stdio it was given: no pipes, or spawnSync would wait for it.
const crun = (...a) => { const r = spawnSync("crun", ["--root", root, ...a], { stdio: "ignore" });
  if (r.status !== 0) throw new Error("crun " + a.join(" ") + ": exit " + r.status); };
if (mode === "run") {
  for (let i = 0; i < Number(n); i++) { const s = process.hrtime.bigint(); crun("run", "--bundle", bundle, "b" + process.pid + "-" + i); t.push(Number(process.hrtime.bigint() - s) / 1e6); }
} else {
  const s = process.hrtime.bigint();
  for (let i = 0; i < Number(n); i++) crun("run", "-d", "--bundle", bundle, "d" + process.pid + "-" + i);
  t.push(Number(process.hrtime.bigint() - s) / 1e6);
  for (let i = 0; i < Number(n); i++) { crun("kill", "d" + process.pid + "-" + i, "KILL"); }
  for (let i = 0; i < Number(n); i++) { crun("delete", "-f", "d" + process.pid + "-" + i); }
}
console.log(JSON.stringify(t));
`;

export function crunTimes(work: string, mode: "run" | "detach", bundle: string, n: number): number[] {
  const script = join(work, "crun-bench.mjs");
  writeFileSync(script, CRUN_SCRIPT);
  const out = execFileSync("unshare", ["-m", "--propagation", "private", process.execPath, script, mode, bundle, join(work, "crun-state"), String(n)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as number[];
}

function shoalSpec(id: string, rootfs: ContainerSpec["rootfs"], args: string[], extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { id, args, env: ["PATH=/bin"], rootfs, cgroupParent: "shoal-bench", ...extra };
}

export async function measureRuntime(): Promise<RuntimeFigures> {
  const work = mkdtempSync(join(tmpdir(), "shoal-bench-rt-"));
  const bin = runtimeBinary();
  const rootfs = makeBusyboxRootfs(join(work, "rootfs"));
  const stateDirs: string[] = [];
  try {
    const spawnOverhead = median(Array.from({ length: RUNS }, () => timed("/bin/true", [])));
    const unshare = median(Array.from({ length: RUNS }, () => timed("unshare", ["-fpmuin", "--mount-proc", "/bin/true"])));

    const plain: number[] = [];
    const unconfined: number[] = [];
    const overlay: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const p = join(work, `run-${i}.spec`);
      writeFileSync(p, encodeSpec(shoalSpec(`run-${process.pid}-${i}`, { dir: rootfs }, ["/bin/true"])));
      plain.push(timed(bin, ["run", p]));
      const u = join(work, `unconfined-${i}.spec`);
      writeFileSync(u, encodeSpec(shoalSpec(`unc-${process.pid}-${i}`, { dir: rootfs }, ["/bin/true"], { seccomp: "unconfined" })));
      unconfined.push(timed(bin, ["run", u]));
      const d = join(work, `ov-${i}`);
      for (const s of ["upper", "work", "merged"]) mkdirSync(join(d, s), { recursive: true });
      const o = join(work, `ov-${i}.spec`);
      const ovRootfs = { lowerDirs: [rootfs], upperDir: join(d, "upper"), workDir: join(d, "work") };
      writeFileSync(o, encodeSpec(shoalSpec(`ov-${process.pid}-${i}`, ovRootfs, ["/bin/true"])));
      overlay.push(timed(bin, ["run", o]));
    }

    const runcBundle = ociBundle(join(work, "runc-true"), rootfs, ["/bin/true"]);
    const runcRoot = join(work, "runc-state");
    const runc = Array.from({ length: RUNS }, (_, i) =>
      timed("runc", ["--root", runcRoot, "run", "--bundle", runcBundle, `r${process.pid}-${i}`]),
    );
    const crun = median(crunTimes(work, "run", runcBundle, RUNS));

    // The shim's memory, and 100 detached sleeps.
    const sleepSpecs = Array.from({ length: STARTS }, (_, i) => {
      const p = join(work, `sleep-${i}.spec`);
      writeFileSync(p, encodeSpec(shoalSpec(`sleep-${process.pid}-${i}`, { dir: rootfs }, ["sleep", "1000"])));
      return p;
    });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < STARTS; i++) {
      const dir = join(work, `state-${i}`);
      stateDirs.push(dir);
      timed(bin, ["start", sleepSpecs[i], dir]);
    }
    const start100 = Number(process.hrtime.bigint() - t0) / 1e9;
    const rss = stateDirs.map((d) => {
      const shim = readFileSync(join(d, "shim.pid"), "utf8").trim();
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${shim}/status`, "utf8"))![1]);
    });
    for (const d of stateDirs.splice(0)) timed(bin, ["delete", d]);
    const crunStart100 = crunTimes(work, "detach", ociBundle(join(work, "crun-sleep"), rootfs, ["sleep", "1000"]), STARTS)[0] / 1000;

    return {
      runtime_ms: median(plain),
      runtime_overlay_ms: median(overlay),
      runtime_unconfined_ms: median(unconfined),
      runc_ms: median(runc),
      crun_ms: crun,
      unshare_ms: unshare,
      spawn_overhead_ms: spawnOverhead,
      shim_rss_kib: median(rss),
      start100_s: start100,
      crun_start100_s: crunStart100,
    };
  } finally {
    for (const d of stateDirs) spawnSync(bin, ["delete", d]);
    rmSync(work, { recursive: true, force: true });
    for (const c of ["memory", "cpu", "cpuacct", "pids"]) {
      try { rmdirSync(`/sys/fs/cgroup/${c}/shoal-bench`); } catch { /* absent, or a cgroup v2 host */ }
    }
  }
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function main(_args: string[] = []): Promise<void> {
  const f = await measureRuntime();
  console.log(`run /bin/true (median of ${RUNS}, each including ~${round(f.spawn_overhead_ms)} ms of process spawn):`);
  console.log(`  shoal ${round(f.runtime_ms)} ms (seccomp unconfined ${round(f.runtime_unconfined_ms)} ms, overlay rootfs ${round(f.runtime_overlay_ms)} ms), crun ${round(f.crun_ms)} ms, runc ${round(f.runc_ms)} ms, unshare ${round(f.unshare_ms)} ms`);
  console.log(`  shim RSS ${f.shim_rss_kib} KiB; ${STARTS} detached sleeps: shoal ${round(f.start100_s)} s, crun ${round(f.crun_start100_s)} s`);
  const ratios = {
    runtime_vs_crun: round(f.runtime_ms / f.crun_ms, 3),
    seccomp_vs_unconfined: round(f.runtime_ms / f.runtime_unconfined_ms, 3),
    runtime_vs_runc: round(f.runtime_ms / f.runc_ms, 3),
    runtime_vs_unshare: round(f.runtime_ms / f.unshare_ms, 3),
    start100_vs_crun: round(f.start100_s / f.crun_start100_s, 3),
  };
  console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(f).map(([k, v]) => [k, round(v, 3)])), ...ratios }));
}
