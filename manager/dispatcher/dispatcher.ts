// The dispatcher: one gRPC session per agent, served by the leader. It records heartbeats in
// memory (they never go through Raft), marks a node down when its heartbeats stop, pushes each
// node the whole set of its tasks whenever that set changes, and its overlay networks (peers,
// services, load-balancer targets) whenever they change, and writes agents' task status reports
// back to the store in batches.
import { status as grpcStatus, type ServerDuplexStream } from "@grpc/grpc-js";
import { NodeNetwork, NodeRole, NodeState, TaskState, type Node, type NodeDescription, type Task, type TaskStatus } from "../../proto/gen/cluster.js";
import type { AgentMessage, ManagerMessage, RaftMember } from "../../proto/gen/swarm.js";
import { NetworkViews } from "../allocator/netviews.js";
import { isAllocated } from "../allocator/plan.js";
import { writeInChunks } from "../store/chunks.js";
import { byNodeId, type ReadTx, type Store, type StoreEvent } from "../store/types.js";
import { PushBudget } from "./budget.js";
import { liveness } from "./liveness.js";

export const DEFAULT_HEARTBEAT_PERIOD_MS = 500;
/**
 * Missed periods before a node is marked down: 5 × 500 ms, inside the 3 s the issue asks (with
 * the 125 ms check, at most ~2.65 s after the last heartbeat). At 3 × 500 ms a busy 2-core host
 * (six daemons, a hundred containers starting) read heartbeats late often enough that nodes
 * flapped Down and back every few seconds, each time rescheduling their tasks.
 */
export const MISSED_HEARTBEATS = 5;
/**
 * Periods a new leader gives every node to find it (5 s by default): a thousand agents failing
 * over at once to a leader still taking over are slower to be heard than one agent's heartbeat,
 * and marking them down would reschedule their tasks for nothing. A node heard once is held to
 * MISSED_HEARTBEATS from then on.
 */
