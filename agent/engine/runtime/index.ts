// The engine daemon's binding to the native container runtime (docs/runtime.md).
export { cpusToQuota, encodeSpec, writeSpec } from "./spec.js";
export type { BindMount, ContainerSpec, OverlayRootfs } from "./spec.js";
export { deleteContainer, exec, kill, logPath, run, start, state } from "./runtime.js";
export type { ContainerState, ExecOptions } from "./runtime.js";
export { readExit, watchExit, ExitWatch } from "./exit-watch.js";
export type { ExitStatus } from "./exit-watch.js";
export { followLog, readLog } from "./log.js";
export type { LogEntry } from "./log.js";
export { runtimeBinary } from "./binary.js";
