// One Raft member: drives the pure core with a tick timer, persists its Ready batches to the WAL
// and snapshot files, sends through the gRPC transport and applies to the state machine, in the
// order the core's contract requires (persist, send, apply, advance; a leader writes its own log
// while it replicates and applies).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ConfChange, ConfChangeType, EntryType, type ConfState, type Entry, type Message, type Snapshot } from "../../proto/gen/raft.js";
import { DEFAULT_ELECTION_TICK, DEFAULT_HEARTBEAT_TICK, DEFAULT_TICK_MS, MemoryStorage, RawNode, Role, type Ready, type ReadState } from "./core/index.js";
import { Wal } from "./wal/index.js";
import { Snapshotter } from "./snap/index.js";
import { Transport } from "./transport/index.js";
import { LeadershipLostError, NotLeaderError, StoppedError } from "./errors.js";
import { Waiters } from "./waiters.js";
import type { RaftNodeOptions, RaftNodeStatus } from "./api.js";
import { decodeMemberInfo, encodeMemberInfo, ProposalIds, unwrapProposal, unwrapSnapshot, wrapProposal, wrapSnapshot, type MemberInfo } from "./envelope.js";

export { NotLeaderError, ProposalTimeoutError, LeadershipLostError, StoppedError } from "./errors.js";
export type { MemberInfo } from "./envelope.js";
export type { RaftNodeOptions, RaftNodeStatus, StateMachine } from "./api.js";

export class RaftNode {
  private rawNode!: RawNode;
  private storage!: MemoryStorage;
  private wal!: Wal;
  private readonly snapshotter: Snapshotter;
  private readonly transport: Transport;
  private members = new Map<number, MemberInfo>();
  private confState: ConfState = { voters: [], learners: [] };
  private readonly ids = new ProposalIds();
  private readonly proposals = new Waiters<number>();
  private readonly reads = new Waiters<string>();
  private applied = 0;
  private snapshotIndex = 0;
  private snapshotsReceived = 0;
  private snapshotWanted = false;
  private role: Role = Role.Follower;
  private leader = 0;
  private term = 0;
  private commit = 0;
  private ticker?: NodeJS.Timeout;
  private running = false;
  private kicked = false;
  private stopped = false;
  private stopping?: Promise<void>;
  private snapshotting?: Promise<void>;
  /** WAL writes a leader's Readies left running (handleLeaderReady). */
  private writesUnderWay = 0;
  private fatal?: Error;
  private readonly o: Required<Omit<RaftNodeOptions, "initialMembers" | "joinMembers" | "server" | "serverCredentials" | "channelCredentials" | "onLeadershipChange" | "sealer">> & RaftNodeOptions;

  constructor(opts: RaftNodeOptions) {
    this.o = {
      tickMs: DEFAULT_TICK_MS,
      electionTick: DEFAULT_ELECTION_TICK,
      heartbeatTick: DEFAULT_HEARTBEAT_TICK,
      snapshotInterval: 10_000,
      snapshotCatchUpEntries: 5_000,
      proposalTimeoutMs: 5_000,
      log: (l: string) => console.error(l),
      ...definedOnly(opts),
    };
    this.snapshotter = new Snapshotter(join(opts.dataDir, "snap"), this.o.log, opts.sealer);
    this.transport = new Transport({
      channelCredentials: opts.channelCredentials,
      log: this.o.log,
      handler: {
        onMessage: (m) => this.stepSafely(m),
        onSnapshot: async (m) => this.stepSafely(m),
        reportUnreachable: (peer) => this.rawNode?.reportUnreachable(peer),
        reportDisconnected: (peer) => {
          if (!this.rawNode || this.stopped) return;
          this.rawNode.reportDisconnected(peer);
          this.kick();
        },
        reportSnapshot: (peer, ok) => {
          this.rawNode?.reportSnapshot(peer, ok);
          this.kick();
        },
      },
    });
  }

