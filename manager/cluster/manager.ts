// One manager: a Raft member holding the replicated store, and — while it leads — the control
// loops (orchestrator, allocator, scheduler) and the dispatcher. Leadership decides which of them
// run; they meet only through the store.
import { randomBytes } from "node:crypto";
import type { Server } from "@grpc/grpc-js";
import { Role } from "../raft/core/api.js";
import { RaftNode, type MemberInfo } from "../raft/node.js";
import { raftStore } from "../store/raft.js";
import type { MemoryStore } from "../store/memory.js";
import { byRole } from "../store/types.js";
import { NodeRole } from "../../proto/gen/cluster.js";
import { StoreLoop } from "../store/loop.js";
import { Orchestrator } from "../orchestrator/orchestrator.js";
import { Scheduler } from "../scheduler/scheduler.js";
import { ALLOCATOR_FILTER, allocate } from "../allocator/allocator.js";
import { Dispatcher } from "../dispatcher/dispatcher.js";
import { RoleManager } from "../roles/roles.js";
import { EtcdBackend, type EtcdBackendOptions } from "../store/etcd/backend.js";
import type { NodeCertificates } from "../ca/certificates.js";
import type { RecordSealer } from "../raft/wal/record.js";
import { clusterChannel, nodeChannel, PLAINTEXT_CHANNEL, type ClusterChannel } from "../ca/credentials.js";

export interface ManagerOptions {
  nodeId: string;
  raftId: number;
  dataDir: string;
  /** This manager's cluster address (host:port): Raft, dispatcher and control all use it. */
  addr: string;
  /** The cluster port's server; the manager adds its Raft transport to it. */
  server: Server;
  initialMembers?: Map<number, MemberInfo>;
  joinMembers?: Map<number, MemberInfo>;
  heartbeatPeriodMs?: number;
  /**
   * The node's certificates: its mutual TLS to the other managers (Raft, forwarded control calls)
   * and to every node (task logs). Absent only in in-process tests whose servers serve no TLS.
   */
  certs?: NodeCertificates;
  /** Keep the state in etcd instead of the embedded Raft store. */
  etcd?: Omit<EtcdBackendOptions, "addr" | "log">;
  /** Encryption at rest of the Raft log and snapshots (the member's data key). */
  sealer?: RecordSealer;
  log?: (line: string) => void;
}

/** A Raft id for a new manager: random, below 2^53 so it survives as a JS number. */
export function newRaftId(): number {
  return Number(randomBytes(8).readBigUInt64BE(0) >> 12n) || 1;
}

interface Loop {
  start(): void;
  stop(): void;
}

