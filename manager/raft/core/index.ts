// The pure Raft core: see api.ts for the contract.
export * from "./api.js";
export { RawNode } from "./rawnode.js";
export { MemoryStorage } from "./memory-storage.js";
export { RaftInvariantError } from "./assert.js";
