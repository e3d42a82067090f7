// The init layer: one read-only layer, shared by every container, laid over its image. It holds
// the mount points the runtime binds over (/etc/hosts, /etc/hostname, /etc/resolv.conf) and the
// directories it mounts on (/proc, /sys, /dev), so a start never has to make them in the
// container's own upper layer. Making them there copied /etc up and created four or five files per
// container: on ext4 each new inode costs a scan of the group's free inodes, and an image's
// symlinked /etc/resolv.conf would have been followed. Docker keeps a per-container "-init"
// layer for the same files; theirs never differ between containers, so one serves all.
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const DIRS = ["etc", "proc", "sys", "dev"];
const FILES = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/** Makes (or repairs: a daemon killed half-way) the init layer at dir; returns dir. */
export function ensureInitLayer(dir: string): string {
  for (const d of DIRS) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of FILES) {
    const p = join(dir, f);
    if (!existsSync(p) || !statSync(p).isFile()) writeFileSync(p, "", { mode: 0o644 });
  }
  return dir;
}
