// Leader election among managers through etcd. Each candidate holds a lease and puts one key
// under the election prefix, attached to it; the key with the lowest create revision leads. A
// leader stays lowest for as long as its key exists (a newer key always has a higher revision),
// so "my key still has the create revision I won with" proves leadership: the fence every write
// of the leader compares in its own transaction. When the leader dies its lease expires, etcd
// deletes its key, and the next candidate, watching the prefix, takes over.
import type { Etcd3, IKeyValue } from "etcd3";
import { CALL_TIMEOUT_MS, type Reachability, backoff, isTransient, reasonOf, sleep, within } from "../store/etcd/client.js";
import { prefixRange } from "../store/etcd/keys.js";
import type { Fence } from "../store/etcd/txn.js";
import { RangeWatch } from "../store/etcd/watch.js";
import { Lease } from "./lease.js";

export interface ElectionOptions {
  client: Etcd3;
  /** Where the candidates' keys live, e.g. /shoal/election/. */
  prefix: string;
  /** What this candidate publishes: its cluster address, so followers can find the leader. */
  value: string;
  /**
   * Lease TTL in seconds. A crashed leader is replaced after at most about TTL + 0.5 s (etcd
   * expires leases on a 500 ms tick). etcd raises it to its own minimum, 1.5 election timeouts
   * rounded up to a second: 2 s with etcd's defaults, 1 s with --election-timeout=500 or less.
   */
  ttlSec?: number;
  callTimeoutMs?: number;
  reach: Reachability;
  log: (line: string) => void;
}

export interface Candidate {
  key: string;
  value: string;
  createRevision: number;
}

/** Called with true once this candidate leads (at `revision`, after every earlier leader's last write), false once it no longer does. */
export type LeadershipListener = (leading: boolean, revision: number) => void;

