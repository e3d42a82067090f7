// Crash-safe file replacement: write a temporary file, rename it over the old one. A reader
// always finds the old or the new content. Durable writes also flush both to the disk first.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { open, rename, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

let tmpSeq = 0;
const tmpName = (path: string) => `${path}.tmp-${process.pid}-${++tmpSeq}`;

/** Durable and atomic, synchronously: write, fsync, rename. */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

async function flush(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * One file's latest content, written in the background on libuv's threads (never blocking the
 * event loop), one write at a time and atomically (a temporary file renamed over it). Writes
 * asked for while one runs coalesce into one of the newest content: the file never goes back to
 * an older version, and a burst of changes costs one or two writes.
 */
export class LatestFile {
  private inFlight?: Promise<void>;
  private queued?: { data: () => string | Buffer; durable: boolean; done: Array<(err?: Error) => void> };

  constructor(readonly path: string, private readonly mode = 0o600) {}

  /** Resolves once `data()` (evaluated when its write starts) or a newer content is in the file; with `durable`, flushed to the disk too. */
  write(data: () => string | Buffer, durable = false): Promise<void> {
    return new Promise((resolve, reject) => {
      const q = (this.queued ??= { data, durable: false, done: [] });
      q.data = data;
      q.durable ||= durable;
      q.done.push((err) => (err ? reject(err) : resolve()));
      this.inFlight ??= this.drain();
    });
  }

  /** Resolves when no write is queued or running. */
  idle(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    while (this.queued) {
      const q = this.queued;
      this.queued = undefined;
      let err: Error | undefined;
      try {
        await replaceAsync(this.path, q.data(), q.durable, this.mode);
      } catch (e) {
        err = e as Error;
      }
      for (const done of q.done) done(err);
    }
    this.inFlight = undefined;
  }
}

async function replaceAsync(path: string, data: string | Buffer, durable: boolean, mode: number): Promise<void> {
  const tmp = tmpName(path);
  try {
    if (durable) {
      const fh = await open(tmp, "w", mode);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } else await writeFile(tmp, data, { mode });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (durable) await flush(dirname(path)); // the rename itself
}
