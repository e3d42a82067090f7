// Crash-safe file replacement: write a temporary file, rename it over the old one. A reader
// always finds the old or the new content. Durable writes also flush both to the disk first.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
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

/**
 * Atomic against a crash of this process, not flushed: for state that a power loss makes moot
 * anyway (what ran, with which pid), rewritten often. ext4 orders a rename over an existing file
 * after its data, so after a power loss too the file holds one whole version.
 */
export function replaceFile(path: string, data: string | Buffer, mode = 0o600): void {
  const tmp = tmpName(path);
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

/**
 * Durable and atomic without blocking the event loop (fsync on libuv's threads). `stale()` is
 * asked once the data is on disk: true when a newer version of the file has been written
 * meanwhile (with replaceFile), which is then flushed instead of this one renamed over it.
 */
export async function writeFileDurable(path: string, data: string | Buffer, stale: () => boolean, mode = 0o600): Promise<void> {
  const tmp = tmpName(path);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (stale()) {
    unlinkSync(tmp);
    await flush(path);
  } else renameSync(tmp, path);
  await flush(dirname(path)); // the rename itself
}

async function flush(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
