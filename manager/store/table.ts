// One kind's objects with their secondary indexes: the committed state a transaction reads from.
import { type IndexName, type Kind, type StoreObject, KEPT_INDEXES, indexKeys } from "./kinds.js";

/**
 * An object with the keys it is indexed under, in KEPT_INDEXES order: an update touches only the
 * indexes whose key moved. One map of rows rather than one of objects beside one of keys, so a
 * write looks its id up once (measured neutral on the 100,000-task apply; kept as the simpler shape).
 * `keys` is left out while the table has built no index (see Table).
 */
export interface Row {
  o: StoreObject;
  keys?: (string | undefined)[];
}

/**
 * Each index is built on its first read and kept from then on. A follower applies every write but
 * reads few indexes, if any (a control API read there, `service ls` counting running tasks, wants
 * one): kept on every write, the five task indexes were about a tenth of a follower's CPU on the
 * 100,000-task bench. A leader's control loops read them all at once, so it keeps them all.
 */
export class Table {
  private readonly rows = new Map<string, Row>();
  private readonly names: readonly IndexName[];
  /**
   * Per kept index (KEPT_INDEXES order): key → rows, once built. Rows, not ids: a find by index
   * then reads each object without a look-up in the 100,000-row map (a third of the leader's
   * look-ups there on the 100,000-task bench).
   */
  private readonly indexes: (Map<string, Set<Row>> | undefined)[];
  /** Whether any index is built: then every row holds its keys. */
  private keyed = false;

  constructor(readonly kind: Kind) {
    this.names = KEPT_INDEXES[kind];
    this.indexes = this.names.map(() => undefined);
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

  /** The row holding `id`, for a `put` of the same id soon after (its look-up done once). */
  row(id: string): Row | undefined {
    return this.rows.get(id);
  }

  /**
   * Stores `o` in place of the object with its id; returns the one it replaced. `row`, when
   * given, is `row(o.id)` read since that id was last written (left out, or undefined, it is looked up).
   */
  put(o: StoreObject, row: Row | undefined = this.rows.get(o.id)): StoreObject | undefined {
    if (!this.keyed) {
      if (!row) {
        this.rows.set(o.id, { o });
        return undefined;
      }
      const old = row.o;
      row.o = o;
      return old;
    }
    const keys = indexKeys(this.kind, o);
    if (!row) {
      const added: Row = { o, keys };
      this.rows.set(o.id, added);
      for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.index(i, keys[i]!, added);
      return undefined;
    }
    const old = row.o;
    const was = row.keys!;
    row.o = o;
    row.keys = keys;
    for (let i = 0; i < keys.length; i++) {
      if (was[i] === keys[i]) continue;
      if (was[i] !== undefined) this.unindex(i, was[i]!, row);
      if (keys[i] !== undefined) this.index(i, keys[i]!, row);
    }
    return old;
  }

  remove(id: string): void {
    const row = this.rows.get(id);
    if (!row) return;
    if (row.keys) for (let i = 0; i < row.keys.length; i++) if (row.keys[i] !== undefined) this.unindex(i, row.keys[i]!, row);
    this.rows.delete(id);
  }

  /** The objects found under `key` in a kept index. */
  lookup(index: IndexName, key: string): StoreObject[] {
    const rows = this.built(index)?.get(key);
    const out: StoreObject[] = [];
    if (rows) for (const r of rows) out.push(r.o);
    return out;
  }

  count(index: IndexName, key: string): number {
    return this.built(index)?.get(key)?.size ?? 0;
  }

  /** The index, built now from every row if this is its first read; undefined if not kept. */
  private built(index: IndexName): Map<string, Set<Row>> | undefined {
    const i = this.names.indexOf(index);
    if (i < 0) return undefined;
    const have = this.indexes[i];
    if (have) return have;
    if (!this.keyed) {
      for (const row of this.rows.values()) row.keys = indexKeys(this.kind, row.o);
      this.keyed = true;
    }
    const idx = new Map<string, Set<Row>>();
    this.indexes[i] = idx;
    for (const row of this.rows.values()) if (row.keys![i] !== undefined) this.index(i, row.keys![i]!, row);
    return idx;
  }

  private index(i: number, key: string, row: Row): void {
    const idx = this.indexes[i];
    if (!idx) return;
    let rows = idx.get(key);
    if (!rows) idx.set(key, (rows = new Set()));
    rows.add(row);
  }

  private unindex(i: number, key: string, row: Row): void {
    const rows = this.indexes[i]?.get(key);
    if (!rows) return;
    rows.delete(row);
    if (rows.size === 0) this.indexes[i]!.delete(key);
  }
}