  /** Recovers from disk (or bootstraps), starts the transport and the tick timer. */
  async start(): Promise<void> {
    this.storage = new MemoryStorage();
    const { wal, state } = await Wal.open(join(this.o.dataDir, "wal"), { log: this.o.log, sealer: this.o.sealer });
    this.wal = wal;
    let snap = this.snapshotter.loadNewest();
    const fresh = !snap && state.entries.length === 0 && state.hardState.term === 0;
    if (fresh && this.o.initialMembers) snap = await this.bootstrap(this.o.initialMembers);
    let hardState = state.hardState;
    if (snap) {
      this.storage.applySnapshot(snap);
      this.restoreSnapshot(snap);
      if (hardState.commit < snap.metadata!.index) hardState = { ...hardState, term: Math.max(hardState.term, snap.metadata!.term), commit: snap.metadata!.index };
    }
    this.storage.setHardState(hardState);
    this.term = hardState.term;
    this.commit = hardState.commit;
    const after = snap?.metadata?.index ?? 0;
    this.storage.append(state.entries.filter((e) => e.index > after));
    this.rawNode = new RawNode({
      id: this.o.id,
      electionTick: this.o.electionTick,
      heartbeatTick: this.o.heartbeatTick,
      storage: this.storage,
      applied: this.applied,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
    });
    if (!snap) for (const [id, m] of this.o.joinMembers ?? []) this.members.set(id, m);
    this.members.set(this.o.id, this.o.self);
    if (this.o.server) this.transport.serveOn(this.o.server);
    else await this.transport.listen(this.o.self.raftAddress, this.o.serverCredentials);
    for (const [id, m] of this.members) if (id !== this.o.id) this.transport.setPeer(id, m.raftAddress);
    // A lone voter need not wait out an election timeout: nobody else could win.
    const voters = this.confState.voters;
    if (voters.length === 1 && voters[0] === this.o.id) this.rawNode.campaign();
    this.ticker = setInterval(() => {
      this.rawNode.tick();
      this.kick();
    }, this.o.tickMs);
    this.kick();
  }

