// One kind's objects with their secondary indexes: the committed state a transaction reads from.
import { type IndexName, type Kind, type StoreObject, KEPT_INDEXES, indexKeys } from "./kinds.js";

/**
 * An object with the keys it is indexed under, in KEPT_INDEXES order: an update touches only the
 * indexes whose key moved. One map of rows rather than one of objects beside one of keys, so a
 * write looks its id up once (measured neutral on the 100,000-task apply; kept as the simpler shape).
 */
interface Row {
  o: StoreObject;
  keys: (string | undefined)[];
}

export class Table {
  private readonly rows = new Map<string, Row>();
  private readonly names: readonly IndexName[];
  /** Per kept index (KEPT_INDEXES order): key → ids. */
  private readonly indexes: Map<string, Set<string>>[];

  constructor(readonly kind: Kind) {
    this.names = KEPT_INDEXES[kind];
    this.indexes = this.names.map(() => new Map());
  }

  get(id: string): StoreObject | undefined {
    return this.rows.get(id)?.o;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Every object, in the order first written. */
  objects(): StoreObject[] {
    const out: StoreObject[] = [];
    for (const r of this.rows.values()) out.push(r.o);
    return out;
  }

  /** Stores `o` in place of the object with its id; returns the one it replaced. */
  put(o: StoreObject): StoreObject | undefined {
    const keys = indexKeys(this.kind, o);
    const row = this.rows.get(o.id);
    if (!row) {
      this.rows.set(o.id, { o, keys });
      for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.index(i, keys[i]!, o.id);
      return undefined;
    }
    const old = row.o;
    const was = row.keys;
    row.o = o;
    row.keys = keys;
    for (let i = 0; i < keys.length; i++) {
      if (was[i] === keys[i]) continue;
      if (was[i] !== undefined) this.unindex(i, was[i]!, o.id);
      if (keys[i] !== undefined) this.index(i, keys[i]!, o.id);
    }
    return old;
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (!row) return;
    for (let i = 0; i < row.keys.length; i++) if (row.keys[i] !== undefined) this.unindex(i, row.keys[i]!, id);
    this.rows.delete(id);
  }

  lookup(index: IndexName, key: string): Iterable<string> {
    return this.indexes[this.names.indexOf(index)]?.get(key) ?? [];
  }

  count(index: IndexName, key: string): number {
    return this.indexes[this.names.indexOf(index)]?.get(key)?.size ?? 0;
  }

  private index(i: number, key: string, id: string): void {
    const idx = this.indexes[i];
    let ids = idx.get(key);
    if (!ids) idx.set(key, (ids = new Set()));
    ids.add(id);
  }

  private unindex(i: number, key: string, id: string): void {
    const idx = this.indexes[i];
    const ids = idx.get(key);
    ids?.delete(id);
    if (ids?.size === 0) idx.delete(key);
  }
}
