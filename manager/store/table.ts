// One kind's objects with their secondary indexes: the committed state a transaction reads from.
import { type IndexName, type Kind, type StoreObject, indexKeys } from "./kinds.js";

export class Table {
  readonly byId = new Map<string, StoreObject>();
  private readonly indexes = new Map<IndexName, Map<string, Set<string>>>();

  constructor(readonly kind: Kind) {}

  put(o: StoreObject): void {
    const old = this.byId.get(o.id);
    if (old) this.unindex(old);
    this.byId.set(o.id, o);
    for (const [name, key] of Object.entries(indexKeys(this.kind, o)) as [IndexName, string][]) {
      let idx = this.indexes.get(name);
      if (!idx) this.indexes.set(name, (idx = new Map()));
      let ids = idx.get(key);
      if (!ids) idx.set(key, (ids = new Set()));
      ids.add(o.id);
    }
  }

  remove(id: string): void {
    const old = this.byId.get(id);
    if (!old) return;
    this.unindex(old);
    this.byId.delete(id);
  }

  lookup(index: IndexName, key: string): Iterable<string> {
    return this.indexes.get(index)?.get(key) ?? [];
  }

  private unindex(o: StoreObject): void {
    for (const [name, key] of Object.entries(indexKeys(this.kind, o)) as [IndexName, string][]) {
      const ids = this.indexes.get(name)?.get(key);
      ids?.delete(o.id);
      if (ids?.size === 0) this.indexes.get(name)!.delete(key);
    }
  }
}
