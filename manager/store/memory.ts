// The in-memory store: committed tables, transactions that become change sets, and a pluggable
// proposer that decides when a change set is applied (directly here; after Raft commit or an
// etcd compare-and-swap in other backends). Every backend applies through `apply`.
import { randomFillSync } from "node:crypto";
import { type ChangeSet, StoreActionKind, type StoreSnapshot } from "../../proto/gen/cluster.js";
import { ConflictError, ExistsError, NotFoundError } from "./errors.js";
import { checkTransition } from "./rules.js";
import { KINDS, type Kind, type ObjectOf, type StoreObject, fromAction, isKept } from "./kinds.js";
import { type Row, Table } from "./table.js";
import { type Source, Transaction, matches } from "./tx.js";
import type { Batch, By, Proposer, ReadTx, Store, StoreEvent, Watch, WatchFilter, WriteTx } from "./types.js";
import { WatchQueue, accepts } from "./watch.js";

export interface MemoryStoreOptions {
  /** Defaults to applying each change set to this store at once. */
  proposer?: Proposer;
  /** Unix ms; stamped on change sets by the proposing side. */
  now?: () => number;
  /** New object ids; 25 random base-36 characters by default. */
  newId?: () => string;
  /** Most writes in one change set of a batch. */
  batchSize?: number;
  /** Most events a watch may hold unread. */
  watchLimit?: number;
}

const ID_CODES = [..."0123456789abcdefghijklmnopqrstuvwxyz"].map((c) => c.charCodeAt(0));
const idCodes: number[] = new Array(25).fill(0);
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/**
 * 25 random base-36 characters (about 129 bits). Drawn from a pooled buffer a byte per character
 * (bytes past 251 are skipped, so every character is equally likely): a leader creating 100,000
 * tasks spent most of a second in one randomBytes call and a BigInt per id.
 */
