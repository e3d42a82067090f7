import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Snapshotter } from "../../../manager/raft/snap/index.js";
import { newDataKey, recordCipher } from "../../../manager/ca/encryption.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function snapshotter(): { s: Snapshotter; dir: string; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "shoal-snap-"));
  dirs.push(dir);
  const lines: string[] = [];
  return { s: new Snapshotter(dir, (l) => lines.push(l)), dir, lines };
}
const snap = (index: number) => ({ data: Buffer.from(`state@${index}`), metadata: { index, term: 2, confState: { voters: [1, 2, 3], learners: [] } } });

describe("Snapshotter", () => {
  it("loads the newest snapshot saved", async () => {
    const { s } = snapshotter();
    expect(s.loadNewest()).toBeUndefined();
    await s.save(snap(10));
    await s.save(snap(30));
    await s.save(snap(20));
    const got = s.loadNewest()!;
    expect(got.metadata!.index).toBe(30);
    expect(Buffer.from(got.data).toString()).toBe("state@30");
    expect(got.metadata!.confState!.voters).toEqual([1, 2, 3]);
    expect(s.loadNewest(25)!.metadata!.index).toBe(20);
  });

  it("skips a damaged newest snapshot for an older valid one and says so", async () => {
    const { s, dir, lines } = snapshotter();
    await s.save(snap(10));
    const name = await s.save(snap(20));
    const buf = readFileSync(join(dir, name));
    buf[buf.length - 1] ^= 1;
    writeFileSync(join(dir, name), buf);
    expect(s.loadNewest()!.metadata!.index).toBe(10);
    expect(lines[0]).toMatch(/fails its checksum/);
  });

  it("purges all but the newest few", async () => {
    const { s, dir } = snapshotter();
    for (const i of [1, 2, 3, 4, 5]) await s.save(snap(i));
    writeFileSync(join(dir, "snap-x.snap.tmp"), "half");
    s.purge(2);
    expect(readdirSync(dir).sort()).toEqual([`snap-${"2".padStart(16, "0")}-${"4".padStart(16, "0")}.snap`, `snap-${"2".padStart(16, "0")}-${"5".padStart(16, "0")}.snap`]);
  });
});

describe("Snapshotter, encrypted at rest", () => {
  const sealed = (key: Buffer) => {
    const dir = mkdtempSync(join(tmpdir(), "shoal-snap-"));
    dirs.push(dir);
    return { s: new Snapshotter(dir, () => undefined, recordCipher(key)), dir };
  };

  it("writes no state in clear and reads it back with the same key", async () => {
    const key = newDataKey();
    const { s, dir } = sealed(key);
    const name = await s.save(snap(10));
    expect(readFileSync(join(dir, name)).includes(Buffer.from("state@10"))).toBe(false);
    expect(Buffer.from(new Snapshotter(dir, () => undefined, recordCipher(key)).loadNewest()!.data).toString()).toBe("state@10");
  });

  it("refuses to load under another key rather than fall back to an older snapshot", async () => {
    const { s, dir } = sealed(newDataKey());
    await s.save(snap(10));
    expect(() => new Snapshotter(dir, () => undefined, recordCipher(newDataKey())).loadNewest()).toThrow(/restore the data dir and its key file together/);
  });
});