export const TAKEOVER_HEARTBEATS = 10;
const FLUSH_MS = 10;
/** Sessions written to between two turns of the event loop: a push to thousands never holds the thread for long. */
const PUSH_SLICE = 100;
/** Status reports per change set, and change sets in flight at once. */
const STATUS_CHUNK = 500;
const STATUS_IN_FLIGHT = 4;

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
  /**
   * The same for nodes the budget holds back, with when each may be pushed again. Kept apart so
   * that a flush reads only the nodes it can push: looked at again at every 10 ms flush, the
   * held ones (up to every node, placing 100,000 tasks on 1,000) cost the leader a third of a
   * CPU-second on that bench.
   */
  private readonly held = new Map<string, { due: number; ids: Set<string> }>();
  /** Per node with a session: how soon its changes may be pushed again. */
  private readonly budget = new PushBudget();
  /** Wakes a flush when changes held back by the budget may go (at heldDue). */
  private heldTimer?: NodeJS.Timeout;
  private heldDue = Infinity;
  private readonly updates = new Map<string, { nodeId: string; status: TaskStatus }>();
  /** Per node: the networks last sent (encoded), so that only a change is sent again. */
  private readonly sentNetworks = new Map<string, Buffer>();
  /** Something the network views are made of changed since they were last pushed. */
  private networksChanged = false;
  /**
   * Nodes whose own address or ingress address changed (each join makes two such changes): only
   * they and the nodes running a mesh task (told of every node's ingress address) may need their
   * networks again, not every session.
   */
  private readonly nodesMoved = new Set<string>();
  private readonly nodeWrites = new Map<string, { state: NodeState; message: string; addr?: string; description?: NodeDescription }>();
  private active = false;
  private timer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private flushing = false;
  private writingStatuses = false;
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
    const grace = now + (TAKEOVER_HEARTBEATS - MISSED_HEARTBEATS) * this.periodMs;
    for (const n of this.o.store.view((tx) => tx.find("node"))) this.lastSeen.set(n.id, grace);
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
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.heldDue = Infinity;
    this.held.clear();
    this.budget.clear();
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
      if (session && this.sessions.get(session.nodeId) === session) {
        this.sessions.delete(session.nodeId);
        this.budget.forget(session.nodeId);
      }
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
      // What may change some node's networks: a task on a network running or gone (load-balancer
      // targets, peers), a service's VIP or ports, a node's address, a network. A task on no
      // network (most of them, and every agent report about one) changes nobody's networks, nor
      // does a node's state: each change costs a pass over every session.
      if (e.kind === "task" ? onNetwork(e.old as Task | undefined) || onNetwork(e.new as Task | undefined) : e.kind !== "node") this.networksChanged = true;
      if (e.kind === "node") this.nodeMoved(e.old as Node | undefined, e.new as Node | undefined);
      if (e.kind === "task") {
        const o = e.old as Task | undefined;
        const n = e.new as Task | undefined;
        const known = (t: Task | undefined) => !!t && !!t.nodeId && (t.status?.state ?? 0) >= TaskState.TASK_STATE_ASSIGNED;
        // An agent's own status reports change nothing it needs to hear back.
        if (known(n) && (!known(o) || o!.nodeId !== n!.nodeId || o!.desiredState !== n!.desiredState || o!.specVersion !== n!.specVersion)) this.touch(n!.nodeId, n!.id);
        if (known(o) && (!n || n.nodeId !== o!.nodeId)) this.touch(o!.nodeId, o!.id);
        any ||= this.networksChanged || this.changed.size > 0;
      } else if (e.kind === "node") {
        const o = e.old as Node | undefined;
        const n = e.new as Node | undefined;
        const id = (n ?? o)!.id;
        // A node just joined opens its session next: it gets the grace a new leader gives every
        // node, not the period of a node that went quiet (a leader busy with a mass join answered
        // some hellos later than that, and marked those nodes down as they came).
        if (e.action === "create") this.lastSeen.set(id, this.now() + (TAKEOVER_HEARTBEATS - MISSED_HEARTBEATS) * this.periodMs);
        if (n && o && roleToSend(n) !== roleToSend(o)) this.full.add(id);
        if (e.action === "delete") {
          this.sessions.get(id)?.call.emit("error", { code: grpcStatus.NOT_FOUND, details: `node ${id} was removed from the swarm` });
          this.sessions.delete(id);
          this.lastSeen.delete(id);
          this.budget.forget(id);
        }
        any = true;
      } else any = true;
    }
    if (any) this.scheduleFlush();
  }

  /**
   * A node's underlay address or ingress address changing matters to itself and to the nodes
   * told of it: those running a mesh task (pushAssignments) and, where it runs tasks on an
   * overlay, everyone on those networks (rare: a node whose address changed under its tasks).
   */
  private nodeMoved(o: Node | undefined, n: Node | undefined): void {
    const attachments = (x: Node | undefined) => JSON.stringify(x?.attachments?.networks ?? []);
    const addrMoved = (o?.status?.addr ?? "") !== (n?.status?.addr ?? "");
    if (!addrMoved && attachments(o) === attachments(n)) return;
    const id = (n ?? o)!.id;
    this.nodesMoved.add(id);
    if (addrMoved && o && n && this.o.store.view((tx) => tx.find("task", byNodeId(id)).some(onNetwork))) this.networksChanged = true;
  }

  private touch(nodeId: string, taskId: string): void {
    if (!this.sessions.has(nodeId)) return;
    const held = this.held.get(nodeId);
    if (held) {
      held.ids.add(taskId);
      return;
    }
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
      // Reports are written beside the pushes, not before them: thousands of reports to commit
      // must not hold back what the scheduler just assigned.
      void this.writeStatuses().catch((err: Error) => this.o.log?.(`dispatcher: writing task reports: ${err.message}`));
      await this.pushAssignments();
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
    if (this.updates.size === 0 || this.writingStatuses || !this.active) return;
    this.writingStatuses = true;
    const batch = [...this.updates];
    this.updates.clear();
    try {
      // Each report its own task, so change sets in flight together never race each other.
      const { refused, errors } = await writeInChunks(
        this.o.store,
        batch,
        (tx, [taskId, u]) => {
          const t = tx.get("task", taskId);
          // A report from a node the task is not on, or one that would move it backward, is stale.
          if (!t || t.nodeId !== u.nodeId || u.status.state < (t.status?.state ?? TaskState.TASK_STATE_NEW)) return;
          // Nothing new (an agent's new session reports everything again): no write at all.
          if (t.status && sameReport(t.status, u.status)) return;
          tx.update("task", { ...t, status: reported(t.status, u.status) });
        },
        { size: STATUS_CHUNK, inFlight: STATUS_IN_FLIGHT },
      );
      // A refused change set (a concurrent write to one of its tasks) loses none of its reports:
      // they are queued again unless newer news came meanwhile (applying one twice is harmless).
      for (const [id, u] of refused) if (!this.updates.has(id)) this.updates.set(id, u);
      if (errors.length > 0) this.o.log?.(`dispatcher: ${refused.length} task reports to write again: ${(errors[0] as Error).message}`);
    } finally {
      this.writingStatuses = false;
    }
    if (this.updates.size > 0) this.scheduleFlush();
  }

  /**
   * What each node is owed, read in one view (a task arrives with the networks it needs), then
   * written a slice of sessions at a time: encoding for a thousand sessions at once would hold
   * the thread past Raft's election timeout.
   */
  private async pushAssignments(): Promise<void> {
    const now = this.now();
    if (this.held.size > 0 && now >= this.heldDue) this.release(now);
    if (this.full.size === 0 && this.changed.size === 0 && !this.networksChanged && this.nodesMoved.size === 0) return;
    const full = new Set(this.full);
    const changed = [...this.changed];
    const networksChanged = this.networksChanged;
    const nodesMoved = [...this.nodesMoved];
    this.full.clear();
    this.changed.clear();
    this.networksChanged = false;
    this.nodesMoved.clear();
    const managers = this.o.managers();
    const members = this.o.raftMembers?.() ?? [];
    // Every field written out in the proto's order: a message built by spreading several objects
    // into one came out slow to build and slow for the encoder to read (0.6 s of the leader's
    // CPU over the 47,000 messages of the 100,000-task bench).
    const message = (node: Node, tasks: Task[], hasTasks: boolean, removed: string[], nets: { networks: NodeNetwork[]; hasNetworks: boolean }): ManagerMessage => {
      const role = roleToSend(node);
      return { tasks, hasTasks, removed, managers, heartbeatPeriodMs: this.periodMs, role, raftMembers: role === NodeRole.NODE_ROLE_MANAGER ? members : [], networks: nets.networks, hasNetworks: nets.hasNetworks };
    };
    const out: { s: Session; m: ManagerMessage }[] = [];
    let due = Infinity;
    this.o.store.view((tx) => {
      // Read in the same view as the tasks: a task arrives with the networks it needs.
      const views = networksChanged || full.size > 0 || nodesMoved.length > 0 ? networkViews(tx) : undefined;
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
        out.push({ s, m: message(node, tasks, true, [], networksOf(id, true)) });
        this.held.delete(id);
        this.budget.spend(id, now);
        told.add(id);
      }
      for (const [id, taskIds] of changed) {
        const s = this.sessions.get(id);
        const node = tx.get("node", id);
        if (!s || !node || this.full.has(id) || full.has(id)) continue;
        const wait = this.budget.take(id, now);
        if (wait > 0) {
          // Pushed to often just now: these wait for the next push, with whatever comes meanwhile.
          this.held.set(id, { due: now + wait, ids: taskIds });
          due = Math.min(due, now + wait);
          continue;
        }
        const tasks: Task[] = [];
        const removed: string[] = [];
        for (const tid of taskIds) {
          const t = tx.get("task", tid);
          if (t && t.nodeId === id) tasks.push(t);
          else removed.push(tid);
        }
        out.push({ s, m: message(node, tasks, false, removed, networksOf(id, false)) });
        told.add(id);
      }
      // A new session alone changes nobody else's networks; a node's addresses, only its own and
      // those of the nodes told of it.
      if (!views || (!networksChanged && nodesMoved.length === 0)) return;
      const others = networksChanged ? this.sessions.keys() : new Set([...nodesMoved, ...views.meshNodes()]);
      for (const id of others) {
        const s = this.sessions.get(id);
        const node = tx.get("node", id);
        if (told.has(id) || !s || !node) continue;
        const nets = networksOf(id, false);
        if (nets.hasNetworks) out.push({ s, m: message(node, [], false, [], nets) });
      }
    });
    this.wakeForHeld(due, now);
    for (let i = 0; i < out.length; i += PUSH_SLICE) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      for (const { s, m } of out.slice(i, i + PUSH_SLICE)) {
        // A session replaced or ended meanwhile: its successor is owed its whole set anyway.
        if (this.active && this.sessions.get(s.nodeId) === s) s.call.write(m);
      }
    }
  }

  /** Held changes whose time has come go back among those a flush pushes. */
  private release(now: number): void {
    let next = Infinity;
    for (const [id, h] of this.held) {
      if (h.due > now) {
        next = Math.min(next, h.due);
        continue;
      }
      this.held.delete(id);
      const later = this.changed.get(id);
      if (later) for (const tid of later) h.ids.add(tid);
      this.changed.set(id, h.ids);
    }
    this.heldDue = Infinity;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.wakeForHeld(next, now);
  }

  /** A flush at `due`, when the earliest held change may go, unless one is due sooner. */
  private wakeForHeld(due: number, now: number): void {
    if (due >= this.heldDue) return;
    clearTimeout(this.heldTimer);
    this.heldDue = due;
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      this.heldDue = Infinity;
      // Released here, not left to the flush: a flush reading the clock a hair before `due`
      // would find nothing due and no timer left to try again.
      this.release(this.now());
      this.scheduleFlush();
    }, Math.max(0, due - now));
  }
}

