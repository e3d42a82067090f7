// The pipelining window toward one follower: last indexes of append messages sent but not yet
// acknowledged, bounded so a slow follower cannot make the leader buffer without limit.
import { invariant } from "./assert.js";

export class Inflights {
  private readonly buf: number[] = [];

  constructor(readonly capacity: number) {}

  add(lastIndex: number): void {
    invariant(!this.full(), () => `inflight window of ${this.capacity} is full`);
    this.buf.push(lastIndex);
  }

  /** Frees every message whose last index is ≤ `to` (they are acknowledged). */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.buf.length && this.buf[n]! <= to) n++;
    if (n > 0) this.buf.splice(0, n);
  }

  /** Frees the oldest message, to let one more out when acknowledgements were lost. */
  freeFirstOne(): void {
    this.buf.shift();
  }

  full(): boolean {
    return this.buf.length >= this.capacity;
  }

  count(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf.length = 0;
  }
}
