// makeSpreadDir: the containers' parent directories, marked so ext4 spreads their subdirectories.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { makeSpreadDir } from "../../agent/engine/store/spread.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** lsattr's flags of DIR, or undefined where the filesystem has none (tmpfs, overlayfs). */
function flags(dir: string): string | undefined {
  try {
    return execFileSync("lsattr", ["-d", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split(" ")[0];
  } catch {
    return undefined;
  }
}

test("makes the directory root-only and, where the filesystem has flags, marks it a top directory", () => {
  const root = mkdtempSync(join(tmpdir(), "shoal-spread-"));
  dirs.push(root);
  const dir = join(root, "a", "containers");
  makeSpreadDir(dir);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  const f = flags(dir);
  if (f !== undefined && flags(root) !== undefined && statSync(root).dev === statSync("/").dev) expect(f).toContain("T");
  makeSpreadDir(dir); // again: already there
  expect(statSync(dir).isDirectory()).toBe(true);
});

test("a path that cannot be a directory is refused", () => {
  expect(() => makeSpreadDir("/proc/self/status/x")).toThrow(/ENOTDIR|ENOENT/);
});
