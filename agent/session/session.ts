// The agent's link to the managers: one Session stream to the leader's dispatcher, heartbeats,
// batched task status reports, and failover. The agent knows every manager's address (each
// assignment message carries the list) and tries them in turn; a follower answers with where the
// leader is, so the next try goes straight there. Nothing here stops containers: while no manager
// answers, the worker and the engine keep running and restarting what they have.
import type { ClientDuplexStream, ServiceError } from "@grpc/grpc-js";
import { PLAINTEXT_CHANNEL, type ClusterChannel } from "../../manager/ca/credentials.js";
import type { NodeDescription, NodeNetwork, NodeRole, Task } from "../../proto/gen/cluster.js";
import { DispatcherClient, type AgentMessage, type ManagerMessage, type RaftMember, type TaskStatusUpdate } from "../../proto/gen/swarm.js";

export interface SessionOptions {
  nodeId: string;
  addr: string;
  description: () => NodeDescription;
  managers: string[];
  /** This node's tasks as the leader describes them: the whole set on a new session, then changes. */
  onTasks: (a: Assignments) => void;
  /** Every overlay network this node serves, each time it changes; called before onTasks. */
  onNetworks?: (networks: NodeNetwork[]) => void;
  /** Every status the worker knows, resent in full on each new session. */
  statuses: () => TaskStatusUpdate[];
  onManagers?: (addrs: string[]) => void;
  /** The role the managers give this node, with the Raft group when it is a manager. */
  onRole?: (role: NodeRole, raftMembers: RaftMember[]) => void;
  /** The leader said this node is no longer in the swarm. */
  onRemoved?: (message: string) => void;
  /** The node's mutual TLS towards the managers (plaintext only for in-process tests). */
  channel?: ClusterChannel;
  log?: (line: string) => void;
}

/** One assignment message: the whole set of the node's tasks (`full`), or what changed in it. */
export interface Assignments {
  /** `tasks` is every task of this node: any other it had is no longer its. */
  full: boolean;
  /** Tasks new to this node, or changed (desired state, spec). */
  tasks: Task[];
  /** Tasks no longer this node's. */
  removed: string[];
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;
const FLUSH_MS = 10;
/**
 * How long a manager has to take the connection. grpc-js has no connect timeout of its own: to a
 * manager whose kernel accepts the connection but whose process never answers (frozen, or its
 * host gone while this host's neighbour entry for it still looks fresh) a session waits in
 * CONNECTING for ever, and keepalive pings only start once it is connected. Seen in the e2e
 * faults suite: every agent, pointed at the killed leader by a stale hint, never came back.
 */
const CONNECT_TIMEOUT_MS = 3000;

/**
 * A manager cut off by the network (no RST, no FIN) would hold the session forever: heartbeats
 * are only written, never answered. HTTP/2 pings keep the link honest, so the agent moves to
 * another manager within about 8 s. The timeout is generous on purpose: a busy daemon (this one
 * starting a burst of containers, or the manager placing them) reads the ack late, and a session
 * dropped for that costs the node its place and its tasks.
 */
const SESSION_CHANNEL_OPTIONS = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.keepalive_time_ms": 3000,
  "grpc.keepalive_timeout_ms": 5000,
  "grpc.keepalive_permit_without_calls": 1,
};

export class Session {
  private managers: string[];
  private next = 0;
  private leaderHint?: string;
  private call?: ClientDuplexStream<AgentMessage, ManagerMessage>;
  private client?: DispatcherClient;
  private heartbeat?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private pending = new Map<string, TaskStatusUpdate>();
  private backoff = RETRY_MIN_MS;
  private stopped = false;
  private connectedTo?: string;
  private heartbeatMs = 0;

  constructor(private readonly o: SessionOptions) {
    this.managers = [...o.managers];
  }

  start(): void {
    this.connect();
  }

  /** The manager this session is open to, if any. */
  manager(): string | undefined {
    return this.connectedTo;
  }

  /** Queues status reports; they go out together shortly, or on the next session. */
  report(updates: TaskStatusUpdate[]): void {
    for (const u of updates) this.pending.set(u.taskId, u);
    if (!this.flushTimer && this.call) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.close();
  }