/** Each node's networks, read from one view; without any allocated network, none for anybody. */
function networkViews(tx: ReadTx): Pick<NetworkViews, "forNode" | "meshNodes"> {
  if (!tx.find("network").some(isAllocated)) return { forNode: () => [], meshNodes: () => [] };
  return NetworkViews.build(tx);
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

/** A task attached to some network: the only tasks any node's network views are made of. */
function onNetwork(t: Task | undefined): boolean {
  return !!t && t.networks.length > 0;
}

/**
 * The status a report gives a task: the agent's, with no pending reason, and the restart time the
 * managers set kept. Fields written out rather than two statuses spread into one: 100,000 reports
 * built that way cost the leader half a second.
 */
function reported(had: TaskStatus | undefined, r: TaskStatus): TaskStatus {
  return {
    state: r.state,
    timestamp: r.timestamp,
    message: r.message,
    err: r.err,
    containerStatus: "containerStatus" in r ? r.containerStatus : had?.containerStatus,
    portStatus: "portStatus" in r ? r.portStatus : had?.portStatus,
    pendingReason: "",
    restartNotBefore: had?.restartNotBefore ?? 0,
  };
}

/** Whether a report says nothing the stored status does not (its time aside). */
function sameReport(a: TaskStatus, b: TaskStatus): boolean {
  const ca = a.containerStatus;
  const cb = b.containerStatus;
  return (
    a.state === b.state &&
    a.message === b.message &&
    a.err === b.err &&
    (ca?.containerId ?? "") === (cb?.containerId ?? "") &&
    (ca?.pid ?? 0) === (cb?.pid ?? 0) &&
    (ca?.exitCode ?? 0) === (cb?.exitCode ?? 0) &&
    (ca?.restarts ?? 0) === (cb?.restarts ?? 0) &&
    JSON.stringify(a.portStatus ?? null) === JSON.stringify(b.portStatus ?? null)
  );
}