  /**
   * Proposes `data`; resolves with the state machine's result once committed and applied here.
   * `local`, if given, is handed to the state machine's apply of this entry on this member (it
   * must stand for exactly `data`); it is dropped once the proposal settles or times out.
   */
  propose(data: Uint8Array, timeoutMs = this.o.proposalTimeoutMs, local?: unknown): Promise<unknown> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    if (this.role !== Role.Leader) return Promise.reject(this.notLeader());
    const id = this.ids.next();
    const p = this.proposals.wait(id, timeoutMs, local);
    try {
      this.rawNode.propose(wrapProposal(id, data));
    } catch (err) {
      this.proposals.settle(id, err as Error);
    }
    this.kick();
    return p;
  }

  /** Resolves once this member has applied everything committed before the call (ReadIndex). */
  async linearizableRead(timeoutMs = this.o.proposalTimeoutMs): Promise<void> {
    const unusable = this.unusable();
    if (unusable) throw unusable;
    if (!this.leader) throw this.notLeader();
    const ctx = randomBytes(8);
    const p = this.reads.wait(ctx.toString("hex"), timeoutMs);
    this.rawNode.readIndex(ctx);
    this.kick();
    await p;
  }

  /** Adds a member as a learner, waits for it to catch up, then promotes it to voter. */
  async addMember(id: number, info: MemberInfo, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (!this.confState.learners.includes(id) && !this.confState.voters.includes(id)) {
      await this.proposeConfChange(ConfChangeType.CONF_ADD_LEARNER, id, info, timeoutMs);
    }
    if (this.confState.voters.includes(id)) return;
    // Caught up: it holds everything committed when it joined, so promoting it cannot stall commits.
    const target = this.commit;
    for (;;) {
      const progress = this.rawNode.status().progress?.get(id);
      if (progress && progress.match >= target) break;
      if (Date.now() > deadline) throw new Error(`raft: member ${id} did not catch up within ${timeoutMs} ms; check that it runs and is reachable at ${info.raftAddress}`);
      if (this.role !== Role.Leader) throw this.notLeader();
      await sleep(20);
    }
    await this.proposeConfChange(ConfChangeType.CONF_ADD_NODE, id, info, Math.max(1000, deadline - Date.now()));
  }

  async removeMember(id: number, timeoutMs = 10_000): Promise<void> {
    await this.proposeConfChange(ConfChangeType.CONF_REMOVE_NODE, id, undefined, timeoutMs);
  }

  /** Hands leadership to `to` and resolves once it leads. */
  async transferLeadership(to: number, timeoutMs = 5_000): Promise<void> {
    if (this.role !== Role.Leader) throw this.notLeader();
    this.rawNode.transferLeader(to);
    this.kick();
    const deadline = Date.now() + timeoutMs;
    while (this.leader !== to) {
      if (Date.now() > deadline) throw new Error(`raft: member ${to} did not take over within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Resolves with the leader's id once one is known to this member. */
  async waitForLeader(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (!this.leader) {
      if (this.stopped) throw new StoppedError();
      if (Date.now() > deadline) throw new Error(`raft: no leader known to member ${this.o.id} within ${timeoutMs} ms; check that a quorum of members runs`);
      await sleep(5);
    }
    return this.leader;
  }

  status(): RaftNodeStatus {
    const members: RaftNodeStatus["members"] = {};
    for (const [id, m] of this.members) members[id] = { ...m, voter: this.confState.voters.includes(id) };
    return {
      id: this.o.id,
      role: this.role,
      leader: this.leader,
      term: this.term,
      commit: this.commit,
      applied: this.applied,
      snapshotIndex: this.snapshotIndex,
      snapshotsReceived: this.snapshotsReceived,
      messagesDropped: this.transport.stats.dropped,
      members,
    };
  }

  leaderInfo(): MemberInfo | undefined {
    return this.members.get(this.leader);
  }

  /** Stops this member; a leader first hands leadership to the most caught-up voter, so the others need not wait out an election. */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown();
    return this.stopping;
  }

  private async shutDown(): Promise<void> {
    if (this.role === Role.Leader && !this.fatal && !this.stopped) await this.handOff();
    this.stopped = true;
    clearInterval(this.ticker);
    const err = new StoppedError();
    this.proposals.rejectAll(err);
    this.reads.rejectAll(err);
    while (this.running) await sleep(5);
    await this.snapshotting;
    await this.transport.close();
    await this.wal?.close();
  }

  private async handOff(): Promise<void> {
    let to = 0;
    let best = -1;
    for (const [id, p] of this.rawNode.status().progress ?? []) {
      if (id !== this.o.id && !p.learner && p.match > best) [to, best] = [id, p.match];
    }
    if (!to) return;
    // Within one election timeout, or the others will have started an election of their own anyway.
    await this.transferLeadership(to, this.o.electionTick * this.o.tickMs).then(
      () => this.o.log(`raft: member ${this.o.id} handed leadership to member ${to} before stopping`),
      (err: Error) => this.o.log(`raft: member ${this.o.id} stopping without handing over leadership: ${err.message}`),
    );
  }

  // ---- the Ready loop ----

  private kick(): void {
    if (this.kicked || this.running || this.stopped) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      void this.runReady();
    });
  }

  private async runReady(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      while (!this.stopped && this.rawNode.hasReady()) {
        await this.handleReady(this.rawNode.ready());
        // A leader's Ready is handled without a wait, and applying it lets proposers propose
        // again at once: let the sockets in (heartbeats, acks, votes) between two.
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.running = false;
    }
  }

  /** Persisting failed: this member can no longer promise durability. Stop taking part. */
  private fail(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.o.log(`raft: member ${this.o.id} stopping: ${err.message}`);
    void this.stop();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.leader, rd.hardState?.term ?? this.term);
    if (rd.messagesBeforePersist) this.handleLeaderReady(rd);
    else await this.handleOtherReady(rd);
    this.maybeSnapshot();
  }

  // A leader replicates, applies and moves on while its own write runs (Raft thesis §10.2.1);
  // the core counts the leader's copy toward commit only once persisted() says it landed.
  private handleLeaderReady(rd: Ready): void {
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    for (const e of rd.committedEntries) this.applyEntry(e);
    this.wakeReaders(rd.readStates);
    if (rd.entries.length > 0 || rd.mustSync) {
      this.writesUnderWay++;
      this.wal.save(rd.hardState, rd.entries, rd.mustSync).then(
        () => {
          this.writesUnderWay--;
          if (rd.entries.length > 0 && !this.stopped) this.rawNode.persisted();
          this.kick();
        },
        (err: Error) => this.fail(err),
      );
    } else if (rd.hardState) {
      void this.wal.save(rd.hardState, [], false);
    }
    this.noteHardState(rd);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    this.rawNode.advance(false);
  }

  // Everyone else persists first: a follower's answer promises what it holds on disk.
  private async handleOtherReady(rd: Ready): Promise<void> {
    const snap = rd.snapshot && rd.snapshot.metadata && rd.snapshot.metadata.index > 0 ? rd.snapshot : undefined;
    if (snap) {
      await this.snapshotting; // our own, older one lands first
      await this.snapshotter.save(snap);
      await this.wal.saveSnapshotMarker(snap.metadata!.index, snap.metadata!.term);
    }
    // A leader's writes may still be under way (it just stepped down): the log is FIFO, so
    // waiting for this one waits for them too.
    if (rd.entries.length > 0 || rd.mustSync || this.writesUnderWay > 0) await this.wal.save(rd.hardState, rd.entries, true);
    else if (rd.hardState) void this.wal.save(rd.hardState, [], false);
    if (snap) this.storage.applySnapshot(snap);
    this.noteHardState(rd);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    if (snap) {
      this.restoreSnapshot(snap);
      this.snapshotsReceived++;
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    this.wakeReaders(rd.readStates);
    this.rawNode.advance();
  }

  private noteHardState(rd: Ready): void {
    if (!rd.hardState) return;
    this.storage.setHardState(rd.hardState);
    this.term = rd.hardState.term;
    this.commit = rd.hardState.commit;
  }

  /** `term`: the term this Ready brings (its hard state is recorded after), for the log line. */
  private onSoftState(role: Role, leader: number, term: number): void {
    const wasLeader = this.role === Role.Leader;
    // One line per change of leader: what an operator reads to follow elections.
    if (leader !== this.leader && (role === Role.Leader || role === Role.Follower)) {
      this.o.log(`raft: member ${this.o.id} ${role === Role.Leader ? "leads" : leader ? `follows leader ${leader}` : "has no leader"} in term ${term}`);
    }
    this.role = role;
    this.leader = leader;
    if (wasLeader && role !== Role.Leader) {
      const err = new LeadershipLostError();
      this.proposals.rejectAll(err);
    }
    try {
      this.o.onLeadershipChange?.({ role, leader });
    } catch (err) {
      this.o.log(`raft: member ${this.o.id}: leadership listener failed: ${(err as Error).message}`);
    }
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.applied) return;
    this.applied = e.index;
    if (e.type === EntryType.ENTRY_CONF_CHANGE) {
      const cc = ConfChange.decode(e.data);
      this.applyConfChange(cc);
      this.proposals.settle(cc.id);
    } else {
      const p = unwrapProposal(e.data);
      if (p) {
        // Proposal ids carry a per-process prefix, so a waiter with this id is this entry's proposer.
        const result = this.o.stateMachine.apply({ ...e, data: p.payload }, this.proposals.local(p.id));
        this.proposals.settle(p.id, undefined, result);
      }
    }
  }

  private applyConfChange(cc: ConfChange): void {
    this.confState = this.rawNode.applyConfChange(cc);
    if (cc.type === ConfChangeType.CONF_REMOVE_NODE) {
      this.members.delete(cc.nodeId);
      this.transport.removePeer(cc.nodeId);
      if (cc.nodeId === this.o.id) {
        this.o.log(`raft: member ${this.o.id} was removed from the cluster; stopping`);
        setTimeout(() => void this.stop(), 500);
      }
      return;
    }
    // The core refuses a snapshot whose membership lacks the receiver, so a newcomer can only be
    // caught up from a snapshot taken after it was added.
    if (!this.members.has(cc.nodeId)) this.snapshotWanted = true;
    const info = decodeMemberInfo(cc.context);
    if (info) {
      this.members.set(cc.nodeId, info);
      if (cc.nodeId !== this.o.id) this.transport.setPeer(cc.nodeId, info.raftAddress);
    }
  }

  private restoreSnapshot(snap: Snapshot): void {
    const { members, app } = unwrapSnapshot(snap.data);
    this.o.stateMachine.restore(app);
    this.members = members;
    this.members.set(this.o.id, this.o.self);
    for (const [id, m] of members) if (id !== this.o.id && this.rawNode) this.transport.setPeer(id, m.raftAddress);
    this.confState = snap.metadata!.confState ?? { voters: [], learners: [] };
    this.applied = snap.metadata!.index;
    this.snapshotIndex = snap.metadata!.index;
  }

  /** Takes a snapshot when due. The state is captured here; writing it runs off the Ready loop. */
  private maybeSnapshot(): void {
    if (this.snapshotting) return;
    if (this.applied - this.snapshotIndex < this.o.snapshotInterval && !this.snapshotWanted) return;
    if (this.applied <= this.snapshotIndex) return;
    this.snapshotWanted = false;
    const data = wrapSnapshot(this.members, this.o.stateMachine.snapshot());
    const snap = this.storage.createSnapshot(this.applied, this.confState, data);
    this.snapshotting = this.persistSnapshot(snap)
      .catch((err: Error) => this.fail(err))
      .finally(() => (this.snapshotting = undefined));
  }

  private async persistSnapshot(snap: Snapshot): Promise<void> {
    const { index, term } = snap.metadata!;
    await this.snapshotter.save(snap);
    await this.wal.saveSnapshotMarker(index, term);
    this.snapshotIndex = Math.max(this.snapshotIndex, index);
    const compactTo = index - this.o.snapshotCatchUpEntries;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    this.wal.releaseTo(index);
    this.snapshotter.purge(2);
  }

  // First start of a new cluster: every initial member writes the same snapshot at index 1
  // naming the voters, so they all begin from one identical log.
  private async bootstrap(initial: Map<number, MemberInfo>): Promise<Snapshot> {
    const snap: Snapshot = {
      data: wrapSnapshot(initial, this.o.stateMachine.snapshot()),
      metadata: { index: 1, term: 1, confState: { voters: [...initial.keys()], learners: [] } },
    };
    await this.snapshotter.save(snap);
    await this.wal.saveSnapshotMarker(1, 1);
    await this.wal.save({ term: 1, vote: 0, commit: 1 }, []);
    return snap;
  }

  // ---- helpers ----

  private async proposeConfChange(type: ConfChangeType, nodeId: number, info: MemberInfo | undefined, timeoutMs: number): Promise<void> {
    const unusable = this.unusable();
    if (unusable) throw unusable;
    if (this.role !== Role.Leader) throw this.notLeader();
    const id = this.ids.next();
    const p = this.proposals.wait(id, timeoutMs);
    try {
      this.rawNode.proposeConfChange(ConfChange.fromPartial({ id, type, nodeId, context: info ? encodeMemberInfo(info) : Buffer.alloc(0) }));
    } catch (err) {
      this.proposals.settle(id, err as Error);
    }
    this.kick();
    await p;
  }

  private stepSafely(m: Message): void {
    if (!this.rawNode || this.stopped) return;
    try {
      this.rawNode.step(m);
    } catch (err) {
      this.o.log(`raft: member ${this.o.id} ignored message type ${m.type} from ${m.from}: ${(err as Error).message}`);
    }
    this.kick();
  }

  /** Notes the read points the core answered and releases every read whose point is applied. */
  private wakeReaders(readStates: readonly ReadState[] = []): void {
    for (const rs of readStates) this.reads.setIndex(Buffer.from(rs.context.buffer, rs.context.byteOffset, rs.context.byteLength).toString("hex"), rs.index);
    this.reads.releaseUpTo(this.applied);
  }

  private unusable(): Error | undefined {
    if (this.fatal) return this.fatal;
    if (this.stopped) return new StoppedError();
    return undefined;
  }

  private notLeader(): NotLeaderError {
    return new NotLeaderError(this.leader, this.members.get(this.leader));
  }
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
