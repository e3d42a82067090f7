import { ChangeSet } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { decodeChangeSet, encodeChangeSet } from "../../../manager/store/patches.js";
import { storeContract } from "./contract.js";

storeContract("memory", () => new MemoryStore());

// Round-trips every change set through protobuf, as the Raft backend will.
storeContract("memory via encoded change sets", () => {
  const store: MemoryStore = new MemoryStore({
    proposer: { propose: async (cs) => void store.apply(ChangeSet.decode(ChangeSet.encode(cs).finish())) },
  });
  return store;
});

// Through the Raft store's log encoding, task updates as patches rebuilt from the store's own tasks.
storeContract("memory via the Raft log's encoding", () => {
  const store: MemoryStore = new MemoryStore({
    proposer: { propose: async (cs) => void store.apply(decodeChangeSet(encodeChangeSet(cs, store), store)) },
  });
  return store;
});

// Applies each change set on a later turn of the event loop, as a consensus round would.
storeContract("memory with deferred apply", () => {
  const store: MemoryStore = new MemoryStore({
    proposer: {
      propose: (cs) =>
        new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            try {
              store.apply(cs);
              resolve();
            } catch (e) {
              reject(e);
            }
          }),
        ),
    },
  });
  return store;
});
