// An etcd lease kept alive from this process, with a local bound on how long etcd surely still
// holds it: the send time of the last acknowledged keepalive plus the TTL etcd granted. Past that
// bound the lease is not held here, before etcd can have expired it, so a holder that cannot reach
// etcd stops acting first. Keepalives go on: etcd extends every lease when it changes leader, so
// one that outlived a pause is held again at the next answer; one etcd expired is lost for good.
import type { Etcd3, ILeaseKeepAliveResponse } from "etcd3";
import { endStream, within } from "../store/etcd/client.js";

interface KeepAliveStream {
  on(event: "data", fn: (res: ILeaseKeepAliveResponse) => void): KeepAliveStream;
  on(event: "error" | "end", fn: (err?: Error) => void): KeepAliveStream;
  write(req: { ID: string }): void;
  end(): void;
  cancel?(): void;
}

export class Lease {
  private stream?: KeepAliveStream;
  private opening = false;
  /** Send times of keepalives not yet answered on the current stream, oldest first. */
  private pending: number[] = [];
  private ticker?: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private lostListeners: (() => void)[] = [];
  private heldListeners: ((held: boolean) => void)[] = [];
  private held = true;
  private over = false;
  /** etcd answered a keepalive saying the lease is gone (it expired there). */
  expiredAtEtcd = false;
  /** When the last keepalive was answered (or the lease granted), for the log line of a lapse. */
  private answeredAt = Date.now();

  private constructor(
    private readonly client: Etcd3,
    readonly id: string,
    /** The TTL etcd granted: at least its minimum, which grows with its election timeout. */
    readonly ttlMs: number,
    private validUntil: number,
  ) {
    // Four keepalives a TTL: one lost or slow still leaves the lease standing.
    this.ticker = setInterval(() => this.keepAlive(), Math.max(50, ttlMs / 4));
    this.armExpiry();
  }

  /** Grants a lease of `ttlSec` (etcd may raise it to its minimum) and keeps it alive. One attempt. */
  static async grant(client: Etcd3, ttlSec: number, callTimeoutMs: number): Promise<Lease> {
    const sent = Date.now();
    const res = await client.leaseClient.leaseGrant({ TTL: ttlSec }, within(callTimeoutMs));
    if (res.error) throw new Error(`etcd refused a lease: ${res.error}`);
    const ttlMs = Number(res.TTL) * 1000;
    return new Lease(client, res.ID, ttlMs, sent + ttlMs);
  }

  /** Why the lease is not surely held now, for a log line: how long etcd has been silent and whether a keepalive stream is open. */
  lapse(): string {
    const open = this.stream ? `a keepalive stream is open with ${this.pending.length} unanswered` : this.opening ? "a keepalive stream is being opened" : "no keepalive stream is open";
    return `etcd has answered no keepalive of lease ${BigInt(this.id).toString(16)} for ${Date.now() - this.answeredAt} ms (TTL ${this.ttlMs} ms; ${open})`;
  }

  /** Whether etcd surely still holds the lease. */
  get alive(): boolean {
    return !this.over && Date.now() < this.validUntil;
  }

  /** Called when the lease stops being surely held (no answer in time) and when it is held again. */
  onHeld(fn: (held: boolean) => void): void {
    this.heldListeners.push(fn);
  }

  /** Called once, when the lease is lost for good (etcd expired it, or it was revoked or released). */
  onLost(fn: () => void): void {
    if (this.over) fn();
    else this.lostListeners.push(fn);
  }

  /** Ends the lease at etcd now (its keys go at once), or lets it expire if etcd cannot be reached. */
  async revoke(callTimeoutMs: number): Promise<void> {
    this.lose();
    await this.client.leaseClient.leaseRevoke({ ID: this.id }, within(callTimeoutMs)).catch(() => undefined);
  }

  /** Stops keeping the lease alive without telling etcd: it expires after its TTL. */
  release(): void {
    this.lose();
  }

  private keepAlive(): void {
    if (this.over) return;
    // A stream unanswered for a whole TTL (its member hung or cut off): open another, maybe elsewhere.
    if (this.stream && this.pending.length > 0 && Date.now() - this.pending[0] > this.ttlMs) {
      endStream(this.stream);
      this.stream = undefined;
    }
    if (this.stream) return this.send();
    if (this.opening) return;
    this.opening = true;
    this.pending = [];
    this.client.leaseClient.leaseKeepAlive().then(
      (s) => {
        this.opening = false;
        const stream = s as unknown as KeepAliveStream;
        if (this.over) return void endStream(stream);
        this.stream = stream;
        const drop = () => {
          if (this.stream !== stream) return;
          this.stream = undefined;
          endStream(stream);
        };
        stream.on("data", (res) => this.stream === stream && this.answered(res));
        stream.on("error", drop);
        stream.on("end", drop);
        this.send();
      },
      () => (this.opening = false), // the next tick tries again
    );
  }

  private send(): void {
    if (!this.stream || this.over) return;
    this.pending.push(Date.now());
    this.stream.write({ ID: this.id });
  }

  private answered(res: ILeaseKeepAliveResponse): void {
    const sent = this.pending.shift();
    if (this.over || sent === undefined) return;
    this.answeredAt = Date.now();
    if (Number(res.TTL) <= 0) {
      this.expiredAtEtcd = true; // etcd no longer has it
      return this.lose();
    }
    this.validUntil = Math.max(this.validUntil, sent + Number(res.TTL) * 1000);
    this.armExpiry();
    if (!this.held && this.alive) this.setHeld(true);
  }

  private armExpiry(): void {
    clearTimeout(this.expiry);
    this.expiry = setTimeout(() => (Date.now() >= this.validUntil ? this.setHeld(false) : this.armExpiry()), Math.max(0, this.validUntil - Date.now()));
  }

  private setHeld(held: boolean): void {
    if (this.over || this.held === held) return;
    this.held = held;
    for (const fn of this.heldListeners) fn(held);
  }

  private lose(): void {
    if (this.over) return;
    this.over = true;
    clearInterval(this.ticker);
    clearTimeout(this.expiry);
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
    for (const fn of this.lostListeners.splice(0)) fn();
  }
}
