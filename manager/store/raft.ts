// The Raft-backed store: a MemoryStore whose change sets are proposed through Raft and applied,
// on every manager, when committed. Only the leader proposes; a follower's writes are forwarded to
// the leader at the API level, so a follower's store is a read-only, slightly behind replica.
import { isDeepStrictEqual } from "node:util";
import { type ChangeSet, StoreSnapshot } from "../../proto/gen/cluster.js";
import type { Entry } from "../../proto/gen/raft.js";
import type { RaftNode, StateMachine } from "../raft/node.js";
import { MemoryStore, type MemoryStoreOptions } from "./memory.js";
import { decodeChangeSet, encodeChangeSet } from "./patches.js";

/** What a committed entry's apply hands back to its proposer: the new version, or why it was refused. */
type Applied = { version: number } | { error: Error };

/**
 * Applies committed change sets to the store. A refused change set (a version conflict, a name
 * taken meanwhile) is refused alike on every replica, since apply is deterministic; the error
 * goes back to the proposer instead of stopping the member.
 */
export class StoreStateMachine implements StateMachine {
  /**
   * Under SHOAL_CHECK_OWN_APPLY=1 (the tests), the proposer also decodes its own entries and
   * refuses to go on if they differ from the change set it kept, and freezes what it applied, so
   * a writer that changes an object after writing it fails loudly instead of quietly making the
   * leader's store differ from its followers'.
   */
  private readonly checkOwn = process.env.SHOAL_CHECK_OWN_APPLY === "1";

  constructor(readonly store: MemoryStore) {}

  /**
   * The proposer applies the change set it proposed (`local`) instead of decoding the entry: the
   * leader proposes nearly every entry, and decoding its own took 0.9 s of its 12 s of CPU
   * placing 100,000 tasks. Its objects are then the writers' objects, so tasks share their
   * service's spec on the leader instead of holding a copy each.
   */
  apply(entry: Entry, local?: unknown): Applied {
    try {
      const own = local as ChangeSet | undefined;
      if (own && this.checkOwn) checkSame(own, decodeChangeSet(entry.data, this.store));
      const version = this.store.apply(own ?? decodeChangeSet(entry.data, this.store));
      if (own && this.checkOwn) for (const a of own.actions) deepFreeze(a.target?.value);
      return { version };
    } catch (error) {
      return { error: error as Error };
    }
  }

  snapshot(): Buffer {
    return Buffer.from(StoreSnapshot.encode(this.store.snapshot()).finish());
  }

  restore(data: Buffer): void {
    this.store.restore(StoreSnapshot.decode(data));
  }
}

/** A MemoryStore that proposes through `raft()` (given late: the Raft member needs the state machine first). */
export function raftStore(raft: () => RaftNode, opts: Omit<MemoryStoreOptions, "proposer"> = {}): { store: MemoryStore; stateMachine: StoreStateMachine } {
  const store = new MemoryStore({
    ...opts,
    proposer: {
      propose: async (cs) => {
        const r = (await raft().propose(encodeChangeSet(cs, store), undefined, cs)) as Applied;
        if ("error" in r) throw r.error;
      },
    },
  });
  return { store, stateMachine: new StoreStateMachine(store) };
}

/** Equal as the log would carry them: an absent field and an undefined one are the same. */
function checkSame(kept: ChangeSet, logged: ChangeSet): void {
  const a = plain(kept);
  const b = plain(logged);
  if (!isDeepStrictEqual(a, b)) throw new Error(`own entry differs from its log bytes: kept ${JSON.stringify(a)}, logged ${JSON.stringify(b)}`);
}

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64");
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = plain(x);
  }
  return out;
}

function deepFreeze(o: unknown): void {
  if (typeof o !== "object" || o === null || Object.isFrozen(o) || ArrayBuffer.isView(o)) return;
  Object.freeze(o);
  for (const v of Object.values(o)) deepFreeze(v);
}
