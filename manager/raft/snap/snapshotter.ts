// Snapshot files: one checksummed file per snapshot, written to a temp file, synced, renamed into
// place and the directory synced, so a crash leaves either the old set or the new set intact.
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Snapshot } from "../../../proto/gen/raft.js";
import { syncDir } from "../wal/index.js";
import type { RecordSealer } from "../wal/record.js";

/** The context a sealed snapshot body is authenticated under. */
const SNAPSHOT_CONTEXT = "raft-snapshot";

/** A snapshot file that passes its checksum but does not open under the member's data key. */
export class SnapshotDecryptError extends Error {}

const NAME = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export class Snapshotter {
  constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void = (l) => console.error(l),
    /** With a sealer, bodies are written sealed and must open on load (the checksum covers the sealed bytes). */
    private readonly sealer?: RecordSealer,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** Writes `snap` durably; the file is complete or absent after a crash. Async, so a large state does not stall the caller's event loop. */
  async save(snap: Snapshot): Promise<string> {
    const meta = snap.metadata!;
    const plain = Snapshot.encode(snap).finish();
    const body = this.sealer ? this.sealer.encrypt(plain, SNAPSHOT_CONTEXT) : Buffer.from(plain);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(crc32(body), 0);
    const name = `snap-${hex(meta.term)}-${hex(meta.index)}.snap`;
    const tmp = join(this.dir, `${name}.tmp`);
    const f = await open(tmp, "w");
    try {
      await f.writev([head, body]);
      await f.datasync();
    } finally {
      await f.close();
    }
    renameSync(tmp, join(this.dir, name));
    syncDir(this.dir);
    return name;
  }

  /** The newest snapshot whose checksum holds (optionally at or below `maxIndex`), skipping damaged ones. */
  loadNewest(maxIndex = Infinity): Snapshot | undefined {
    for (const f of this.files()) {
      if (f.index > maxIndex) continue;
      const buf = readFileSync(join(this.dir, f.name));
      if (buf.length < 4 || crc32(buf.subarray(4)) !== buf.readUInt32LE(0)) {
        this.log(`snap: ${join(this.dir, f.name)} fails its checksum; skipping it for an older snapshot`);
        continue;
      }
      if (!this.sealer) return Snapshot.decode(buf.subarray(4));
      try {
        return Snapshot.decode(this.sealer.decrypt(buf.subarray(4), SNAPSHOT_CONTEXT));
      } catch (err) {
        // Not skipped for an older one: a wrong key opens none of them, and tampering must stop the member.
        throw new SnapshotDecryptError(`snap: ${join(this.dir, f.name)}: ${(err as Error).message}; restore the data dir and its key file together`);
      }
    }
    return undefined;
  }

  /** Keeps the newest `keep` snapshot files and removes older ones and leftover temp files. */
  purge(keep: number): void {
    for (const f of this.files().slice(keep)) unlinkSync(join(this.dir, f.name));
    for (const name of readdirSync(this.dir)) if (name.endsWith(".snap.tmp")) unlinkSync(join(this.dir, name));
  }

  /** Snapshot files, newest first. */
  private files(): { name: string; term: number; index: number }[] {
    return readdirSync(this.dir)
      .map((name) => ({ name, m: NAME.exec(name) }))
      .filter((f) => f.m)
      .map((f) => ({ name: f.name, term: parseInt(f.m![1], 16), index: parseInt(f.m![2], 16) }))
      .sort((a, b) => b.index - a.index || b.term - a.term);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(16, "0");
}
