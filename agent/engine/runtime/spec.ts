// The container spec the native runtime reads: one `key value...` line per setting, each field
// percent-encoded (docs/runtime.md). Written here, parsed by native/src/spec.c.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface OverlayRootfs {
  /** Image layers, lowest first. */
  lowerDirs: string[];
  upperDir: string;
  workDir: string;
  /** Where the overlay is mounted inside the container's mount namespace; default <upperDir>/../merged. */
  mountPoint?: string;
}

export interface BindMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerSpec {
  id: string;
  args: string[];
  env?: string[];
  cwd?: string;
  user?: { uid: number; gid: number; additionalGids?: number[] };
  hostname?: string;
  rootfs: OverlayRootfs | { dir: string };
  mounts?: BindMount[];
  /** "new" (only lo, up), "host", or the path of a network namespace to join. Default "new". */
  netns?: string;
  memoryBytes?: number;
  cpu?: { quotaUs: number; periodUs: number };
  pidsMax?: number;
  /** Default "shoal": cgroups go to <hierarchy>/<cgroupParent>/<id>. */
  cgroupParent?: string;
  /** "default" (Docker's default profile, the default) or "unconfined", as `--security-opt seccomp=unconfined`. */
  seccomp?: "default" | "unconfined";
}

/** --cpus as a CFS quota over the default 100 ms period. */
export function cpusToQuota(cpus: number, periodUs = 100_000): { quotaUs: number; periodUs: number } {
  return { quotaUs: Math.max(1000, Math.round(cpus * periodUs)), periodUs };
}

/** Percent-encodes every byte outside printable ASCII, and space and '%', so a field is one token. */
export function encodeField(value: string): string {
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    out += b > 0x20 && b < 0x7f && b !== 0x25 ? String.fromCharCode(b) : "%" + b.toString(16).padStart(2, "0");
  }
  return out;
}

export function mountPointOf(rootfs: ContainerSpec["rootfs"]): string {
  return "dir" in rootfs ? rootfs.dir : (rootfs.mountPoint ?? join(dirname(rootfs.upperDir), "merged"));
}

export function encodeSpec(spec: ContainerSpec): string {
  const lines: string[][] = [["version", "1"], ["id", spec.id]];
  for (const a of spec.args) lines.push(["arg", a]);
  for (const e of spec.env ?? []) lines.push(["env", e]);
  if (spec.cwd) lines.push(["cwd", spec.cwd]);
  if (spec.user) {
    lines.push(["user", String(spec.user.uid), String(spec.user.gid)]);
    for (const g of spec.user.additionalGids ?? []) lines.push(["group", String(g)]);
  }
  if (spec.hostname) lines.push(["hostname", spec.hostname]);
  lines.push(["rootfs", mountPointOf(spec.rootfs)]);
  if (!("dir" in spec.rootfs)) {
    for (const l of spec.rootfs.lowerDirs) lines.push(["lower", l]);
    lines.push(["upper", spec.rootfs.upperDir], ["work", spec.rootfs.workDir]);
  }
  for (const m of spec.mounts ?? []) lines.push(["mount", m.source, m.destination, m.readOnly ? "ro" : "rw"]);
  lines.push(["netns", spec.netns ?? "new"]);
  if (spec.memoryBytes) lines.push(["memory", String(Math.floor(spec.memoryBytes))]);
  if (spec.cpu) lines.push(["cpu", String(spec.cpu.quotaUs), String(spec.cpu.periodUs)]);
  if (spec.pidsMax) lines.push(["pids", String(spec.pidsMax)]);
  if (spec.cgroupParent) lines.push(["cgroup_parent", spec.cgroupParent]);
  if (spec.seccomp === "unconfined") lines.push(["seccomp", "unconfined"]);
  return lines.map((l) => l.map(encodeField).join(" ")).join("\n") + "\n";
}

/**
 * Writes the spec file, and makes the overlay's mount point (the runtime mounts onto it). On the
 * caller's thread: two small operations cost less so than two trips through libuv's threads.
 */
export async function writeSpec(spec: ContainerSpec, path: string): Promise<void> {
  if (!("dir" in spec.rootfs)) mkdirSync(mountPointOf(spec.rootfs), { recursive: true });
  writeFileSync(path, encodeSpec(spec));
}