export function randomId(): string {
  let n = 0;
  while (n < 25) {
    if (poolAt === pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    const b = pool[poolAt++];
    if (b < 252) idCodes[n++] = ID_CODES[b % 36];
  }
  // One flat string: built with `+=` it was a rope, flattened again by the first Map or encoder to use it.
  return String.fromCharCode.apply(null, idCodes);
}

/** An update or removal names the version it read: refused if the stored object is at another. */
function checkVersion(kind: Kind, written: StoreObject, current: StoreObject | undefined): void {
  const had = written.meta?.version ?? 0;
  const has = current?.meta?.version ?? 0;
  if (current && had !== has) throw new ConflictError(kind, written.id, had, has);
}

export class MemoryStore implements Store, Source {
  private readonly tables = new Map<Kind, Table>(KINDS.map((k) => [k, new Table(k)]));
  private readonly watches = new Set<WatchQueue>();
  private readonly listeners = new Set<{ fn: (e: StoreEvent[]) => void; filter?: WatchFilter }>();
  private index = 0;
  private readonly proposer: Proposer;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly batchSize: number;
  private readonly watchLimit: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.proposer = opts.proposer ?? { propose: async (cs) => void this.apply(cs) };
    this.now = opts.now ?? Date.now;
    this.newId = opts.newId ?? randomId;
    this.batchSize = opts.batchSize ?? 200;
    this.watchLimit = opts.watchLimit ?? 100_000;
  }

  get version(): number {
    return this.index;
  }

  get(kind: Kind, id: string): StoreObject | undefined {
    return this.tables.get(kind)!.get(id);
  }

  find(kind: Kind, by: By = { all: true }): StoreObject[] {
    const t = this.tables.get(kind)!;
    if ("index" in by && isKept(kind, by.index, String(by.value))) return t.lookup(by.index, String(by.value));
    const out: StoreObject[] = [];
    for (const o of t.objects()) if (matches(kind, o, by)) out.push(o);
    return out;
  }

  count(kind: Kind, by: By): number {
    const t = this.tables.get(kind)!;
    if ("index" in by && isKept(kind, by.index, String(by.value))) return t.count(by.index, String(by.value));
    return this.find(kind, by).length;
  }

  view<T>(fn: (tx: ReadTx) => T): T {
    return fn(new Transaction(this, this.newId));
  }

  async update<T>(fn: (tx: WriteTx) => T): Promise<T> {
    const tx = new Transaction(this, this.newId);
    const result = fn(tx);
    if (tx.size > 0) await this.proposer.propose({ actions: tx.actions(), timestamp: this.now() });
    return result;
  }

  async batch(fn: (b: Batch) => void | Promise<void>): Promise<void> {
    let chunk = new Transaction(this, this.newId);
    const flush = async () => {
      if (chunk.size === 0) return;
      const cs: ChangeSet = { actions: chunk.actions(), timestamp: this.now() };
      chunk = new Transaction(this, this.newId);
      await this.proposer.propose(cs);
    };
    await fn({
      update: async <T>(sub: (tx: WriteTx) => T): Promise<T> => {
        const child = new Transaction(chunk, this.newId);
        const r = sub(child);
        chunk.absorb(child);
        // A full chunk is applied before the next sub-transaction reads, so later ones see it.
        if (chunk.size >= this.batchSize) await flush();
        return r;
      },
    });
    await flush();
  }

  watch(filter?: WatchFilter): Watch {
    const q = new WatchQueue(filter, this.watchLimit, (w) => this.watches.delete(w));
    this.watches.add(q);
    return q;
  }

  subscribe(fn: (events: StoreEvent[]) => void, filter?: WatchFilter): () => void {
    const l = { fn, filter };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /**
   * Applies a committed change set: checks every write (versions, existence, names, state rules)
   * and then applies all of them, or throws and applies none. Deterministic given the same state,
   * so every replica decides alike. Returns the new store version: the next one, or `at` where
   * the agreeing layer numbers change sets itself (the etcd revision), which must be higher.
   */
  apply(cs: ChangeSet, at = this.index + 1): number {
    if (at <= this.index) throw new Error(`change set version ${at} is not above the store's ${this.index}`);
    // The task rows the direct check read, so that each write looks its row up once.
    const rows = this.checkTasks(cs);
    if (!rows) this.checkAll(cs);
    const version = (this.index = at);
    const events: StoreEvent[] = [];
    for (let i = 0; i < cs.actions.length; i++) {
      const a = cs.actions[i];
      const { kind, object } = fromAction(a);
      const table = this.tables.get(kind)!;
      if (a.action === StoreActionKind.STORE_ACTION_REMOVE) {
        const old = table.get(object.id);
        table.remove(object.id);
        events.push({ kind, action: "delete", version, old });
        continue;
      }
      // The index keys do not read meta: it is set once the row holds the object.
      const old = rows ? table.put(object, rows[i]) : table.put(object);
      object.meta = { version, createdAt: old?.meta?.createdAt ?? cs.timestamp, updatedAt: cs.timestamp };
      events.push({ kind, action: old ? "update" : "create", version, old, new: object });
    }
    this.publish(events);
    return version;
  }

  /** Every write of `cs` checked as one transaction over the committed state (throws on the first refused). */
  private checkAll(cs: ChangeSet): void {
    const check = new Transaction(this, () => {
      throw new Error("a committed change set must carry its ids");
    });
    for (const a of cs.actions) {
      const { kind, object } = fromAction(a);
      const current = this.get(kind, object.id);
      if (a.action === StoreActionKind.STORE_ACTION_CREATE) check.create(kind, object);
      else {
        checkVersion(kind, object, current);
        if (a.action === StoreActionKind.STORE_ACTION_UPDATE) check.update(kind, object);
        else check.delete(kind, object.id);
      }
    }
  }

  /**
   * The same checks for the usual change set, all task writes with no task written twice: each
   * write is then checked against the committed task alone (tasks have no unique names), with no
   * transaction to build. Three writes per task, on every member: the transaction's keyed overlay
   * was a sixth of a follower's apply. Returns each write's task row as it stands (none for a
   * create), or undefined, having checked nothing, for any other change set.
   */
  private checkTasks(cs: ChangeSet): (Row | undefined)[] | undefined {
    const ids = new Set<string>();
    for (const a of cs.actions) {
      if (a.target?.$case !== "task" || ids.has(a.target.value.id) || !a.target.value.id) return undefined;
      ids.add(a.target.value.id);
    }
    const table = this.tables.get("task")!;
    const rows: (Row | undefined)[] = [];
    for (const a of cs.actions) {
      const object = a.target!.value as StoreObject;
      const row = table.row(object.id);
      rows.push(row);
      const current = row?.o;
      if (a.action === StoreActionKind.STORE_ACTION_CREATE) {
        if (current) throw new ExistsError("task", object.id);
        continue;
      }
      checkVersion("task", object, current);
      if (!current) throw new NotFoundError("task", object.id);
      if (a.action === StoreActionKind.STORE_ACTION_UPDATE) checkTransition("task", current, object);
    }
    return rows;
  }

  /** Every object at the current version, for Raft snapshots and etcd bootstrap. */
  snapshot(): StoreSnapshot {
    const list = <K extends Kind>(k: K) => this.tables.get(k)!.objects() as ObjectOf[K][];
    return {
      version: this.index,
      clusters: list("cluster"),
      nodes: list("node"),
      services: list("service"),
      tasks: list("task"),
      networks: list("network"),
    };
  }

  /** Replaces all state with a snapshot; watchers see nothing of it (they should start over). */
  restore(s: StoreSnapshot): void {
    const fill = (k: Kind, objs: StoreObject[]) => {
      const t = new Table(k);
      for (const o of objs) t.put(o);
      this.tables.set(k, t);
    };
    fill("cluster", s.clusters);
    fill("node", s.nodes);
    fill("service", s.services);
    fill("task", s.tasks);
    fill("network", s.networks);
    this.index = s.version;
  }

  private publish(events: StoreEvent[]): void {
    for (const w of this.watches) for (const e of events) w.push(e);
    for (const l of this.listeners) {
      const mine = l.filter ? events.filter((e) => accepts(l.filter, e)) : events;
      if (mine.length > 0) l.fn(mine);
    }
  }
}
