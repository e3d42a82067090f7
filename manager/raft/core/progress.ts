// What the leader knows of one follower's log (etcd's tracker.Progress), and the set of them
// with the quorum arithmetic (one change at a time, so a plain majority of voters).
import type { ConfState } from "../../../proto/gen/raft.js";
import { invariant } from "./assert.js";
import { Inflights } from "./inflights.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  state: ProgressState = "probe";
  /** Probe: an append is out and we wait for its answer (or a heartbeat answer) before the next. */
  probeSent = false;
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(public match: number, public next: number, maxInflight: number, public isLearner: boolean) {
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = index;
  }

  /** An acknowledgement up to n: returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append at `rejected`; `hint` is the follower's guess of the last index
   * we might agree on. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Bookkeeping after sending an append with `count` entries ending at `last`. */
  sentEntries(count: number, last: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        invariant(last >= this.next, () => `sent entries ending at ${last} below next ${this.next}`);
        this.next = last + 1;
        this.inflights.add(last);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}

export enum VoteResult {
  Pending,
  Won,
  Lost,
}

export class ProgressTracker {
  voters = new Set<number>();
  learners = new Set<number>();
  progress = new Map<number, Progress>();
  votes = new Map<number, boolean>();
  private sortedIds: number[] | undefined;

  constructor(private readonly maxInflight: number) {}

  /** Every member's id in ascending order (the order messages go out in, for replayable runs). */
  ids(): number[] {
    this.sortedIds ??= [...this.progress.keys()].sort((a, b) => a - b);
    return this.sortedIds;
  }

  clear(): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    this.sortedIds = undefined;
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  isSingleton(): boolean {
    return this.voters.size === 1 && this.learners.size === 0;
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** Adds `id` (or changes its role) with fresh progress starting at `next`. */
  setMember(id: number, learner: boolean, next: number): void {
    if (learner) {
      this.voters.delete(id);
      this.learners.add(id);
    } else {
      this.learners.delete(id);
      this.voters.add(id);
    }
    const pr = this.progress.get(id);
    if (pr) {
      pr.isLearner = learner;
      return;
    }
    const fresh = new Progress(0, next, this.maxInflight, learner);
    // A new member has had no chance to answer yet; do not let check-quorum count it as dead.
    fresh.recentActive = true;
    this.progress.set(id, fresh);
    this.sortedIds = undefined;
  }

  /** Fresh progress for everyone (a new term): next just past our log, match unknown but our own. */
  resetProgress(self: number, lastIndex: number, selfMatch: number): void {
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(id === self ? selfMatch : 0, lastIndex + 1, this.maxInflight, pr.isLearner);
      fresh.recentActive = id === self;
      this.progress.set(id, fresh);
    }
  }

  remove(id: number): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.sortedIds = undefined;
  }

  /** The largest index a quorum of voters has matched, or 0 without voters. */
  committed(): number {
    if (this.voters.size === 0) return 0;
    const matches: number[] = [];
    for (const id of this.voters) matches.push(this.progress.get(id)?.match ?? 0);
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1]!;
  }

  /** Whether a quorum of voters was heard from recently; resets the marks for the next round. */
  quorumActive(self: number): boolean {
    let active = 0;
    for (const id of this.voters) {
      const pr = this.progress.get(id);
      if (id === self || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) pr.recentActive = id === self;
    return active >= this.quorum();
  }

  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = this.quorum();
    const result = granted >= q ? VoteResult.Won : this.voters.size - rejected < q ? VoteResult.Lost : VoteResult.Pending;
    return { granted, rejected, result };
  }
}
