import { ChangeSet } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { storeContract } from "./contract.js";

storeContract("memory", () => new MemoryStore());

// Round-trips every change set through protobuf, as the Raft backend will.
storeContract("memory via encoded change sets", () => {
  const store: MemoryStore = new MemoryStore({
    proposer: { propose: async (cs) => void store.apply(ChangeSet.decode(ChangeSet.encode(cs).finish())) },
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
