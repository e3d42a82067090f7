// ReadIndex bookkeeping on the leader: each request remembers the commit index when it arrived
// and which voters confirmed, by heartbeat answer, that we were still leader after it arrived.
import type { Message } from "../../../proto/gen/raft.js";

export interface ReadIndexStatus {
  request: Message;
  index: number;
  acks: Set<number>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(private readonly maxPending: number) {}

  /** Returns false when too many reads are already waiting (the caller drops the request). */
  addRequest(index: number, request: Message): boolean {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return true;
    if (this.queue.length >= this.maxPending) return false;
    this.pending.set(key, { request, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records that `from` answered the heartbeat carrying `context`; returns the acks so far. */
  recvAck(from: number, context: Uint8Array): Set<number> | undefined {
    const rs = this.pending.get(contextKey(context));
    if (!rs) return undefined;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Releases every request queued up to and including the one with `context`. */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      out.push(this.pending.get(k)!);
      this.pending.delete(k);
    }
    return out;
  }

  lastPendingContext(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)!.request.context;
  }

  size(): number {
    return this.queue.length;
  }
}

function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString("hex");
}
