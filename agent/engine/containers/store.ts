// Container records on disk, one directory per container, each record replaced atomically so a
// daemon killed at any moment finds either the old or the new state.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ContainerConfig } from "../../../proto/gen/engine.js";
import { writeFileAtomic } from "../store/atomic.js";
import { conflict, invalid, notFound } from "../errors.js";
import type { ContainerRecord } from "./record.js";

export class ContainerStore {
  private byId = new Map<string, ContainerRecord>();

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

  all(): ContainerRecord[] {
    return [...this.byId.values()].sort((a, b) => b.created.localeCompare(a.created));
  }

  save(rec: ContainerRecord): void {
    mkdirSync(this.dir(rec.id), { recursive: true, mode: 0o700 });
    writeFileAtomic(join(this.dir(rec.id), "container.json"), JSON.stringify({ ...rec, config: ContainerConfig.toJSON(rec.config) }));
    this.byId.set(rec.id, rec);
  }

  delete(id: string): void {
    this.byId.delete(id);
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  nameTaken(name: string): ContainerRecord | undefined {
    return [...this.byId.values()].find((c) => c.name === name);
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