export class Manager {
  readonly store: MemoryStore;
  /** The embedded store's Raft member (the default). */
  readonly raft?: RaftNode;
  /** The etcd backend (`swarm init --store etcd`): etcd agrees, a lease elects the leading manager. */
  readonly etcd?: EtcdBackend;
  readonly dispatcher: Dispatcher;
  /** To the other managers. */
  readonly channel: ClusterChannel;
  private loops: Loop[] = [];
  private leading = false;
  private watch?: NodeJS.Timeout;
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly o: ManagerOptions) {
    this.log = o.log ?? ((l) => console.error(l));
    this.channel = o.certs ? clusterChannel(o.certs) : PLAINTEXT_CHANNEL;
    if (o.etcd) {
      this.etcd = new EtcdBackend({ ...o.etcd, addr: o.addr, log: this.log });
      this.store = this.etcd.store;
    } else {
      const { store, stateMachine } = raftStore(() => this.raft!);
      this.store = store;
      this.raft = new RaftNode({
        id: o.raftId,
        dataDir: o.dataDir,
        stateMachine,
        self: { raftAddress: o.addr, clientAddress: o.addr },
        initialMembers: o.initialMembers,
        joinMembers: o.joinMembers,
        server: o.server,
        channelCredentials: this.channel.credentials,
        sealer: o.sealer,
        // Out of the Ready loop: taking over starts a read and the control loops.
        onLeadershipChange: () => queueMicrotask(() => this.checkLeadership()),
        log: this.log,
      });
    }
    this.dispatcher = new Dispatcher({ store: this.store, managers: () => this.managerAddrs(), raftMembers: () => this.raftMembers(), heartbeatPeriodMs: o.heartbeatPeriodMs, log: this.log });
  }

  async start(): Promise<void> {
    if (this.etcd) {
      this.etcd.onLeadership((leads) => (leads ? this.startLoops() : this.stepDown()));
      await this.etcd.start(); // retries, with one log line, while etcd cannot be reached
      return;
    }
    await this.raft!.start();
    // The member tells of each change (onLeadershipChange); the slow look is a backstop only.
    this.checkLeadership();
    this.watch = setInterval(() => this.checkLeadership(), 1000);
  }

  /**
   * Resolves once this manager's store holds everything committed when it started (a restarted
   * or new member replays and catches up first): what follows the store's settings waits for it.
   */
  async caughtUp(): Promise<void> {
    if (!this.raft) return; // the etcd replica is loaded by start()
    while (!this.stopped) {
      try {
        return await this.raft.linearizableRead(2000);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error("the manager stopped before its store caught up");
  }

  /** To one node's own services, checked to be that node. */
  channelTo(nodeId: string): ClusterChannel {
    return this.o.certs ? nodeChannel(this.o.certs, nodeId) : PLAINTEXT_CHANNEL;
  }

  /** This manager's cluster address. */
  get addr(): string {
    return this.o.addr;
  }

  isLeader(): boolean {
    return this.etcd ? this.etcd.isLeader() : this.leading;
  }

  /** The leader's cluster address, if one is known. */
  leaderAddr(): string | undefined {
    if (this.etcd) return this.etcd.leaderAddr();
    const s = this.raft!.status();
    if (!s.leader) return undefined;
    return s.leader === s.id ? this.o.addr : this.raft!.leaderInfo()?.clientAddress;
  }

  /** Cluster addresses of every manager, this one first. */
  managerAddrs(): string[] {
    if (this.etcd) {
      // Not only those campaigning now: a manager whose lease lapsed for a moment (a busy host)
      // is still one to try. Agents take this list as theirs: given only the one manager that
      // led a second ago, they would ask nobody else once it stopped leading.
      const stored = this.store.view((tx) => tx.find("node", byRole(NodeRole.NODE_ROLE_MANAGER))).map((n) => n.managerStatus?.addr ?? "");
      return [...new Set([...this.etcd.managerAddrs(), ...stored.filter((a) => a !== "")])];
    }
    const members = Object.values(this.raft!.status().members).map((m) => m.clientAddress ?? m.raftAddress);
    return [this.o.addr, ...members.filter((a) => a !== this.o.addr)];
  }

  /** The Raft group as a joining or promoted manager needs it (none with etcd). */
  raftMembers(): { raftId: number; addr: string }[] {
    if (!this.raft) return [];
    return Object.entries(this.raft.status().members).map(([id, info]) => ({ raftId: Number(id), addr: info.clientAddress ?? info.raftAddress }));
  }

  /** Where an etcd-backed swarm keeps its state, for nodes joining it; undefined with Raft. */
  etcdConfig(): { endpoints: string[]; prefix: string } | undefined {
    return this.o.etcd ? { endpoints: this.o.etcd.endpoints, prefix: this.o.etcd.prefix ?? "/shoal/" } : undefined;
  }

  /** Hands the control loops to another manager: Raft leadership transfer, or resigning the etcd election. */
  async handOver(): Promise<void> {
    if (this.etcd) return this.etcd.resign();
    const self = this.o.raftId;
    const other = this.raftMembers().find((x) => x.raftId !== self);
    if (other && this.isLeader()) await this.raft!.transferLeadership(other.raftId);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watch);
    this.stepDown();
    await (this.etcd ? this.etcd.stop() : this.raft!.stop());
  }

  private checkLeadership(): void {
    if (this.stopped || !this.raft) return;
    const leads = this.raft!.status().role === Role.Leader;
    if (leads && !this.leading) void this.takeOver();
    else if (!leads && this.leading) this.stepDown();
  }

  private async takeOver(): Promise<void> {
    this.leading = true;
    // Run the loops only on a store that has everything committed before this term.
    try {
      await this.raft!.linearizableRead(2000);
    } catch {
      this.leading = false;
      return;
    }
    if (!this.leading || this.stopped) return;
    this.startLoops();
  }

  private startLoops(): void {
    if (this.stopped) return;
    this.leading = true;
    this.log(this.raft ? `manager: raft member ${this.o.raftId} leads; starting the control loops` : "manager: leads through etcd; starting the control loops");
    const onError = (e: unknown) => this.log(`manager: ${(e as Error).message}`);
    const allocator = new StoreLoop(this.store, () => allocate(this.store, Date.now(), { log: this.log }), { filter: ALLOCATOR_FILTER, batchDelayMs: 5, firstDelayMs: 0, onError });
    this.loops = [new Orchestrator(this.store, { onError, batchDelayMs: 10, resyncMs: 100 }), allocator, new Scheduler(this.store, { onError, batchDelayMs: 10 })];
    // Raft membership follows the nodes' roles (with etcd only a demoted manager's status goes).
    const raft = this.raft;
    this.loops.push(new RoleManager(this.store, {
      members: () => new Set(raft ? Object.keys(raft.status().members).map(Number) : []),
      self: () => this.o.raftId,
      removeMember: (id) => raft!.removeMember(id),
      transferLeadership: (to) => raft!.transferLeadership(to),
    }, this.log));
    this.loops.push(this.dispatcher);
    for (const l of this.loops) l.start();
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.log(`manager: ${this.raft ? `raft member ${this.o.raftId}` : this.o.addr} no longer leads; stopping the control loops`);
    for (const l of this.loops.reverse()) l.stop();
    this.loops = [];
  }
}
