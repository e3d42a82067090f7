// Test images built from the machine's busybox-static (nothing can be pulled from the internet).
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const BUSYBOX = "/bin/busybox";

/**
 * Fills `dir` with a small complete rootfs: busybox with every applet linked under /bin,
 * /etc/passwd and /etc/group (root and nobody), and the empty mount points a container needs.
 * `extra` files (path relative to the root → content) are written on top.
 */
export function makeBusyboxRootfs(dir: string, extra: Record<string, string> = {}): string {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} not found: apt-get install busybox-static`);
  for (const d of ["bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var/www", "usr/bin", "usr/sbin"]) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, "tmp"), 0o1777);
  copyFileSync(BUSYBOX, join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  const applets = execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const a of applets) {
    if (a === "busybox") continue;
    const link = join(dir, "bin", a);
    if (!existsSync(link)) symlinkSync("busybox", link);
  }
  writeFileSync(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(join(dir, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  writeFileSync(join(dir, "etc/hosts"), "127.0.0.1 localhost\n");
  for (const [path, content] of Object.entries(extra)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** A rootfs tarball (as `docker export` makes, for `shoal import`) of a fresh busybox rootfs. */
export function makeBusyboxTarball(tarPath: string, workDir: string, extra: Record<string, string> = {}): string {
  makeBusyboxRootfs(workDir, extra);
  execFileSync("tar", ["-C", workDir, "-cf", tarPath, "."]);
  return tarPath;
}
