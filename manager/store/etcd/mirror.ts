// Keeps a local MemoryStore a faithful copy of the store in etcd: it loads every object at one
// revision, then watches everything under the prefix from the next revision and applies each
// revision's object events as one change set at that revision, so meta.version is always the
// object's mod revision. Reads are then local and synchronous; writers wait for their revision.
import type { Etcd3, IEvent } from "etcd3";
import { StoreActionKind, type ChangeSet, type StoreSnapshot } from "../../../proto/gen/cluster.js";
import type { MemoryStore } from "../memory.js";
import { toAction, type Kind, type StoreObject } from "../kinds.js";
import { SNAPSHOT_FIELD, catchUp } from "./catchup.js";
import { type Reachability, backoff, isTransient, reasonOf, sleep, within } from "./client.js";
import { decodeObject } from "./codec.js";
import type { KeyLayout } from "./keys.js";
import { RangeWatch } from "./watch.js";

export interface MirrorOptions {
  client: Etcd3;
  keys: KeyLayout;
  replica: MemoryStore;
  reach: Reachability;
  log: (line: string) => void;
  callTimeoutMs: number;
  /** Objects per range request while loading (etcd answers at most its gRPC message size). */
  pageSize?: number;
  /** The replica was replaced wholesale (its watchers saw nothing of it): whoever acts on it starts over. */
  onReset?: () => void;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Mirror {
  private watch?: RangeWatch;
  /** Every revision up to this one is in the replica (objects) or was none of its business. */
  private through = 0;
  private waiters = new Set<Waiter>();
  private stopped = false;

  constructor(private readonly o: MirrorOptions) {}

  /** Loads the store, retrying until etcd answers (or stop), then follows it. */
  async start(): Promise<void> {
    const loaded = await this.loadRetrying();
    if (this.stopped) return;
    this.o.replica.restore(loaded);
    this.follow(loaded.version);
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error("the store is stopping"));
    }
    this.waiters.clear();
  }

  /** Resolves once the replica holds everything etcd had at `revision`; rejects at `until` (ms). */
  caughtUp(revision: number, until: number): Promise<void> {
    return this.waitUntil(() => this.through >= revision, until, `this manager's copy of the store did not reach etcd revision ${revision} in time`);
  }

  waitUntil(ready: () => boolean, until: number, timeoutMessage: string): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error("the store is stopping"));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        ready,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(new Error(timeoutMessage));
        }, Math.max(0, until - Date.now())),
      };
      this.waiters.add(w);
    });
  }

  private follow(after: number): void {
    this.through = Math.max(this.through, after);
    this.settle();
    this.watch = new RangeWatch({
      client: this.o.client,
      range: this.o.keys.all,
      from: after + 1,
      onRevision: (events, revision) => this.onRevision(events, revision),
      onCompacted: (rev) => void this.resync(`etcd compacted its history past revision ${rev}`),
      reach: this.o.reach,
      log: this.o.log,
    });
  }

  private onRevision(events: IEvent[], revision: number): void {
    const cs = this.changeSet(events);
    if (cs.actions.length > 0) {
      try {
        this.o.replica.apply(cs, revision);
      } catch (err) {
        // etcd holds what every writer's compares allowed, so this means someone wrote under the
        // prefix without them. Re-read rather than serve a copy that differs from etcd.
        this.watch?.close();
        void this.resync(`revision ${revision} does not apply to this manager's copy (${(err as Error).message})`);
        return;
      }
    }
    this.through = revision;
    this.settle();
  }

  /** A revision's object events as a change set; other keys under the prefix (names, election) only advance the revision. */
  private changeSet(events: IEvent[]): ChangeSet {
    const cs: ChangeSet = { actions: [], timestamp: 0 };
    for (const ev of events) {
      const at = this.o.keys.parseObject(ev.kv.key);
      if (!at) continue;
      const current = this.o.replica.get(at.kind, at.id);
      if (ev.type === "Delete") {
        if (current) cs.actions.push(toAction(StoreActionKind.STORE_ACTION_REMOVE, at.kind, current));
        continue;
      }
      let o: StoreObject;
      try {
        o = decodeObject(at.kind, ev.kv.value, Number(ev.kv.mod_revision));
      } catch (err) {
        this.o.log(`store: ignoring ${ev.kv.key.toString()} in etcd: not a ${at.kind} (${(err as Error).message})`);
        continue;
      }
      cs.timestamp ||= o.meta!.updatedAt;
      if (!current) {
        cs.actions.push(toAction(StoreActionKind.STORE_ACTION_CREATE, at.kind, o));
      } else {
        // Applying compares the version the write was read at; etcd already did, so give the replica's own.
        o.meta!.version = current.meta?.version ?? 0;
        cs.actions.push(toAction(StoreActionKind.STORE_ACTION_UPDATE, at.kind, o));
      }
    }
    return cs;
  }

  /** Re-reads everything and replays the difference; if even that does not apply, replaces the replica. */
  private async resync(why: string): Promise<void> {
    this.o.log(`store: re-reading the store from etcd: ${why}`);
    const loaded = await this.loadRetrying();
    if (this.stopped) return;
    try {
      for (const { cs, version } of catchUp(this.o.replica, loaded)) this.o.replica.apply(cs, version);
    } catch (err) {
      this.o.log(`store: replacing this manager's copy of the store wholesale (${(err as Error).message})`);
      this.o.replica.restore(loaded);
      this.o.onReset?.();
    }
    this.follow(loaded.version);
  }

  private async loadRetrying(): Promise<StoreSnapshot> {
    for (let attempt = 0; ; attempt++) {
      try {
        const loaded = await this.load();
        this.o.reach.ok();
        return loaded;
      } catch (err) {
        if (this.stopped) throw new Error("the store is stopping");
        if (isTransient(err)) this.o.reach.failed(err);
        else this.o.log(`store: cannot read the store from etcd (${reasonOf(err)}); retrying`);
        await sleep(backoff(attempt));
      }
    }
  }

  /** Every object at one revision, a page at a time. */
  private async load(): Promise<StoreSnapshot> {
    const range = this.o.keys.objects;
    const snap: StoreSnapshot = { version: 0, clusters: [], nodes: [], services: [], tasks: [], networks: [] };
    let revision = 0;
    let from = range.key;
    for (;;) {
      const res = await this.o.client.kv.range(
        { key: from, range_end: range.range_end, limit: this.o.pageSize ?? 1000, revision: revision || undefined },
        within(this.o.callTimeoutMs),
      );
      revision ||= Number(res.header.revision);
      for (const kv of res.kvs) {
        const at = this.o.keys.parseObject(kv.key);
        if (!at) continue;
        try {
          (snap[SNAPSHOT_FIELD[at.kind]] as StoreObject[]).push(decodeObject(at.kind as Kind, kv.value, Number(kv.mod_revision)));
        } catch (err) {
          this.o.log(`store: ignoring ${kv.key.toString()} in etcd: not a ${at.kind} (${(err as Error).message})`);
        }
      }
      if (!res.more || res.kvs.length === 0) break;
      from = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
    }
    snap.version = revision;
    return snap;
  }

  private settle(): void {
    for (const w of this.waiters) {
      if (!w.ready()) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve();
    }
  }
}