  private connect(): void {
    if (this.stopped) return;
    const addr = this.leaderHint ?? this.managers[this.next++ % this.managers.length];
    this.leaderHint = undefined;
    const channel = this.o.channel ?? PLAINTEXT_CHANNEL;
    this.client = new DispatcherClient(addr, channel.credentials, { ...channel.options, ...SESSION_CHANNEL_OPTIONS });
    const call = this.client.session();
    this.call = call;
    this.client.waitForReady(Date.now() + CONNECT_TIMEOUT_MS, (err) => {
      if (err) this.lost(call, addr, `no connection within ${CONNECT_TIMEOUT_MS / 1000} s`);
    });
    let heard = false;
    call.on("data", (m: ManagerMessage) => {
      if (!heard) {
        heard = true;
        this.connectedTo = addr;
        this.backoff = RETRY_MIN_MS;
        this.o.log?.(`agent: session open with manager ${addr}`);
      }
      this.onMessage(m);
    });
    call.on("error", (err: ServiceError) => this.lost(call, addr, err.details || err.message));
    call.on("end", () => this.lost(call, addr, "the manager ended the session"));
    call.write({ msg: { $case: "hello", value: { nodeId: this.o.nodeId, addr: this.o.addr, description: this.o.description() } } });
    for (const u of this.o.statuses()) this.pending.set(u.taskId, u);
    this.flush();
    this.startHeartbeat(500);
  }

  private onMessage(m: ManagerMessage): void {
    if (m.managers.length > 0 && m.managers.join() !== this.managers.join()) {
      this.managers = [...m.managers];
      this.o.onManagers?.(this.managers);
    }
    // Every message names the period: the timer is started again only when it changes. Started
    // again on each message, a node pushed to more often than it beats never beat at all.
    if (m.heartbeatPeriodMs && m.heartbeatPeriodMs !== this.heartbeatMs) this.startHeartbeat(m.heartbeatPeriodMs);
    this.o.onRole?.(m.role, m.raftMembers);
    if (m.hasNetworks) this.o.onNetworks?.(m.networks);
    // Handed on as they came: a node given its tasks a few at a time would otherwise rebuild and
    // go over its whole set for each few.
    if (m.hasTasks || m.tasks.length > 0 || m.removed.length > 0) this.o.onTasks({ full: m.hasTasks, tasks: m.tasks, removed: m.removed });
  }

  private startHeartbeat(periodMs: number): void {
    clearInterval(this.heartbeat);
    this.heartbeatMs = periodMs;
    // Once per period: the dispatcher waits MISSED_HEARTBEATS periods, so a late beat or two
    // never costs the node its place, and twice per period doubled the leader's reads for nothing.
    this.heartbeat = setInterval(() => this.call?.write({ msg: { $case: "heartbeat", value: {} } }), Math.max(20, periodMs));
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (!this.call || this.pending.size === 0) return;
    const updates = [...this.pending.values()];
    this.pending.clear();
    this.call.write({ msg: { $case: "statuses", value: { updates } } });
    // The dispatcher counts any message as a sign of life, so a report stands for a beat: the
    // next is due a whole interval from now, and a busy node (tasks starting) sends its reports
    // alone. Placing 100,000 tasks on 1,000 nodes, the leader then heard 17,000 beats in the busy
    // phase (beating twice a period), where beats on a fixed timer would be about 52,000.
    this.heartbeat?.refresh();
  }

  private lost(call: ClientDuplexStream<AgentMessage, ManagerMessage>, addr: string, why: string): void {
    if (this.call !== call) return;
    this.close();
    if (this.stopped) return;
    if (/was removed from the swarm|is not part of this swarm/.test(why)) {
      this.o.log?.(`agent: ${why}`);
      this.o.onRemoved?.(why);
      return;
    }
    const hint = /leader is at (\S+)/.exec(why)?.[1];
    if (hint && hint !== addr) this.leaderHint = hint;
    this.o.log?.(`agent: session with ${addr} lost (${why}); retrying`);
    const wait = this.leaderHint ? 0 : this.backoff;
    this.backoff = Math.min(RETRY_MAX_MS, this.backoff * 2);
    this.retry = setTimeout(() => this.connect(), wait);
  }

  private close(): void {
    clearInterval(this.heartbeat);
    this.heartbeatMs = 0;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const call = this.call;
    this.call = undefined;
    this.connectedTo = undefined;
    call?.cancel();
    this.client?.close();
    this.client = undefined;
  }
}
