// The etcd-backed store: a MemoryStore replica kept current by a Mirror, whose proposer sends each
// change set to etcd as one compare-and-swap transaction and resolves once the replica has
// applied the revision it committed at. The store's version is etcd's revision; an object's
// meta.version is its key's mod revision.
import type { Etcd3, ITxnResponse } from "etcd3";
import type { ChangeSet } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../memory.js";
import { CALL_TIMEOUT_MS, type Reachability, backoff, isTransient, reasonOf, sleep, within } from "./client.js";
import { EtcdUnavailableError, NotLeaderError, TxnTooLargeError } from "./errors.js";
import type { KeyLayout } from "./keys.js";
import { Mirror } from "./mirror.js";
import { type Fence, type TxnPlan, judge, planTxn } from "./txn.js";

export interface EtcdStoreOptions {
  client: Etcd3;
  keys: KeyLayout;
  reach: Reachability;
  log: (line: string) => void;
  /**
   * Given: every write must prove the writer leads, by the fence this returns; undefined (not
   * leading) refuses the write at once. Not given: any holder of the store may write.
   */
  fence?: () => Fence | undefined;
  /** Deadline of one etcd call. */
  callTimeoutMs?: number;
  /** How long a write keeps retrying while etcd is unreachable or between leaders. */
  writeTimeoutMs?: number;
  /** Writes per change set of a batch. By default as many as surely fit in maxTxnOps: a write
   * takes up to 3 operations of a kind (renaming puts the object, frees one name, takes another). */
  batchSize?: number;
  /** etcd's --max-txn-ops (128 unless the operator raised it). */
  maxTxnOps?: number;
  /** Called when the replica was replaced wholesale (see Mirror). */
  onReset?: () => void;
  now?: () => number;
}

/** Errors etcd gives when it could not have taken the request at all. */
const NOT_SENT = /No connection established|ECONNREFUSED|connect failed|Failed to connect|circuit|too many requests/i;

export class EtcdStore {
  readonly store: MemoryStore;
  private readonly mirror: Mirror;
  private readonly callTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly maxTxnOps: number;

  constructor(private readonly o: EtcdStoreOptions) {
    this.callTimeoutMs = o.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.writeTimeoutMs = o.writeTimeoutMs ?? 15_000;
    this.maxTxnOps = o.maxTxnOps ?? 128;
    this.store = new MemoryStore({ proposer: { propose: (cs) => this.propose(cs) }, batchSize: o.batchSize ?? Math.max(1, Math.floor((this.maxTxnOps - 1) / 3)), now: o.now });
    this.mirror = new Mirror({ client: o.client, keys: o.keys, replica: this.store, reach: o.reach, log: o.log, callTimeoutMs: this.callTimeoutMs, onReset: o.onReset });
  }

  /** Loads the store from etcd, retrying until it answers; then the replica follows etcd. */
  start(): Promise<void> {
    return this.mirror.start();
  }

  stop(): void {
    this.mirror.stop();
  }

  /** Resolves once the replica holds everything etcd had at `revision`. */
  caughtUp(revision: number, timeoutMs = this.writeTimeoutMs): Promise<void> {
    return this.mirror.caughtUp(revision, Date.now() + timeoutMs);
  }

  private async propose(cs: ChangeSet): Promise<void> {
    let fence: Fence | undefined;
    if (this.o.fence) {
      fence = this.o.fence();
      if (!fence) throw new NotLeaderError("it is not the elected leader now, or etcd has not confirmed its lease within the TTL");
    }
    const plan = planTxn(cs, this.store, this.o.keys, fence);
    if (plan.ops > this.maxTxnOps) throw new TxnTooLargeError(plan.ops, this.maxTxnOps);
    const until = Date.now() + this.writeTimeoutMs;
    // Once a send's answer is lost, the change may have committed: a resend then checks for that.
    let resent = false;
    for (let attempt = 0; ; attempt++) {
      let res: ITxnResponse;
      try {
        res = await this.o.client.kv.txn(plan.request, within(this.callTimeoutMs, until));
      } catch (err) {
        if (!isTransient(err)) {
          // After a send whose answer was lost, even a plain refusal cannot say nothing was written.
          if (resent) throw new EtcdUnavailableError(reasonOf(err), true);
          throw new Error(`etcd refused the change (${reasonOf(err)}): nothing was written`);
        }
        this.o.reach.failed(err);
        resent ||= !NOT_SENT.test(String((err as Error).message));
        const wait = Math.min(backoff(attempt), until - Date.now() - 50);
        if (wait < 0) throw new EtcdUnavailableError(reasonOf(err), resent);
        await sleep(wait);
        continue;
      }
      this.o.reach.ok();
      if (res.succeeded) return this.applied(Number(res.header.revision), until);
      const verdict = judge(plan, res.responses, resent);
      if (!verdict.landed) throw verdict.error;
      if (verdict.revision !== undefined) return this.applied(verdict.revision, until);
      return this.removed(plan, until);
    }
  }

  private async applied(revision: number, until: number): Promise<void> {
    try {
      await this.mirror.caughtUp(revision, until);
    } catch (err) {
      throw new Error(`the change was written to etcd at revision ${revision}, but ${(err as Error).message}: read again before retrying`);
    }
  }

  /** A change of removals only, found already committed: done once the replica has none of them. */
  private removed(plan: TxnPlan, until: number): Promise<void> {
    const gone = plan.checks.flatMap((c) => (c.on === "object" ? [c] : []));
    return this.mirror.waitUntil(() => gone.every((c) => !this.store.get(c.kind, c.id)), until, "the removal was written to etcd, but this manager's copy has not seen it yet: read again before retrying");
  }
}
