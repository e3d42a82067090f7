// Crash-safe file replacement: write a temporary file, fsync it, rename it over the old one.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

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
