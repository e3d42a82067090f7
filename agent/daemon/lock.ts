// One daemon per data root: a pid file created atomically (link(2) fails if it exists). A pid
// file whose process is gone is stale and replaced.
import { existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A zombie (killed, not yet reaped by its parent) holds no lock: it will never run again. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Takes the data root's lock or throws a user-facing error naming the daemon that holds it. */
export function lockDataRoot(dataRoot: string): () => void {
  const file = join(dataRoot, "shoal.pid");
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, file);
        return () => {
          try {
            if (readFileSync(file, "utf8").trim() === String(process.pid)) unlinkSync(file);
          } catch {
            /* already gone */
          }
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const holder = Number(readFileSync(file, "utf8").trim());
        if (holder && holder !== process.pid && alive(holder))
          throw new Error(`another shoal daemon (pid ${holder}) is already using data root ${dataRoot}: stop it or pass a different --data-root`);
        if (existsSync(file)) unlinkSync(file); // stale: its daemon died
      }
    }
    throw new Error(`could not lock data root ${dataRoot}: remove ${file} if no daemon is running`);
  } finally {
    unlinkSync(tmp);
  }
}
