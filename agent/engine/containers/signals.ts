// Whether a container's init can receive a signal at all. The kernel drops a signal sent to a
// PID namespace's init unless the init handles it, so a stop signal the init does not catch
// would only make `stop` wait out its grace period before the SIGKILL it ends with anyway.
import { readFileSync } from "node:fs";
import { constants } from "node:os";

/** Signal number of a name like "SIGTERM" or "TERM", or undefined. */
export function signalNumber(name: string): number | undefined {
  const n = name.toUpperCase();
  return (constants.signals as Record<string, number>)[n.startsWith("SIG") ? n : `SIG${n}`];
}

/** From /proc/PID/status: true if the process catches the signal (SigCgt), false if not, undefined if unknown. */
export function catchesSignal(status: string, signal: number): boolean | undefined {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return undefined;
  return ((BigInt(`0x${m[1]}`) >> BigInt(signal - 1)) & 1n) === 1n;
}

/** Whether the container init `pid` can be stopped by `signal` (true when that cannot be told). */
export function initHears(pid: number, signal: string): boolean {
  const n = signalNumber(signal);
  if (!n || pid <= 0) return true;
  try {
    return catchesSignal(readFileSync(`/proc/${pid}/status`, "utf8"), n) ?? true;
  } catch {
    return true;
  }
}
