// The store contract every backend (in-memory, Raft-backed, etcd-backed) fulfils.
import type { ChangeSet } from "../../proto/gen/cluster.js";
import { type IndexName, type Kind, type ObjectOf, slotKey } from "./kinds.js";

/** How `find` selects objects: everything, an id prefix, or one index value. */
export type By =
  | { all: true }
  | { idPrefix: string }
  | { index: IndexName; value: string | number };

export const all: By = { all: true };
export const byName = (name: string): By => ({ index: "name", value: name.toLowerCase() });
export const byServiceId = (id: string): By => ({ index: "serviceId", value: id });
export const byNodeId = (id: string): By => ({ index: "nodeId", value: id });
/** A service's tasks that run and are meant to. */
export const byRunningOf = (serviceId: string): By => ({ index: "runningOf", value: serviceId });
export const byDesiredState = (s: number): By => ({ index: "desiredState", value: String(s) });
export const byTaskState = (s: number): By => ({ index: "taskState", value: String(s) });
/** Tasks on some network or still NEW: all the allocator and the network views read. */
export const byAllocation = (): By => ({ index: "allocation", value: "1" });
export const byRole = (r: number): By => ({ index: "role", value: String(r) });
export const byMembership = (m: number): By => ({ index: "membership", value: String(m) });
export const byIdPrefix = (p: string): By => ({ idPrefix: p });
/** A replicated slot (slot > 0), or a global service's task on a node (slot 0). */
export const bySlot = (serviceId: string, slot: number, nodeId = ""): By => ({ index: "slot", value: slotKey(serviceId, slot, nodeId) });

/**
 * A consistent read. Objects returned belong to the store: never mutate them; to change one,
 * copy it (structuredClone) and pass the copy to WriteTx.update.
 */
export interface ReadTx {
  get<K extends Kind>(kind: K, id: string): ObjectOf[K] | undefined;
  find<K extends Kind>(kind: K, by?: By): ObjectOf[K][];
  /** How many `find` would return; from a kept index without reading the objects. */
  count(kind: Kind, by: By): number;
  /** The store version this read sees (the index of the last applied change set). */
  readonly version: number;
}

/** A read-write transaction: reads see its own writes; nothing is visible to others until commit. */
export interface WriteTx extends ReadTx {
  /** Adds the object; an empty id is filled in. Returns the id. */
  create<K extends Kind>(kind: K, object: ObjectOf[K]): string;
  /** Replaces the object; its meta.version must be the version read, else ConflictError at commit. */
  update<K extends Kind>(kind: K, object: ObjectOf[K]): void;
  /** Removes the object by id. */
  delete(kind: Kind, id: string): void;
}

export type EventAction = "create" | "update" | "delete";

/** One applied write, in commit order. `version` is the index of the change set that made it. */
export interface StoreEvent<K extends Kind = Kind> {
  kind: K;
  action: EventAction;
  version: number;
  old?: ObjectOf[K];
  new?: ObjectOf[K];
}

export interface WatchFilter {
  kinds?: Kind[];
  actions?: EventAction[];
  match?: (e: StoreEvent) => boolean;
}

/** An ordered stream of events; `close()` ends it. Iterating throws if the consumer fell too far behind. */
export interface Watch extends AsyncIterable<StoreEvent> {
  close(): void;
}

/**
 * Runs many small transactions, committed together in change sets of a bounded size. Await each
 * `update` before the next: when a change set fills up it is applied before the call returns.
 */
export interface Batch {
  /**
   * Runs fn as its own sub-transaction: if it throws, only its writes are dropped and the error
   * is rethrown. Rejects too if the change set it completed was refused (e.g. ConflictError).
   */
  update<T>(fn: (tx: WriteTx) => T): Promise<T>;
}

/** Carries a change set to wherever it is agreed on, and resolves once it has been applied to this store. */
export interface Proposer {
  propose(changes: ChangeSet): Promise<void>;
}

export interface Store {
  view<T>(fn: (tx: ReadTx) => T): T;
  /** All-or-nothing: throws ConflictError, NameConflictError, ... and then nothing was written. */
  update<T>(fn: (tx: WriteTx) => T): Promise<T>;
  /** Resolves once every sub-transaction's change set has been applied. */
  batch(fn: (b: Batch) => void | Promise<void>): Promise<void>;
  watch(filter?: WatchFilter): Watch;
  /** Synchronous listener, called after each change set with its events; returns unsubscribe. */
  subscribe(listener: (events: StoreEvent[]) => void, filter?: WatchFilter): () => void;
  readonly version: number;
}
