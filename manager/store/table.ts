// One kind's objects with their secondary indexes: the committed state a transaction reads from.
import { type IndexName, type Kind, type StoreObject, indexKeys } from "./kinds.js";

type Keys = Partial<Record<IndexName, string>>;

export class Table {
  readonly byId = new Map<string, StoreObject>();
  private readonly indexes = new Map<IndexName, Map<string, Set<string>>>();
  /** The keys each object is indexed under, so an update touches only the indexes whose key moved. */
  private readonly keysOf = new Map<string, Keys>();

  constructor(readonly kind: Kind) {}

  put(o: StoreObject): void {
    const old = this.keysOf.get(o.id) ?? {};
    const keys = indexKeys(this.kind, o);
    this.byId.set(o.id, o);
    this.keysOf.set(o.id, keys);
    for (const name in old) {
      const was = old[name as IndexName];
      if (was !== undefined && keys[name as IndexName] !== was) this.unindex(name as IndexName, was, o.id);
    }
    for (const name in keys) {
      const key = keys[name as IndexName]!;
      if (old[name as IndexName] === key) continue;
      let idx = this.indexes.get(name as IndexName);
      if (!idx) this.indexes.set(name as IndexName, (idx = new Map()));
      let ids = idx.get(key);
      if (!ids) idx.set(key, (ids = new Set()));
      ids.add(o.id);
    }
  }

  remove(id: string): void {
    const keys = this.keysOf.get(id);
    if (!keys) return;
    for (const name in keys) this.unindex(name as IndexName, keys[name as IndexName]!, id);
    this.keysOf.delete(id);
    this.byId.delete(id);
  }

  lookup(index: IndexName, key: string): Iterable<string> {
    return this.indexes.get(index)?.get(key) ?? [];
  }

  count(index: IndexName, key: string): number {
    return this.indexes.get(index)?.get(key)?.size ?? 0;
  }

  private unindex(name: IndexName, key: string, id: string): void {
    const idx = this.indexes.get(name);
    const ids = idx?.get(key);
    ids?.delete(id);
    if (ids?.size === 0) idx!.delete(key);
  }
}
