// LatestFile: the engine's record files (container records, the bridge's addresses).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { LatestFile } from "../../agent/engine/store/atomic.js";

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), "shoal-atomic-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("LatestFile", () => {
  test("a burst of writes ends with the newest content and no temporary file", async () => {
    const dir = scratch();
    const f = new LatestFile(join(dir, "rec.json"));
    const writes = Array.from({ length: 20 }, (_, i) => f.write(() => `v${i}`, i % 3 === 0));
    await Promise.all(writes);
    await f.idle();
    expect(readFileSync(join(dir, "rec.json"), "utf8")).toBe("v19");
    expect(readdirSync(dir)).toEqual(["rec.json"]);
  });

  test("a write that cannot be made rejects and leaves nothing behind", async () => {
    const dir = scratch();
    const f = new LatestFile(join(dir, "missing", "rec.json"));
    await expect(f.write(() => "x", true)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
    // The next write goes through once its directory exists.
    const g = new LatestFile(join(dir, "rec.json"));
    await g.write(() => Buffer.alloc(300_000, 7), true);
    expect(readFileSync(join(dir, "rec.json")).length).toBe(300_000);
  });
});