export class Election {
  private lease?: Lease;
  private mine?: Fence;
  private leading = false;
  private candidates: Candidate[] = [];
  private watch?: RangeWatch;
  private readonly listeners = new Set<LeadershipListener>();
  private stopped = false;
  private checking = false;
  private checkAgain = false;
  private toldTtl = false;
  private readonly ttlSec: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly o: ElectionOptions) {
    this.ttlSec = o.ttlSec ?? 1;
    this.callTimeoutMs = o.callTimeoutMs ?? CALL_TIMEOUT_MS;
  }

  /** Campaigns until stop(), through lost leases and unreachable etcd. */
  start(): void {
    void this.run();
  }

  /** Resigns: revokes the lease, so the next candidate takes over at once rather than after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.stepDown();
    await this.lease?.revoke(this.callTimeoutMs);
  }

  /** Gives up leadership (or a place in line) now and campaigns again, at the back of the line. */
  async resign(): Promise<void> {
    this.stepDown();
    await this.lease?.revoke(this.callTimeoutMs);
  }

  isLeader(): boolean {
    return this.leading && !!this.lease?.alive;
  }

  /** What a write must compare to prove this candidate still leads; undefined when it does not. */
  fence(): Fence | undefined {
    return this.isLeader() ? this.mine : undefined;
  }

  /** The leader's published value (address), as last seen. */
  leader(): string | undefined {
    return this.candidates[0]?.value;
  }

  /** Every candidate's value, leader first. */
  values(): string[] {
    return this.candidates.map((c) => c.value);
  }

  onChange(fn: LeadershipListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; ) {
      try {
        await this.campaign();
        attempt = 0;
      } catch (err) {
        if (this.stopped) return;
        if (isTransient(err)) this.o.reach.failed(err);
        else this.o.log(`election: ${reasonOf(err)}; campaigning again`);
        await sleep(backoff(attempt++));
      }
    }
  }

  /** One term of candidacy: from a new lease until it is lost. */
  private async campaign(): Promise<void> {
    const lease = await Lease.grant(this.o.client, this.ttlSec, this.callTimeoutMs);
    if (!this.toldTtl && lease.ttlMs > this.ttlSec * 1000) {
      this.toldTtl = true;
      this.o.log(`election: etcd grants leases of ${lease.ttlMs / 1000} s at least (its minimum for its election timeout): a crashed leader is replaced after up to ${lease.ttlMs / 1000 + 0.5} s`);
    }
    this.lease = lease;
    const lost = new Promise<void>((r) => lease.onLost(r));
    // Unanswered for a TTL (etcd between leaders, or out of reach): stop leading; answered again
    // while the key still stands: lead again, the key's create revision, and so the fence, unchanged.
    lease.onHeld((held) => {
      if (held) return void this.check();
      if (this.leading) this.o.log(`election: ${lease.lapse()}: not leading until it answers`);
      this.stepDown();
    });
    try {
      if (this.stopped) return;
      const key = Buffer.from(`${this.o.prefix}${BigInt(lease.id).toString(16)}`);
      const res = await this.o.client.kv.txn(
        {
          compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key, value: Buffer.from(this.o.value), lease: lease.id } }],
          failure: [{ request_range: { key } }],
        },
        within(this.callTimeoutMs),
      );
      this.o.reach.ok();
      const createRevision = res.succeeded ? Number(res.header.revision) : Number(res.responses[0].response_range.kvs[0]?.create_revision ?? 0);
      this.mine = { key, createRevision };
      this.follow(Number(res.header.revision) + 1);
      await this.check();
      await lost;
      if (lease.expiredAtEtcd && !this.stopped) this.o.log(`election: etcd says lease ${BigInt(lease.id).toString(16)} expired (its keepalives came too late): campaigning again`);
    } finally {
      lease.release();
      this.watch?.close();
      this.mine = undefined;
      this.stepDown();
    }
  }

  private follow(from: number): void {
    this.watch?.close();
    this.watch = new RangeWatch({
      client: this.o.client,
      range: prefixRange(this.o.prefix),
      from,
      onRevision: () => void this.check(),
      // The history is only a hint to look again: look now and watch from here.
      onCompacted: () => void this.check().then((rev) => rev && this.follow(rev + 1)),
      reach: this.o.reach,
      log: this.o.log,
    });
  }

  /** Looks at the candidates (one look at a time) and takes over if this one is first. Returns the revision looked at. */
  private async check(): Promise<number | undefined> {
    if (this.checking) {
      this.checkAgain = true;
      return undefined;
    }
    this.checking = true;
    let rev: number | undefined;
    try {
      do {
        this.checkAgain = false;
        rev = await this.look();
      } while (this.checkAgain && !this.stopped);
    } finally {
      this.checking = false;
    }
    return rev;
  }

  private async look(): Promise<number | undefined> {
    const mine = this.mine;
    const lease = this.lease;
    if (!mine || !lease?.alive) return undefined;
    const range = prefixRange(this.o.prefix);
    let kvs: IKeyValue[] = [];
    let revision = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.o.client.kv.range({ ...range, sort_target: "Create", sort_order: "Ascend" }, within(this.callTimeoutMs));
        this.o.reach.ok();
        kvs = res.kvs;
        revision = Number(res.header.revision);
        break;
      } catch (err) {
        if (!isTransient(err) || !lease.alive || this.mine !== mine) return undefined;
        this.o.reach.failed(err);
        await sleep(backoff(attempt));
      }
    }
    this.candidates = kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), createRevision: Number(kv.create_revision) }));
    const me = this.candidates.find((c) => c.key === mine.key.toString());
    if (!me) {
      // etcd dropped our key: the lease ended there. Campaign again with a new one.
      this.o.log(`election: etcd dropped this manager's key (lease ${BigInt(lease.id).toString(16)} expired there): campaigning again`);
      lease.release();
      return revision;
    }
    if (this.leading || this.candidates[0] !== me) return revision;
    // First in line. Rewrite our key, fenced on its create revision: that proves the lease is
    // still ours and gives a revision after every write any earlier leader made.
    const barrier = await this.o.client.kv
      .txn(
        {
          compare: [{ key: mine.key, target: "Create", result: "Equal", create_revision: mine.createRevision }],
          success: [{ request_put: { key: mine.key, value: Buffer.from(this.o.value), lease: lease.id } }],
        },
        within(this.callTimeoutMs),
      )
      .catch(() => undefined);
    if (!barrier) {
      await sleep(backoff(1));
      this.checkAgain = true;
      return revision;
    }
    if (!barrier.succeeded) {
      lease.release();
      return revision;
    }
    if (!lease.alive || this.mine !== mine || this.stopped) return revision;
    this.leading = true;
    const at = Number(barrier.header.revision);
    for (const fn of this.listeners) fn(true, at);
    return at;
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    for (const fn of this.listeners) fn(false, 0);
  }
}
