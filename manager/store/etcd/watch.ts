// A watch on one key range from a revision, over etcd's raw watch stream: it resumes after a
// broken stream from the revision after the last one it delivered, so no event is lost or seen
// twice, and says when the history it needs was compacted away. (The etcd3 package's Watcher
// resumes from the header revision of the last response, which can skip events a catching-up
// watch had not yet been sent.)
import type { Etcd3, IEvent, IWatchResponse } from "etcd3";
import { CALL_TIMEOUT_MS, type Reachability, backoff, endStream, isTransient, reasonOf, within } from "./client.js";
import type { Range } from "./keys.js";

export interface RangeWatchOptions {
  client: Etcd3;
  range: Range;
  /** The first revision wanted. */
  from: number;
  /** The events of one revision (etcd sends a revision's events in one response), in order. */
  onRevision(events: IEvent[], revision: number): void;
  /** Revisions from `from` on were compacted: the caller re-reads and starts a new watch. The watch has stopped. */
  onCompacted(compactRevision: number): void;
  reach: Reachability;
  log: (line: string) => void;
}

interface Stream {
  on(event: "data", fn: (res: IWatchResponse) => void): Stream;
  on(event: "error", fn: (err: Error) => void): Stream;
  on(event: "end", fn: () => void): Stream;
  write(req: unknown): void;
  cancel?(): void;
  end(): void;
}

export class RangeWatch {
  private next: number;
  private stream?: Stream;
  /** Bumped whenever a stream is given up, so late callbacks of an old one are ignored. */
  private generation = 0;
  private failures = 0;
  private opened = false;
  private closed = false;
  private retry?: NodeJS.Timeout;

  constructor(private readonly o: RangeWatchOptions) {
    this.next = o.from;
    this.open();
  }

  /** The next revision this watch will deliver. */
  get nextRevision(): number {
    return this.next;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.drop();
  }

  private open(): void {
    if (this.closed) return;
    const gen = ++this.generation;
    const resuming = this.opened;
    this.opened = true;
    // etcd keeps the puts but not the deletes of the revision it compacted at, and a watch from
    // exactly that revision is not refused: it silently misses the deletes. So a resumed watch
    // first reads at the revision before it; if that was compacted, the caller re-reads.
    const probe = resuming ? this.o.client.kv.range({ key: this.o.range.key, revision: this.next - 1, limit: 1, count_only: true }, within(CALL_TIMEOUT_MS)) : Promise.resolve();
    probe.then(
      () => gen === this.generation && this.connect(gen),
      (err) => {
        if (gen !== this.generation) return;
        if (!/required revision has been compacted/.test(String((err as Error)?.message))) return this.broken(gen, err);
        this.close();
        this.o.onCompacted(this.next - 1);
      },
    );
  }

  private connect(gen: number): void {
    this.o.client.watchClient.watch().then(
      (s) => {
        const stream = s as unknown as Stream;
        if (gen !== this.generation) return void endStream(stream);
        this.stream = stream;
        stream.on("data", (res) => gen === this.generation && this.onResponse(res));
        stream.on("error", (err) => this.broken(gen, err));
        stream.on("end", () => this.broken(gen, new Error("etcd ended the watch stream")));
        stream.write({ create_request: { key: this.o.range.key, range_end: this.o.range.range_end, start_revision: this.next } });
      },
      (err) => this.broken(gen, err),
    );
  }

  private broken(gen: number, err: unknown): void {
    if (gen !== this.generation || this.closed) return;
    this.drop();
    if (isTransient(err)) this.o.reach.failed(err);
    else this.o.log(`store: etcd watch failed (${reasonOf(err)}); watching again`);
    // Writers wait for the watch to deliver their revision: come back soon (the first retry at once).
    this.retry = setTimeout(() => this.open(), this.failures++ === 0 ? 0 : Math.min(250, backoff(this.failures)));
  }

  private drop(): void {
    this.generation++;
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
  }

  private onResponse(res: IWatchResponse): void {
    if (res.canceled) {
      const compacted = Number(res.compact_revision);
      if (compacted > 0) {
        this.close();
        this.o.onCompacted(compacted);
        return;
      }
      this.broken(this.generation, new Error(res.cancel_reason || "etcd cancelled the watch"));
      return;
    }
    this.failures = 0;
    this.o.reach.ok();
    const events = res.events ?? [];
    let i = 0;
    while (i < events.length) {
      const revision = Number(events[i].kv.mod_revision);
      let j = i;
      while (j < events.length && Number(events[j].kv.mod_revision) === revision) j++;
      // A resumed watch may repeat nothing, but never deliver what came before `next`.
      if (revision >= this.next) {
        this.next = revision + 1;
        this.o.onRevision(events.slice(i, j), revision);
        if (this.closed) return;
      }
      i = j;
    }
  }
}
