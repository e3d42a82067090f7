// Callers of a Raft member waiting for an outcome (a proposal applied, a read point reached), each
// under its own deadline.
import { ProposalTimeoutError } from "./errors.js";

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** For reads: the log index that must be applied first, once the leader named it. */
  index?: number;
  /** For proposals: what the proposer handed beside the bytes (see StateMachine.apply). */
  local?: unknown;
}

export class Waiters<K> {
  private readonly map = new Map<K, Waiter>();

  /** Resolves when settle(key) is called, or rejects with ProposalTimeoutError after `timeoutMs`. */
  wait(key: K, timeoutMs: number, local?: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(key, new ProposalTimeoutError(timeoutMs)), timeoutMs);
      this.map.set(key, { resolve, reject, timer, local });
    });
  }

  /** What was handed to `wait` beside the key, while it is still waited for. */
  local(key: K): unknown {
    return this.map.get(key)?.local;
  }

  settle(key: K, err?: Error, value?: unknown): void {
    const w = this.map.get(key);
    if (!w) return;
    this.map.delete(key);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(value);
  }

  rejectAll(err: Error): void {
    for (const key of [...this.map.keys()]) this.settle(key, err);
  }

  /** Records the index a waiter needs applied (reads). */
  setIndex(key: K, index: number): void {
    const w = this.map.get(key);
    if (w) w.index = index;
  }

  /** Resolves every waiter whose index is at or below `applied`. */
  releaseUpTo(applied: number): void {
    if (this.map.size === 0) return;
    for (const [key, w] of this.map) if (w.index !== undefined && w.index <= applied) this.settle(key);
  }
}
