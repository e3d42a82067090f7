import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wal, WalCorruptError } from "../../../manager/raft/wal/index.js";
import type { Entry } from "../../../proto/gen/raft.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "shoal-wal-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const quiet = { log: () => {} };
function ents(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: 0, data: Buffer.from(`value-${i}`) });
  return out;
}
function lastSegment(dir: string): string {
  return join(dir, readdirSync(dir).filter((f) => f.endsWith(".log")).sort().at(-1)!);
}

describe("WAL replay", () => {
  it("returns the hard state and entries written before close", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, quiet);
    await wal.save({ term: 2, vote: 1, commit: 0 }, ents(1, 5, 2));
    await wal.save({ term: 2, vote: 1, commit: 5 }, []);
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, quiet);
    expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 5 });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
    expect(Buffer.from(state.entries[4].data).toString()).toBe("value-5");
    await again.close();
  });

  it("lets a newer leader's entries overwrite a conflicting suffix", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, quiet);
    await wal.save(undefined, ents(1, 6, 1));
    await wal.save(undefined, ents(4, 5, 2));
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, quiet);
    expect(state.entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 1], [4, 2], [5, 2]]);
    await again.close();
  });

  it("starts the log after the newest snapshot marker", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, quiet);
    await wal.save(undefined, ents(1, 10));
    await wal.saveSnapshotMarker(7, 1);
    await wal.save(undefined, ents(11, 12));
    await wal.saveSnapshotMarker(100, 3); // an installed snapshot far ahead discards the old log
    await wal.save(undefined, ents(101, 101, 3));
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, quiet);
    expect(state.markers).toEqual([{ index: 7, term: 1 }, { index: 100, term: 3 }]);
    expect(state.entries.map((e) => e.index)).toEqual([101]);
    await again.close();
  });
});

describe("WAL group commit", () => {
  it("shares one sync between appends issued together and keeps their order", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, quiet);
    await Promise.all(Array.from({ length: 50 }, (_, i) => wal.save({ term: 1, vote: 0, commit: i }, ents(i + 1, i + 1))));
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, quiet);
    expect(state.entries).toHaveLength(50);
    expect(state.hardState.commit).toBe(49);
    await again.close();
  });
});

describe("WAL segments", () => {
  it("rolls over and releases segments wholly below a snapshot, keeping the hard state", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, { ...quiet, segmentBytes: 512 });
    await wal.save({ term: 1, vote: 2, commit: 0 }, []);
    for (let i = 1; i <= 40; i++) await wal.save(undefined, ents(i, i));
    expect(wal.segmentCount()).toBeGreaterThan(2);
    await wal.saveSnapshotMarker(30, 1);
    const before = wal.segmentCount();
    expect(wal.releaseTo(30)).toBeGreaterThan(0);
    expect(wal.segmentCount()).toBeLessThan(before);
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, quiet);
    expect(state.hardState.vote).toBe(2);
    expect(state.entries.map((e) => e.index)).toEqual(ents(31, 40).map((e) => e.index));
    await again.close();
  });
});

describe("WAL recovery", () => {
  const SEGMENT = 4096;
  async function writeLog(dir: string): Promise<number> {
    const { wal } = await Wal.open(dir, { ...quiet, segmentBytes: SEGMENT });
    await wal.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3));
    const lastStart = usedBytes(lastSegment(dir));
    await wal.save(undefined, ents(4, 4));
    await wal.close();
    return lastStart; // offset where the last record starts
  }

  // A torn write leaves a prefix of the last record: in a preallocated segment zeros follow it,
  // in one written before preallocation the file simply ends.
  for (const shape of ["zero-padded", "cut short"] as const) {
    it(`cuts a torn last record at every byte offset and keeps everything before it (${shape})`, async () => {
      const dir = tempDir();
      const lastStart = await writeLog(dir);
      const file = lastSegment(dir);
      const full = readFileSync(file);
      const end = usedBytes(file);
      for (let cut = lastStart; cut < end; cut++) {
        writeFileSync(file, shape === "cut short" ? full.subarray(0, cut) : Buffer.concat([full.subarray(0, cut), Buffer.alloc(full.length - cut)]));
        const lines: string[] = [];
        const { wal, state } = await Wal.open(dir, { log: (l) => lines.push(l), segmentBytes: SEGMENT });
        expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
        expect(lines.length).toBe(cut === lastStart ? 0 : 1);
        await wal.close();
        expect(usedBytes(file)).toBe(lastStart);
        expect(statSync(file).size).toBe(SEGMENT);
      }
    });
  }

  it("cuts a last record with any single bit flipped", async () => {
    const dir = tempDir();
    const lastStart = await writeLog(dir);
    const file = lastSegment(dir);
    const full = readFileSync(file);
    for (let byte = lastStart; byte < usedBytes(file); byte++) {
      for (const bit of [0, 3, 7]) {
        const bad = Buffer.from(full);
        bad[byte] ^= 1 << bit;
        writeFileSync(file, bad);
        const lines: string[] = [];
        const { wal, state } = await Wal.open(dir, { log: (l) => lines.push(l), segmentBytes: SEGMENT });
        expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3]);
        expect(lines[0]).toMatch(/cut damaged last record at offset/);
        await wal.close();
      }
    }
  });

  it("appends after the last record when reopened, over the preallocated zeros", async () => {
    const dir = tempDir();
    await writeLog(dir);
    const { wal } = await Wal.open(dir, { ...quiet, segmentBytes: SEGMENT });
    await wal.save({ term: 2, vote: 0, commit: 4 }, ents(5, 6, 2));
    await wal.close();
    const { wal: again, state } = await Wal.open(dir, { ...quiet, segmentBytes: SEGMENT });
    expect(state.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(state.hardState).toEqual({ term: 2, vote: 0, commit: 4 });
    expect(statSync(lastSegment(dir)).size).toBe(SEGMENT); // the file never grew
    await again.close();
  });

  it("cuts a zero-filled tail left by a crash after the file grew", async () => {
    const dir = tempDir();
    await writeLog(dir);
    const file = lastSegment(dir);
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(4096)]));
    const { wal, state } = await Wal.open(dir, quiet);
    expect(state.entries).toHaveLength(4);
    await wal.close();
  });

  it("refuses to start on a corrupt record that valid records follow, naming file and offset", async () => {
    const dir = tempDir();
    await writeLog(dir);
    const file = lastSegment(dir);
    const bad = readFileSync(file);
    bad[20] ^= 0xff; // inside the first record's payload
    writeFileSync(file, bad);
    const err = await Wal.open(dir, quiet).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalCorruptError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toMatch(/corrupt at offset 0 \(checksum mismatch\) and valid records follow/);
    expect(readFileSync(file)).toEqual(bad); // nothing was cut
  });

  it("refuses to start on damage in a segment that is not the last", async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, { ...quiet, segmentBytes: 256 });
    for (let i = 1; i <= 20; i++) await wal.save(undefined, ents(i, i));
    await wal.close();
    const first = join(dir, readdirSync(dir).sort()[0]);
    const buf = readFileSync(first);
    buf[usedBytes(first) - 3] ^= 0x40; // the segment's last record
    writeFileSync(first, buf);
    await expect(Wal.open(dir, quiet)).rejects.toThrow(/later segments follow/);
  });
});

/** Bytes up to the last non-zero one: where a preallocated segment's records end. */
function usedBytes(file: string): number {
  const b = readFileSync(file);
  let i = b.length;
  while (i > 0 && b[i - 1] === 0) i--;
  return i;
}
