// Container records on disk, one directory per container, each record replaced atomically so a
// daemon killed at any moment finds either the old or the new state. Only what a power loss must
// not undo is flushed to the disk (saveDurable): that a container exists, and a user's stop or
// start; what ran with which pid is not, since after a power loss nothing runs any more.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ContainerConfig } from "../../../proto/gen/engine.js";
import { LatestFile } from "../store/atomic.js";
import { makeSpreadDir } from "../store/spread.js";
import { conflict, invalid, notFound } from "../errors.js";
import type { ContainerRecord } from "./record.js";

export class ContainerStore {
  private byId = new Map<string, ContainerRecord>();
  /** Each record's file, written in the background (a rename on ext4 took 1–2 ms of the daemon's thread). */
  private files = new Map<string, LatestFile>();
  /** all()'s answer until a record comes or goes. */
  private sorted?: ContainerRecord[];

  constructor(readonly root: string) {
    makeSpreadDir(root);
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

  /** Saves: the record at once, its file once this resolves (a crash of the daemon cannot undo it then). */
  save(rec: ContainerRecord): Promise<void> {
    return this.fileOf(this.put(rec)).write(() => this.encode(rec));
  }

  /** Saves and flushes to the disk; resolves once a power loss can no longer undo this state. */
  saveDurable(rec: ContainerRecord): Promise<void> {
    return this.fileOf(this.put(rec)).write(() => this.encode(rec), true);
  }

  /** Resolves once every record's latest state is in its file (a clean shutdown waits for it). */
  async flushed(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.idle()));
  }

  private fileOf(rec: ContainerRecord): LatestFile {
    let f = this.files.get(rec.id);
    if (!f) this.files.set(rec.id, (f = new LatestFile(this.file(rec.id))));
    return f;
  }

  /**
   * Gone at once for every reader; its files go in the background. Removing a container's tree
   * (upper dir, logs, etc files) took ~15 ms of the daemon's one thread here; one rename does not.
   * A daemon that stops before the files are gone finds the renamed directory, without a record,
   * and removes it at start.
   */
  delete(id: string): void {
    this.byId.delete(id);
    const file = this.files.get(id);
    this.files.delete(id);
    this.sorted = undefined;
    const doomed = join(this.root, `.removing-${id}`);
    try {
      renameSync(this.dir(id), doomed);
    } catch {
      rmSync(this.dir(id), { recursive: true, force: true });
      return;
    }
    // After a write still running (it fails, its directory gone): none lands in the tree being removed.
    void (file?.idle() ?? Promise.resolve())
      .then(() => rm(doomed, { recursive: true, force: true }))
      .catch((err) => console.error(`shoal daemon: removing ${doomed}: ${(err as Error).message}`));
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

  private put(rec: ContainerRecord): ContainerRecord {
    const had = this.byId.get(rec.id);
    if (!had) mkdirSync(this.dir(rec.id), { recursive: true, mode: 0o700 });
    if (had !== rec) this.sorted = undefined;
    this.byId.set(rec.id, rec);
    return rec;
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
