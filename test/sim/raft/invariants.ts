// Safety properties of Raft (Figure 3 of the paper) checked across all members after each step.
import { Role } from "../../../manager/raft/core/index.js";
import type { Entry } from "../../../proto/gen/raft.js";
import type { SimMember } from "./member.js";

export class SafetyViolation extends Error {}

export class Invariants {
  private readonly leaderOfTerm = new Map<number, number>();
  /** Term of each committed index, as first seen committed anywhere. */
  private readonly committedTerm: number[] = [];
  private readonly appliedData: string[] = [];
  private checkedCommit = new Map<number, number>();
  /** Per leader and term ("id:term"): highest index checked for durability, and the voters then. */
  private durableChecked = new Map<string, { index: number; voters: number[] }>();
  /** The highest commit index any member had at the end of the previous check. */
  private prevMaxCommit = 0;

  /** State machine safety: every member applies the same entry at each index. */
  onApply(m: SimMember, e: Entry): void {
    const sig = `${e.term}/${e.type}/${e.data.toString("hex")}`;
    const prev = this.appliedData[e.index];
    if (prev === undefined) this.appliedData[e.index] = sig;
    else if (prev !== sig) fail(`state machine safety: member ${m.id} applied ${sig} at ${e.index}, another applied ${prev}`);
  }

  check(members: SimMember[], full: boolean): void {
    for (const m of members) {
      if (!m.alive) continue;
      const r = m.node.raft;
      // Election safety.
      if (r.role === Role.Leader) {
        const other = this.leaderOfTerm.get(r.term);
        if (other === undefined) {
          this.leaderOfTerm.set(r.term, m.id);
          this.checkLeaderCompleteness(m);
        } else if (other !== m.id) fail(`election safety: members ${other} and ${m.id} both led term ${r.term}`);
      }
      if (r.role === Role.Leader) this.checkDurableCommit(m, members);
      // Commit never goes back within one incarnation.
      const c = r.log.committed;
      if (c < m.lastCommit) fail(`member ${m.id}: commit went back from ${m.lastCommit} to ${c}`);
      m.lastCommit = c;
      // Committed entries never change.
      const checked = this.checkedCommit.get(m.id);
      if (checked !== undefined && checked >= c) continue;
      const from = Math.max(checked === undefined ? 0 : checked + 1, r.log.firstIndex() - 1, 1);
      for (let i = from; i <= c; i++) {
        const t = r.log.term(i);
        if (t === undefined) continue;
        const known = this.committedTerm[i];
        if (known === undefined) this.committedTerm[i] = t;
        else if (known !== t) fail(`committed entry changed: member ${m.id} has term ${t} at committed index ${i}, was ${known}`);
      }
      this.checkedCommit.set(m.id, c);
    }
    for (const m of members) if (m.alive) this.prevMaxCommit = Math.max(this.prevMaxCommit, m.node.raft.log.committed);
    if (full) {
      this.checkLogMatching(members);
      for (const m of members) if (m.alive && m.node.raft.role === Role.Leader) this.checkLeaderCompleteness(m);
    }
  }

  resetMember(id: number): void {
    this.checkedCommit.delete(id);
  }

  /**
   * Durability: an entry a leader counts as committed is on the synced disks of a quorum of its
   * voters (its own included only once its write is synced), so no set of crashes can lose it.
   * A membership change may take effect in the same step (at most one: a leader proposes a change
   * only once the last is applied), so the voters at the previous check count too.
   */
  private checkDurableCommit(leader: SimMember, members: SimMember[]): void {
    const r = leader.node.raft;
    const key = `${leader.id}:${r.term}`;
    const checked = this.durableChecked.get(key);
    const voters = [...r.trk.voters];
    if (checked && checked.index >= r.log.committed) {
      checked.voters = voters;
      return;
    }
    const last = checked ?? { index: Math.max(this.prevMaxCommit, r.log.firstIndex() - 1), voters };
    const byId = new Map(members.map((m) => [m.id, m]));
    const durable = (ids: number[], i: number, t: number) => ids.filter((v) => byId.get(v)?.disk.holds(i, t)).length >= Math.floor(ids.length / 2) + 1;
    for (let i = last.index + 1; i <= r.log.committed; i++) {
      const t = r.log.term(i);
      if (t === undefined || durable(voters, i, t) || durable(last.voters, i, t)) continue;
      const holders = voters.filter((v) => byId.get(v)?.disk.holds(i, t));
      fail(`durability: leader ${leader.id} of term ${r.term} counts entry ${i} (term ${t}) committed, but only voters [${holders}] of [${voters}] have it on disk`);
    }
    this.durableChecked.set(key, { index: Math.max(last.index, r.log.committed), voters });
  }

  /** A leader's log holds every entry committed before its term. */
  private checkLeaderCompleteness(m: SimMember): void {
    const log = m.node.raft.log;
    for (let i = log.firstIndex(); i < this.committedTerm.length; i++) {
      const known = this.committedTerm[i];
      if (known === undefined || known >= m.node.raft.term) continue;
      const t = log.term(i);
      if (t !== known) fail(`leader completeness: leader ${m.id} of term ${m.node.raft.term} has term ${t} at ${i}, committed with term ${known}`);
    }
  }

  /** If two logs agree on an entry's term, they agree on everything before it. */
  private checkLogMatching(members: SimMember[]): void {
    const live = members.filter((m) => m.alive);
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const la = live[a]!.node.raft.log;
        const lb = live[b]!.node.raft.log;
        const lo = Math.max(la.firstIndex(), lb.firstIndex());
        const hi = Math.min(la.lastIndex(), lb.lastIndex());
        let matched = false;
        for (let i = hi; i >= lo; i--) {
          const ta = la.term(i);
          const tb = lb.term(i);
          if (ta === tb) matched = true;
          else if (matched) fail(`log matching: members ${live[a]!.id} and ${live[b]!.id} agree above ${i} but differ at ${i} (${ta} vs ${tb})`);
        }
      }
    }
  }
}

function fail(what: string): never {
  throw new SafetyViolation(what);
}
