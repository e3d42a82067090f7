export { Wal, WalCorruptError, syncDir, type WalOptions, type WalState } from "./wal.js";
