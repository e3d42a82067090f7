// The dispatcher: one gRPC session per agent, served by the leader. It records heartbeats in
// memory (they never go through Raft), marks a node down when its heartbeats stop, pushes each
// node the whole set of its tasks whenever that set changes, and its overlay networks (peers,
// services, load-balancer targets) whenever they change, and writes agents' task status reports
// back to the store in batches.
import { status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { NodeNetwork, NodeRole, NodeState, TaskState, type Node, type NodeDescription, type Task, type TaskStatus } from "../../proto/gen/cluster.js";
import type { AgentMessage, ManagerMessage, RaftMember } from "../../proto/gen/swarm.js";
import { NetworkViews } from "../allocator/netviews.js";
import { byNodeId, type Store, type StoreEvent } from "../store/types.js";
import { liveness } from "./liveness.js";

export const DEFAULT_HEARTBEAT_PERIOD_MS = 500;
/** Missed periods before a node is marked down: 3 × 500 ms, well inside the 3 s the issue asks. */
export const MISSED_HEARTBEATS = 3;
const FLUSH_MS = 10;

export interface DispatcherOptions {
  store: Store;
  /** Cluster addresses of the managers, for agents to fail over to. */
  managers: () => string[];
  /** The Raft group, for nodes told they are managers (promotion). */
  raftMembers?: () => RaftMember[];
  heartbeatPeriodMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

type Call = ServerDuplexStream<AgentMessage, ManagerMessage>;

interface Session {
  nodeId: string;
  call: Call;
  lastSeen: number;
}

export class Dispatcher {
  private readonly sessions = new Map<string, Session>();
  /** Last heartbeat per node, sessions or not: a new leader starts everyone at its start time. */
  private readonly lastSeen = new Map<string, number>();
  /** Nodes owed their whole task set (a new session, a role change). */
  private readonly full = new Set<string>();
  /** Per node: tasks to send (added, or desired state or spec changed) and ids gone. */
  private readonly changed = new Map<string, Set<string>>();
  private readonly updates = new Map<string, { nodeId: string; status: TaskStatus }>();
  /** Per node: the networks last sent (encoded), so that only a change is sent again. */
  private readonly sentNetworks = new Map<string, Buffer>();
  /** Something the network views are made of changed since they were last pushed. */
  private networksChanged = false;
  private readonly nodeWrites = new Map<string, { state: NodeState; message: string; addr?: string; description?: NodeDescription }>();
  private active = false;
  private timer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private flushing = false;
  private unsubscribe?: () => void;
  private readonly periodMs: number;
  private readonly checkEveryMs: number;
  private lastCheck = 0;
  private readonly now: () => number;

  constructor(private readonly o: DispatcherOptions) {
    this.periodMs = o.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS;
    this.now = o.now ?? Date.now;
    this.checkEveryMs = Math.max(50, this.periodMs / 4);
  }

  /** On becoming leader: every known node gets a full grace period to reconnect. */
  start(): void {
    this.active = true;
    const now = this.now();
    for (const n of this.o.store.view((tx) => tx.find("node"))) this.lastSeen.set(n.id, now);
    this.unsubscribe = this.o.store.subscribe((events) => this.onEvents(events), { kinds: ["task", "node", "service", "network"] });
    this.lastCheck = now;
    this.timer = setInterval(() => this.checkLiveness(), this.checkEveryMs);
  }

  /** On losing leadership: every session ends, so agents find the new leader. */
  stop(): void {
    this.active = false;
    clearInterval(this.timer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.unsubscribe?.();
    for (const s of this.sessions.values()) s.call.emit("error", { code: grpcStatus.UNAVAILABLE, details: "this manager is no longer the leader: reconnect" });
    this.sessions.clear();
    this.lastSeen.clear();
    this.updates.clear();
    this.nodeWrites.clear();
    this.sentNetworks.clear();
  }

  /**
   * The gRPC Session handler. `peerNodeId` is the node the caller's certificate names: it, not
   * what the hello says, decides whose session this is (absent only on servers without TLS).
   */
  session(call: Call, peerNodeId?: string): void {
    if (!this.active) {
      call.emit("error", { code: grpcStatus.UNAVAILABLE, details: "this manager is not the leader" });
      return;
    }
    let session: Session | undefined;
    call.on("data", (m: AgentMessage) => {
      try {
        if (m.msg?.$case === "hello") session = this.hello(call, peerNodeId ?? m.msg.value.nodeId, m.msg.value.addr, m.msg.value.description);
        else if (!session) throw new Error("the first message of a session must be hello");
        else if (m.msg?.$case === "heartbeat") this.seen(session);
        else if (m.msg?.$case === "statuses") {
          this.seen(session);
          for (const u of m.msg.value.updates) if (u.status) this.updates.set(u.taskId, { nodeId: session.nodeId, status: u.status });
          this.scheduleFlush();
        }
      } catch (err) {
        call.emit("error", { code: grpcStatus.FAILED_PRECONDITION, details: (err as Error).message });
      }
    });
    const end = () => {
      if (session && this.sessions.get(session.nodeId) === session) this.sessions.delete(session.nodeId);
    };
    call.on("end", () => {
      end();
      call.end();
    });
    call.on("error", end);
    call.on("cancelled", end);
  }

  /** Nodes with a session here now. */
  connected(): string[] {
    return [...this.sessions.keys()];
  }

  private hello(call: Call, nodeId: string, addr: string, description: NodeDescription | undefined): Session {
    const node = this.o.store.view((tx) => tx.get("node", nodeId));
    if (!node) throw new Error(`node ${nodeId} is not part of this swarm (it was removed): run "shoal swarm leave --force" on it and join again`);
    const old = this.sessions.get(nodeId);
    if (old) old.call.emit("error", { code: grpcStatus.ABORTED, details: "replaced by a newer session of the same node" });
    const s: Session = { nodeId, call, lastSeen: this.now() };
    this.sessions.set(nodeId, s);
    this.lastSeen.set(nodeId, s.lastSeen);
    this.nodeWrites.set(nodeId, { state: NodeState.NODE_STATE_READY, message: "", addr, description });
    this.full.add(nodeId);
    this.scheduleFlush();
    return s;
  }

  private seen(s: Session): void {
    s.lastSeen = this.now();
    this.lastSeen.set(s.nodeId, s.lastSeen);
    // A node marked down while its session lived (a stall) is ready again once it is heard from.
    const node = this.o.store.view((tx) => tx.get("node", s.nodeId));
    if (node && node.status?.state !== NodeState.NODE_STATE_READY && !this.nodeWrites.has(s.nodeId)) {
      this.nodeWrites.set(s.nodeId, { state: NodeState.NODE_STATE_READY, message: "" });
      this.scheduleFlush();
    }
  }

  private checkLiveness(): void {
    if (!this.active) return;
    // After a stall of this process (GC, a long pass), heartbeats still queued in the sockets are
    // read only after this timer: a stall is no evidence against the nodes, so it is forgiven.
    const now = this.now();
    const stalled = now - this.lastCheck - this.checkEveryMs;
    this.lastCheck = now;
    if (stalled > this.checkEveryMs) {
      for (const [id, t] of this.lastSeen) this.lastSeen.set(id, t + stalled);
      return;
    }
    const nodes = this.o.store.view((tx) => tx.find("node"));
    for (const d of liveness(nodes, this.lastSeen, this.now(), this.periodMs * MISSED_HEARTBEATS)) {
      if (this.nodeWrites.has(d.nodeId)) continue;
      this.o.log?.(`dispatcher: node ${d.nodeId} missed its heartbeats: marking it down`);
      const s = this.sessions.get(d.nodeId);
      if (s) {
        s.call.emit("error", { code: grpcStatus.UNAVAILABLE, details: "heartbeats stopped: reconnect" });
        this.sessions.delete(d.nodeId);
      }
      this.nodeWrites.set(d.nodeId, { state: NodeState.NODE_STATE_DOWN, message: "heartbeat failure" });
    }
    if (this.nodeWrites.size > 0) this.scheduleFlush();
  }

  private onEvents(events: StoreEvent[]): void {
    let any = false;
    for (const e of events) {
      // Any of these may change what some node is told of its networks: a task running or gone
      // (load-balancer targets, peers), a service's VIP or ports, a node's address.
      this.networksChanged = true;
      any = true;
      if (e.kind === "task") {
        const o = e.old as Task | undefined;
        const n = e.new as Task | undefined;
        const known = (t: Task | undefined) => !!t && !!t.nodeId && (t.status?.state ?? 0) >= TaskState.TASK_STATE_ASSIGNED;
        // An agent's own status reports change nothing it needs to hear back.
        if (known(n) && (!known(o) || o!.nodeId !== n!.nodeId || o!.desiredState !== n!.desiredState || o!.specVersion !== n!.specVersion)) this.touch(n!.nodeId, n!.id);
        if (known(o) && (!n || n.nodeId !== o!.nodeId)) this.touch(o!.nodeId, o!.id);
        any = true;
      } else if (e.kind === "node") {
        const o = e.old as Node | undefined;
        const n = e.new as Node | undefined;
        const id = (n ?? o)!.id;
        if (e.action === "create") this.lastSeen.set(id, this.now());
        if (n && o && roleToSend(n) !== roleToSend(o)) this.full.add(id);
        if (e.action === "delete") {
          this.sessions.get(id)?.call.emit("error", { code: grpcStatus.NOT_FOUND, details: `node ${id} was removed from the swarm` });
          this.sessions.delete(id);
          this.lastSeen.delete(id);
        }
        any = true;
      }
    }
    if (any) this.scheduleFlush();
  }

  private touch(nodeId: string, taskId: string): void {
    if (!this.sessions.has(nodeId)) return;
    let set = this.changed.get(nodeId);
    if (!set) this.changed.set(nodeId, (set = new Set()));
    set.add(taskId);
  }

  private scheduleFlush(): void {
    if (this.flushTimer || !this.active) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, FLUSH_MS);
  }

  private async flush(): Promise<void> {
    if (this.flushing) return this.scheduleFlush();
    this.flushing = true;
    try {
      await this.writeNodes();
      await this.writeStatuses();
      this.pushAssignments();
    } catch (err) {
      this.o.log?.(`dispatcher: ${(err as Error).message}`);
      this.scheduleFlush();
    } finally {
      this.flushing = false;
    }
  }

  private async writeNodes(): Promise<void> {
    if (this.nodeWrites.size === 0) return;
    const writes = [...this.nodeWrites];
    this.nodeWrites.clear();
    // A change set refused (a concurrent write to one of its nodes) loses none of them: they are
    // queued again (unless newer news came meanwhile) and the flush retried.
    const requeue = () => {
      for (const [id, w] of writes) if (!this.nodeWrites.has(id)) this.nodeWrites.set(id, w);
    };
    try {
      await this.o.store.batch(async (b) => {
        for (const [id, w] of writes) {
          await b.update((tx) => {
            const n = tx.get("node", id);
            if (!n) return;
            const status = { ...n.status, state: w.state, message: w.message, addr: w.addr ?? n.status?.addr ?? "" };
            if (status.state === n.status?.state && status.addr === n.status?.addr && status.message === n.status?.message && !w.description) return;
            tx.update("node", { ...n, status, description: w.description ?? n.description });
          });
        }
      });
    } catch (err) {
      requeue();
      throw err;
    }
  }

  private async writeStatuses(): Promise<void> {
    if (this.updates.size === 0) return;
    const batch = [...this.updates];
    this.updates.clear();
    // As for nodes: a refused change set's reports are queued again, never dropped (applying a
    // report twice is harmless: a state that would not move forward is skipped).
    const requeue = () => {
      for (const [id, u] of batch) if (!this.updates.has(id)) this.updates.set(id, u);
    };
    try {
      await this.o.store.batch(async (b) => {
        for (const [taskId, u] of batch) {
          await b.update((tx) => {
            const t = tx.get("task", taskId);
            // A report from a node the task is not on, or one that would move it backward, is stale.
            if (!t || t.nodeId !== u.nodeId || u.status.state < (t.status?.state ?? TaskState.TASK_STATE_NEW)) return;
            tx.update("task", { ...t, status: { ...t.status, ...u.status, pendingReason: "", restartNotBefore: t.status?.restartNotBefore ?? 0 } });
          });
        }
      });
    } catch (err) {
      requeue();
      throw err;
    }
  }

  private pushAssignments(): void {
    if (this.full.size === 0 && this.changed.size === 0 && !this.networksChanged) return;
    const full = [...this.full];
    const changed = [...this.changed];
    const networksChanged = this.networksChanged;
    this.full.clear();
    this.changed.clear();
    this.networksChanged = false;
    const managers = this.o.managers();
    const base = { managers, heartbeatPeriodMs: this.periodMs };
    const members = this.o.raftMembers?.() ?? [];
    const roleOf = (node: Node) => ({ role: roleToSend(node), raftMembers: roleToSend(node) === NodeRole.NODE_ROLE_MANAGER ? members : [] });
    this.o.store.view((tx) => {
      // Read in the same view as the tasks: a task arrives with the networks it needs.
      const views = networksChanged || full.length > 0 ? NetworkViews.build(tx) : undefined;
      const networksOf = (id: string, always: boolean) => {
        if (!views) return { networks: [], hasNetworks: false };
        const networks = views.forNode(id);
        const bytes = Buffer.concat(networks.map((n) => NodeNetwork.encode(n).finish()));
        if (!always && this.sentNetworks.get(id)?.equals(bytes)) return { networks: [], hasNetworks: false };
        this.sentNetworks.set(id, bytes);
        return { networks, hasNetworks: true };
      };
      const told = new Set<string>();
      for (const id of full) {
        const s = this.sessions.get(id);
        const node = tx.get("node", id);
        if (!s || !node) continue;
        const tasks = tx.find("task", byNodeId(id)).filter((t) => (t.status?.state ?? 0) >= TaskState.TASK_STATE_ASSIGNED);
        s.call.write({ ...base, tasks, hasTasks: true, removed: [], ...roleOf(node), ...networksOf(id, true) });
        told.add(id);
      }
      for (const [id, taskIds] of changed) {
        const s = this.sessions.get(id);
        const node = tx.get("node", id);
        if (!s || !node || this.full.has(id) || full.includes(id)) continue;
        const tasks: Task[] = [];
        const removed: string[] = [];
        for (const tid of taskIds) {
          const t = tx.get("task", tid);
          if (t && t.nodeId === id) tasks.push(t);
          else removed.push(tid);
        }
        s.call.write({ ...base, tasks, hasTasks: false, removed, ...roleOf(node), ...networksOf(id, false) });
        told.add(id);
      }
      if (!views) return;
      for (const [id, s] of this.sessions) {
        const node = tx.get("node", id);
        if (told.has(id) || !node) continue;
        const nets = networksOf(id, false);
        if (nets.hasNetworks) s.call.write({ ...base, tasks: [], hasTasks: false, removed: [], ...roleOf(node), ...nets });
      }
    });
  }
}

/**
 * The role a node is told. A demoted manager hears "worker" only once the Raft group no longer
 * counts it (the role manager clears its manager status after removing it): stopping its member
 * earlier could cost a two-manager group the majority it needs to remove it.
 */
export function roleToSend(n: Node): NodeRole {
  if (n.spec?.role === NodeRole.NODE_ROLE_WORKER && n.managerStatus?.raftId) return NodeRole.NODE_ROLE_MANAGER;
  return n.spec?.role ?? NodeRole.NODE_ROLE_WORKER;
}
