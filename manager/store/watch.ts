// Fan-out of applied events to listeners and to bounded async queues.
import type { StoreEvent, Watch, WatchFilter } from "./types.js";

export function accepts(filter: WatchFilter | undefined, e: StoreEvent): boolean {
  if (!filter) return true;
  if (filter.kinds && !filter.kinds.includes(e.kind)) return false;
  if (filter.actions && !filter.actions.includes(e.action)) return false;
  return !filter.match || filter.match(e);
}

/** A watch's queue. Bounded: a consumer that falls too far behind is ended with an error, not let to grow memory without limit. */
export class WatchQueue implements Watch {
  private readonly items: StoreEvent[] = [];
  private head = 0;
  private waiter: (() => void) | null = null;
  private closed = false;
  private overflowed = false;

  constructor(
    readonly filter: WatchFilter | undefined,
    private readonly limit: number,
    private readonly onClose: (w: WatchQueue) => void,
  ) {}

  push(e: StoreEvent): void {
    if (this.closed || !accepts(this.filter, e)) return;
    if (this.items.length - this.head >= this.limit) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.items.push(e);
    this.wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoreEvent> {
    for (;;) {
      if (this.head < this.items.length) {
        const e = this.items[this.head++];
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items.splice(0, this.head);
          this.head = 0;
        }
        yield e;
        continue;
      }
      if (this.overflowed) throw new Error(`store watch fell more than ${this.limit} events behind: read the store again and start a new watch`);
      if (this.closed) return;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }
}
