export { EtcdBackend, type EtcdBackendOptions } from "./backend.js";
export { EtcdStore, type EtcdStoreOptions } from "./store.js";
export { connectEtcd, Reachability, type EtcdEndpoints, type EtcdTls } from "./client.js";
export { KeyLayout } from "./keys.js";
export { EtcdUnavailableError, NotLeaderError, TxnTooLargeError } from "./errors.js";
export type { Fence } from "./txn.js";
