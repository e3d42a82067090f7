// Container records on disk, one directory per container, each record replaced atomically so a
// daemon killed at any moment finds either the old or the new state. Only what a power loss must
// not undo is flushed to the disk (saveDurable): that a container exists, and a user's stop or
// start; what ran with which pid is not, since after a power loss nothing runs any more.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ContainerConfig } from "../../../proto/gen/engine.js";
import { replaceFile, writeFileDurable } from "../store/atomic.js";
import { conflict, invalid, notFound } from "../errors.js";
import type { ContainerRecord } from "./record.js";

export class ContainerStore {
  private byId = new Map<string, ContainerRecord>();
  /** Writes of each record so far: a durable write overtaken by a later one does not undo it. */
  private writes = new Map<string, number>();
  /** all()'s answer until a record comes or goes. */
  private sorted?: ContainerRecord[];

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    for (const id of readdirSync(root)) {
      const file = join(root, id, "container.json");
      if (!existsSync(file)) {
        rmSync(join(root, id), { recursive: true, force: true }); // a create that never finished
        continue;
      }
      const rec = JSON.parse(readFileSync(file, "utf8")) as ContainerRecord;
      rec.config = ContainerConfig.fromJSON(rec.config);
      this.byId.set(id, rec);
    }
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  /** Newest first. The same array until a container is added or removed: callers must not change it. */
  all(): ContainerRecord[] {
    this.sorted ??= [...this.byId.values()].sort((a, b) => b.created.localeCompare(a.created));
    return this.sorted;
  }

  save(rec: ContainerRecord): void {
    this.put(rec);
    replaceFile(this.file(rec.id), this.encode(rec));
  }

  /** Saves and flushes to the disk; resolves once a power loss can no longer undo this state. */
  async saveDurable(rec: ContainerRecord): Promise<void> {
    const n = this.put(rec);
    await writeFileDurable(this.file(rec.id), this.encode(rec), () => this.writes.get(rec.id) !== n);
  }

  /**
   * Gone at once for every reader; its files go in the background. Removing a container's tree
   * (upper dir, logs, etc files) took ~15 ms of the daemon's one thread here; one rename does not.
   * A daemon that stops before the files are gone finds the renamed directory, without a record,
   * and removes it at start.
   */
  delete(id: string): void {
    this.byId.delete(id);
    this.writes.delete(id);
    this.sorted = undefined;
    const doomed = join(this.root, `.removing-${id}`);
    try {
      renameSync(this.dir(id), doomed);
    } catch {
      rmSync(this.dir(id), { recursive: true, force: true });
      return;
    }
    rm(doomed, { recursive: true, force: true }).catch((err) => console.error(`shoal daemon: removing ${doomed}: ${(err as Error).message}`));
  }

  nameTaken(name: string): ContainerRecord | undefined {
    for (const c of this.byId.values()) if (c.name === name) return c;
    return undefined;
  }

  private file(id: string): string {
    return join(this.dir(id), "container.json");
  }

  private encode(rec: ContainerRecord): string {
    return JSON.stringify({ ...rec, config: ContainerConfig.toJSON(rec.config) });
  }

  private put(rec: ContainerRecord): number {
    const had = this.byId.get(rec.id);
    if (!had) mkdirSync(this.dir(rec.id), { recursive: true, mode: 0o700 });
    if (had !== rec) this.sorted = undefined;
    this.byId.set(rec.id, rec);
    const n = (this.writes.get(rec.id) ?? 0) + 1;
    this.writes.set(rec.id, n);
    return n;
  }

  /** Finds a container by full id, name, or unique id prefix (as docker does). */
  get(ref: string): ContainerRecord {
    if (!ref) throw invalid("no container given: name a container by its name or id");
    const exact = this.byId.get(ref) ?? this.nameTaken(ref.replace(/^\//, ""));
    if (exact) return exact;
    const matches = /^[0-9a-f]+$/.test(ref) ? [...this.byId.keys()].filter((id) => id.startsWith(ref)) : [];
    if (matches.length === 1) return this.byId.get(matches[0])!;
    if (matches.length > 1) throw conflict(`container id prefix ${ref} is ambiguous: give more characters`);
    throw notFound(`no such container: ${ref}`);
  }
}
