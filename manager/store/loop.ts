// The shape every control loop shares: wake on store changes of some kinds, gather them for a
// short delay, run one pass at a time, and run again if changes arrived during the pass.
import type { Store, WatchFilter } from "./types.js";

export interface StoreLoopOptions {
  /**
   * What wakes the loop. Without one only `poke` does: for an owner that already hears the same
   * events, so that each is not filtered twice (the orchestrator's filter reads the store).
   */
  filter?: WatchFilter;
  /** How long to gather changes before a pass, in ms. */
  batchDelayMs: number;
  /** Delay before the first pass after start. */
  firstDelayMs: number;
  onError?: (e: unknown) => void;
  /** After a quiet pass: ms until the loop must look again by itself (a timer ends), if any. */
  nextWakeMs?: () => number | undefined;
}

export class StoreLoop {
  private timer: NodeJS.Timeout | null = null;
  private due = Infinity;
  private running = false;
  private again = false;
  private unsubscribe: (() => void) | null = null;
  /**
   * How long the last pass held the thread before its first wait (its decision; the writes it
   * then waits on cost the thread little): the next waits at least as long, so a loop never
   * takes more than about half the process.
   */
  private lastPassMs = 0;

  constructor(
    private readonly store: Store,
    private readonly pass: () => Promise<unknown>,
    private readonly opts: StoreLoopOptions,
  ) {}

  start(): void {
    const filter = this.opts.filter;
    this.unsubscribe = filter ? this.store.subscribe(() => this.kick(this.opts.batchDelayMs), filter) : () => undefined;
    this.kick(this.opts.firstDelayMs);
  }

  /** Something the loop acts on changed: a pass within the batch delay. */
  poke(): void {
    this.kick(this.opts.batchDelayMs);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.due = Infinity;
  }

  /** Asks for a pass within `delayMs`; a pass already due sooner stands, so steady changes cannot starve it. */
  private kick(delayMs: number): void {
    if (!this.unsubscribe) return;
    if (this.running) {
      this.again = true;
      return;
    }
    delayMs = Math.max(delayMs, Math.min(this.lastPassMs, 1000));
    const due = Date.now() + delayMs;
    if (this.timer && this.due <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    this.timer = null;
    this.due = Infinity;
    this.running = true;
    const started = Date.now();
    let held = 0;
    try {
      const pass = this.pass();
      held = Date.now() - started;
      await pass;
    } catch (e) {
      held ||= Date.now() - started;
      this.opts.onError?.(e);
    } finally {
      this.running = false;
      this.lastPassMs = held;
      if (this.again) {
        this.again = false;
        this.kick(this.opts.batchDelayMs);
      } else {
        const wake = this.opts.nextWakeMs?.();
        if (wake !== undefined) this.kick(Math.max(0, wake));
      }
    }
  }
}
