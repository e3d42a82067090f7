// Transactions: a write overlay over committed tables (or over a parent transaction, for batches),
// turned into a ChangeSet at commit.
import { StoreActionKind, type StoreAction } from "../../proto/gen/cluster.js";
import { ExistsError, NameConflictError, NotFoundError } from "./errors.js";
import { type Kind, type ObjectOf, type StoreObject, UNIQUE_NAMES, keyOf, nameOf, toAction } from "./kinds.js";
import type { By, ReadTx, WriteTx } from "./types.js";
import { checkTransition } from "./rules.js";

/** Reads committed state; a transaction reads through it. */
export interface Source {
  get(kind: Kind, id: string): StoreObject | undefined;
  find(kind: Kind, by: By): StoreObject[];
  count?(kind: Kind, by: By): number;
  readonly version: number;
}

interface Pending {
  kind: Kind;
  id: string;
  object: StoreObject | null; // null: deleted
  created: boolean; // the object did not exist below this transaction
}

const key = (kind: Kind, id: string) => `${kind}\u0000${id}`;

export function matches(kind: Kind, o: StoreObject, by: By): boolean {
  if ("all" in by) return true;
  if ("idPrefix" in by) return o.id.startsWith(by.idPrefix);
  return keyOf(kind, o, by.index) === String(by.value);
}

/** Every transaction's writes until its first: most are views, made per event or beat, and never write. */
const NO_WRITES: ReadonlyMap<string, Pending> = new Map();

export class Transaction implements WriteTx {
  private pending = NO_WRITES as Map<string, Pending>;

  constructor(
    private readonly below: Source,
    private readonly newId: () => string,
  ) {}

  get version(): number {
    return this.below.version;
  }

  get<K extends Kind>(kind: K, id: string): ObjectOf[K] | undefined {
    // Most reads are in views, with nothing pending: no key string to build.
    return (this.pending.size > 0 ? this.read(kind, id, key(kind, id)) : this.below.get(kind, id)) as ObjectOf[K] | undefined;
  }

  /** The object as this transaction sees it, its pending key `k` built once by the caller. */
  private read(kind: Kind, id: string, k: string): StoreObject | undefined {
    const p = this.pending.get(k);
    if (p) return p.object ?? undefined;
    return this.below.get(kind, id);
  }

  find<K extends Kind>(kind: K, by: By = { all: true }): ObjectOf[K][] {
    const base = this.below.find(kind, by);
    if (this.pending.size === 0) return base as ObjectOf[K][];
    const out: StoreObject[] = [];
    for (const o of base) if (!this.pending.has(key(kind, o.id))) out.push(o);
    for (const p of this.pending.values()) {
      if (p.kind === kind && p.object && matches(kind, p.object, by)) out.push(p.object);
    }
    return out as ObjectOf[K][];
  }

  count(kind: Kind, by: By): number {
    if (this.pending.size === 0 && this.below.count) return this.below.count(kind, by);
    return this.find(kind, by).length;
  }

  create<K extends Kind>(kind: K, object: ObjectOf[K]): string {
    if (!object.id) object.id = this.newId();
    const k = key(kind, object.id);
    if (this.read(kind, object.id, k)) throw new ExistsError(kind, object.id);
    this.checkName(kind, object);
    const was = this.pending.get(k);
    // Deleted then re-created in one transaction: an update of what lies below.
    this.writes().set(k, { kind, id: object.id, object, created: !was || was.created });
    return object.id;
  }

  update<K extends Kind>(kind: K, object: ObjectOf[K]): void {
    // The key once: built three times, it was a string per read of every scheduled task.
    const k = key(kind, object.id);
    const current = this.read(kind, object.id, k);
    if (!current) throw new NotFoundError(kind, object.id);
    checkTransition(kind, current, object);
    if (nameOf(kind, current).toLowerCase() !== nameOf(kind, object).toLowerCase()) this.checkName(kind, object);
    const was = this.pending.get(k);
    this.writes().set(k, { kind, id: object.id, object, created: was?.created ?? false });
  }

  delete(kind: Kind, id: string): void {
    const k = key(kind, id);
    if (!this.read(kind, id, k)) throw new NotFoundError(kind, id);
    const was = this.pending.get(k);
    if (was?.created) this.writes().delete(k);
    else this.writes().set(k, { kind, id, object: null, created: false });
  }

  get size(): number {
    return this.pending.size;
  }

  /** The writes as store actions; versions are those the writer read (checked at apply). */
  actions(): StoreAction[] {
    const out: StoreAction[] = [];
    for (const p of this.pending.values()) {
      if (p.object === null) {
        out.push(toAction(StoreActionKind.STORE_ACTION_REMOVE, p.kind, this.below.get(p.kind, p.id)!));
      } else {
        out.push(toAction(p.created ? StoreActionKind.STORE_ACTION_CREATE : StoreActionKind.STORE_ACTION_UPDATE, p.kind, p.object));
      }
    }
    return out;
  }

  /** Folds a finished child transaction's writes into this one (batches). */
  absorb(child: Transaction): void {
    for (const [k, p] of child.pending) {
      const mine = this.pending.get(k);
      const created = mine ? mine.created : p.created;
      if (p.object === null && created) this.writes().delete(k);
      else this.writes().set(k, { ...p, created });
    }
  }

  private writes(): Map<string, Pending> {
    if (this.pending === NO_WRITES) this.pending = new Map();
    return this.pending;
  }

  private checkName(kind: Kind, o: StoreObject): void {
    if (!UNIQUE_NAMES.has(kind)) return;
    const name = nameOf(kind, o);
    if (!name) return;
    const same = this.find(kind, { index: "name", value: name.toLowerCase() });
    if (same.some((x) => x.id !== o.id)) throw new NameConflictError(kind, name);
  }
}

export type { ReadTx };
