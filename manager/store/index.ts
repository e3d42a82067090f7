export * from "./errors.js";
export * from "./kinds.js";
export * from "./types.js";
export { MemoryStore, randomId, type MemoryStoreOptions } from "./memory.js";
export { StoreLoop, type StoreLoopOptions } from "./loop.js";
