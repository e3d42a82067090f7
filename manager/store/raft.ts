// The Raft-backed store: a MemoryStore whose change sets are proposed through Raft and applied,
// on every manager, when committed. Only the leader proposes; a follower's writes are forwarded to
// the leader at the API level, so a follower's store is a read-only, slightly behind replica.
import { StoreSnapshot } from "../../proto/gen/cluster.js";
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
  constructor(readonly store: MemoryStore) {}

  apply(entry: Entry): Applied {
    try {
      return { version: this.store.apply(decodeChangeSet(entry.data, this.store)) };
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
        const r = (await raft().propose(encodeChangeSet(cs, store))) as Applied;
        if ("error" in r) throw r.error;
      },
    },
  });
  return { store, stateMachine: new StoreStateMachine(store) };
}
