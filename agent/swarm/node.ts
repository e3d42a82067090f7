// A daemon's place in a swarm: `swarm init/join/leave`, its cluster port (Raft, dispatcher and
// control on managers; task logs on every node), the worker that runs its tasks, and the session
// that links the worker to the leader. Membership survives daemon restarts (state.ts).
import { createSocket } from "node:dgram";
import { arch, cpus, hostname, networkInterfaces, totalmem } from "node:os";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { credentials, Server, ServerCredentials, status, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { NodeAvailability, NodeRole, NodeState, type NodeDescription } from "../../proto/gen/cluster.js";
import {
  AgentService, ControlService, DispatcherClient, DispatcherService, type ControlServer, type DispatcherServer, type InitRequest, type InitResponse, type JoinRequest, type JoinResponse,
  type LeaveRequest, type NodeJoinResponse, type RaftMember, type SwarmInfo, type SwarmServer,
} from "../../proto/gen/swarm.js";
import { RaftTransportService } from "../../proto/gen/raft_transport.js";
import { ingressNetworkSpec } from "../../manager/allocator/networks.js";
import { makeJoinToken } from "../../manager/ca/tokens.js";
import { Manager, newRaftId } from "../../manager/cluster/manager.js";
import { ClusterError, dispatcherServer, forwardingControl, toStatus } from "../../manager/cluster/services.js";
import { localControl } from "../../manager/cluster/control.js";
import { randomId } from "../../manager/store/memory.js";
import { Session } from "../session/session.js";
import { agentServer } from "../worker/logs.js";
import { Worker, type WorkerDeps } from "../worker/worker.js";
import { loadSwarmState, removeSwarmState, saveSwarmState, swarmDir, withPort, type SwarmState } from "./state.js";

export interface SwarmNodeOptions {
  dataRoot: string;
  engineVersion: string;
  /** What the worker needs besides its node id and report callback. */
  worker: Omit<WorkerDeps, "nodeId" | "report" | "log" | "stateDir">;
  log?: (line: string) => void;
}

const NOT_IN_SWARM = 'this node is not a swarm manager: use "shoal swarm init" or "shoal swarm join" to connect it to a swarm, then try again';
const WORKER_ONLY = "this node is not a swarm manager: worker nodes can't be used to view or modify cluster state; run this on a manager node, or promote this node";

export class SwarmNode {
  private state?: SwarmState;
  private server?: Server;
  private manager?: Manager;
  private worker?: Worker;
  private session?: Session;
  private control?: ControlServer;
  private dispatcher?: DispatcherServer;
  private busy = false;
  /** The role the managers last told this node, and whether a promotion or demotion runs. */
  private toldRole?: { role: NodeRole; members: RaftMember[] };
  private changingRole = false;
  private readonly log: (line: string) => void;

  constructor(private readonly o: SwarmNodeOptions) {
    this.log = o.log ?? ((l) => console.error(l));
  }

  /** On daemon start: rejoin the swarm this node belonged to. */
  async resume(): Promise<void> {
    const s = loadSwarmState(this.o.dataRoot);
    if (!s) return;
    await this.bringUp(s, {});
    this.log(`shoal daemon: rejoined swarm ${s.clusterId} as node ${s.nodeId} (${s.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker"})`);
  }

  /** Daemon stopping: leave containers running, keep membership. */
  async shutdown(): Promise<void> {
    this.session?.stop();
    await this.worker?.stop();
    await this.manager?.stop();
    this.server?.forceShutdown();
  }

  swarmServer(): SwarmServer {
    const run = <Req, Res>(fn: (r: Req) => Promise<Res>) => (call: { request: Req }, cb: (e: Partial<ServiceError> | null, r?: Res) => void) => {
      if (this.busy) return cb({ code: status.UNAVAILABLE, details: "another swarm init, join or leave is under way on this node: wait for it to finish" });
      this.busy = true;
      fn(call.request)
        .then((r) => cb(null, r), (e) => cb(toStatus(e)))
        .finally(() => (this.busy = false));
    };
    return {
      init: run((r: InitRequest) => this.init(r)),
      join: run((r: JoinRequest) => this.join(r)),
      leave: run(async (r: LeaveRequest) => (await this.leave(r), {})),
      info: (_call, cb) => cb(null, this.info()),
    };
  }

  /** The Control API on the local socket: this manager's (forwarding to the leader), or a clear refusal. */
  controlServer(): ControlServer {
    return delegating(ControlService, () => this.control, () => (this.state ? WORKER_ONLY : NOT_IN_SWARM)) as unknown as ControlServer;
  }

  info(): SwarmInfo {
    const s = this.state;
    if (!s) return { state: "inactive", nodeId: "", role: 0, clusterId: "", nodeAddr: "", managers: [], leaderAddr: "", isLeader: false, raftId: 0 };
    return {
      state: "active",
      nodeId: s.nodeId,
      role: s.role,
      clusterId: s.clusterId,
      nodeAddr: s.addr,
      managers: this.manager?.managerAddrs() ?? s.managers,
      leaderAddr: this.manager?.leaderAddr() ?? this.session?.manager() ?? "",
      isLeader: this.manager?.isLeader() ?? false,
      raftId: s.raftId,
    };
  }

  async init(r: InitRequest): Promise<InitResponse> {
    this.refuseIfMember();
    const addr = withPort(r.advertiseAddr || firstAddress());
    const etcd = etcdOf(r);
    const s: SwarmState = { nodeId: randomId(), clusterId: randomId(), role: NodeRole.NODE_ROLE_MANAGER, raftId: etcd ? 0 : newRaftId(), addr, listenAddr: listenOf(r.listenAddr, addr), managers: [addr], etcd };
    try {
      const tokens = { worker: makeJoinToken(s.clusterId), manager: makeJoinToken(s.clusterId) };
      // The cluster and this node are recorded before its agent's session opens: a session from
      // an unknown node is turned away for good.
      const record = async () => {
        const m = this.manager!;
        await waitFor(() => m.isLeader(), 10_000, "the new swarm's manager did not become leader");
        const held = m.store.view((tx) => tx.find("cluster")[0]);
        if (held) throw new ClusterError(status.ALREADY_EXISTS, `etcd prefix ${s.etcd?.prefix} already holds swarm ${held.id}: pick another --etcd-prefix, or join that swarm`);
        await m.store.update((tx) => {
          tx.create("cluster", {
            id: s.clusterId,
            spec: { annotations: { name: "default", labels: {} }, dispatcher: { heartbeatPeriodMs: 500 }, orchestration: { taskHistoryRetentionLimit: 5 } },
            joinTokens: tokens,
          });
          tx.create("node", {
            id: s.nodeId,
            spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
            description: this.description(),
            status: { state: NodeState.NODE_STATE_UNKNOWN, message: "", addr },
            managerStatus: { raftId: s.raftId, addr, leader: true, reachability: 2 },
            membership: 1,
          });
          // The routing mesh's network, as `docker swarm init` makes it.
          tx.create("network", { id: "", spec: ingressNetworkSpec() });
        });
      };
      await this.bringUp(s, { initialMembers: new Map([[s.raftId, { raftAddress: addr, clientAddress: addr }]]), beforeSession: record });
      saveSwarmState(this.o.dataRoot, s);
      return { nodeId: s.nodeId, workerToken: tokens.worker, managerToken: tokens.manager };
    } catch (err) {
      await this.tearDown();
      removeSwarmState(this.o.dataRoot);
      throw err;
    }
  }

  async join(r: JoinRequest): Promise<JoinResponse> {
    this.refuseIfMember();
    if (!r.remoteAddr) throw new ClusterError(status.INVALID_ARGUMENT, "no manager address to join: give one, e.g. shoal swarm join --token TOKEN 10.0.0.1:2377");
    if (!r.token) throw new ClusterError(status.INVALID_ARGUMENT, "no join token: get one with \"shoal swarm join-token worker\" on a manager");
    const remote = withPort(r.remoteAddr);
    const addr = withPort(r.advertiseAddr || (await addressTowards(remote)));
    const { res, leader } = await joinAt(remote, { token: r.token, addr, description: this.description(), nodeId: randomId() });
    const etcd = res.etcd?.endpoints.length ? { endpoints: res.etcd.endpoints, prefix: res.etcd.prefix, tls: tlsOf(r.etcdTls) } : undefined;
    const s: SwarmState = { nodeId: res.nodeId, clusterId: res.clusterId, role: res.role, raftId: res.raftId, addr, listenAddr: listenOf(r.listenAddr, addr), managers: res.managers, etcd };
    try {
      if (res.role === NodeRole.NODE_ROLE_MANAGER) {
        const members = new Map(res.raftMembers.map((m) => [m.raftId, { raftAddress: m.addr, clientAddress: m.addr }]));
        await this.bringUp(s, { joinMembers: members, beforeSession: () => unaryAt(leader, "joinRaft", { nodeId: s.nodeId, raftId: s.raftId, addr }) });
      } else {
        await this.bringUp(s, {});
      }
      saveSwarmState(this.o.dataRoot, s);
      return { nodeId: s.nodeId, role: s.role };
    } catch (err) {
      await this.tearDown();
      removeSwarmState(this.o.dataRoot);
      throw err;
    }
  }

  async leave(r: LeaveRequest): Promise<void> {
    const s = this.state;
    if (!s) throw new ClusterError(status.FAILED_PRECONDITION, "this node is not part of a swarm");
    if (s.role === NodeRole.NODE_ROLE_MANAGER && !r.force) {
      throw new ClusterError(status.FAILED_PRECONDITION, "this node is a manager: leaving takes a member out of the swarm's Raft group and can cost it its majority; demote it first, or use --force");
    }
    // A leader hands over first, so the swarm has a leader to record the departure.
    const m = this.manager;
    if (m?.isLeader()) await m.handOver().catch((e: Error) => this.log(`shoal daemon: handing over leadership: ${e.message}`));
    // Tell the leader, so the node's tasks are rescheduled at once rather than after the heartbeat
    // timeout, and a manager leaves the Raft group.
    const managers = (m?.managerAddrs() ?? s.managers).filter((a) => a !== s.addr || m?.isLeader() === false);
    let told = false;
    for (const addr of managers) {
      try {
        await atLeader(addr, "leave", { nodeId: s.nodeId }, 10_000);
        told = true;
        break;
      } catch {
        /* try the next manager */
      }
    }
    if (!told) this.log("shoal daemon: no manager could be told of this node leaving; it will be marked down when its heartbeats stop");
    await this.worker?.leave();
    await this.tearDown();
    removeSwarmState(this.o.dataRoot);
  }

  private refuseIfMember(): void {
    if (this.state) throw new ClusterError(status.FAILED_PRECONDITION, 'this node is already part of a swarm: run "shoal swarm leave" first to join another one');
  }

  /** Starts the cluster port, the manager (if any), the worker and the session. */
  private async bringUp(s: SwarmState, o: { initialMembers?: Map<number, { raftAddress: string; clientAddress: string }>; joinMembers?: Map<number, { raftAddress: string; clientAddress: string }>; beforeSession?: () => Promise<unknown> }): Promise<void> {
    this.state = s;
    const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    this.server = server;
    this.worker = new Worker({ ...this.o.worker, nodeId: s.nodeId, addr: s.addr, stateDir: join(swarmDir(this.o.dataRoot), "worker"), report: (u) => this.session?.report(u), log: this.log });
    server.addService(AgentService, agentServer(this.worker) as unknown as UntypedServiceImplementation);
    // Served on every node, answered only while it is a manager: a promotion needs no new port.
    const notManager = () => "this node is not a swarm manager";
    server.addService(DispatcherService, delegating(DispatcherService, () => this.dispatcher, notManager));
    server.addService(ControlService, delegating(ControlService, () => this.control, notManager));
    if (s.role === NodeRole.NODE_ROLE_MANAGER) await this.startManager(s, o.initialMembers, o.joinMembers);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(s.listenAddr, ServerCredentials.createInsecure(), (err) => (err ? reject(new Error(`cannot listen on ${s.listenAddr}: ${err.message}; pass another --listen-addr`)) : resolve())),
    );
    await o.beforeSession?.();
    await this.worker.start();
    this.session = new Session({
      nodeId: s.nodeId,
      addr: s.addr,
      description: () => this.description(),
      managers: s.managers,
      onTasks: (tasks) => this.worker?.assign(tasks),
      onNetworks: (networks) => this.worker?.networks(networks),
      onRole: (role, members) => this.roleTold(role, members),
      statuses: () => this.worker?.statuses() ?? [],
      onManagers: (managers) => {
        if (!this.state) return;
        this.state.managers = managers;
        saveSwarmState(this.o.dataRoot, this.state);
      },
      onRemoved: (why) => this.log(`shoal daemon: ${why}`),
      log: this.log,
    });
    this.session.start();
  }

  private async tearDown(): Promise<void> {
    this.session?.stop();
    await this.worker?.stop().catch(() => undefined);
    await this.manager?.stop().catch(() => undefined);
    this.server?.forceShutdown();
    this.session = undefined;
    this.worker = undefined;
    this.manager = undefined;
    this.server = undefined;
    this.control = undefined;
    this.dispatcher = undefined;
    this.toldRole = undefined;
    this.state = undefined;
  }

  private raftDir(): string {
    return join(swarmDir(this.o.dataRoot), "raft");
  }

  private async startManager(s: SwarmState, initialMembers?: Map<number, Member>, joinMembers?: Map<number, Member>): Promise<void> {
    const m = new Manager({ nodeId: s.nodeId, raftId: s.raftId, dataDir: this.raftDir(), addr: s.addr, server: this.server!, initialMembers, joinMembers, etcd: s.etcd, log: this.log });
    this.manager = m;
    await m.start();
    this.dispatcher = dispatcherServer(m);
    this.control = forwardingControl(m, localControl(m));
  }

  private async stopManager(): Promise<void> {
    const m = this.manager;
    this.control = undefined;
    this.dispatcher = undefined;
    this.manager = undefined;
    await m?.stop().catch(() => undefined);
    this.server?.removeService(RaftTransportService);
    rmSync(this.raftDir(), { recursive: true, force: true });
  }

  /** The managers' word on this node's role; a change is carried out one at a time. */
  private roleTold(role: NodeRole, members: RaftMember[]): void {
    this.toldRole = { role, members };
    void this.followRole();
  }

  private async followRole(): Promise<void> {
    if (this.changingRole || this.busy) return;
    const s = this.state;
    const told = this.toldRole;
    if (!s || !told || told.role === s.role) return;
    this.changingRole = true;
    try {
      if (told.role === NodeRole.NODE_ROLE_MANAGER) await this.promote(s, told.members);
      else await this.demote(s);
    } catch (err) {
      this.log(`shoal daemon: changing role: ${(err as Error).message}; trying again`);
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      this.changingRole = false;
    }
    if (this.state && this.toldRole && this.toldRole.role !== this.state.role) void this.followRole();
  }

  /** Promoted: a new Raft member joins the group through the leader, as a joining manager does. */
  private async promote(s: SwarmState, members: RaftMember[]): Promise<void> {
    if (members.length === 0 && !s.etcd) throw new Error("no Raft members known yet");
    const raftId = s.etcd ? 0 : newRaftId();
    const join = new Map(members.map((m) => [m.raftId, { raftAddress: m.addr, clientAddress: m.addr }]));
    await this.startManager({ ...s, raftId }, undefined, join);
    try {
      await atLeader(this.session?.manager() ?? members[0]?.addr ?? s.managers[0], "joinRaft", { nodeId: s.nodeId, raftId, addr: s.addr }, 60_000);
    } catch (err) {
      await this.stopManager();
      throw err;
    }
    s.role = NodeRole.NODE_ROLE_MANAGER;
    s.raftId = raftId;
    saveSwarmState(this.o.dataRoot, s);
    this.log(`shoal daemon: promoted to manager (raft member ${raftId})`);
  }

  /** Demoted: the group has already let this member go (see roleToSend); its member stops. */
  private async demote(s: SwarmState): Promise<void> {
    await this.stopManager();
    s.role = NodeRole.NODE_ROLE_WORKER;
    s.raftId = 0;
    saveSwarmState(this.o.dataRoot, s);
    this.log("shoal daemon: demoted to worker");
  }

  private description(): NodeDescription {
    return {
      hostname: hostname(),
      platform: { architecture: arch() === "x64" ? "x86_64" : arch(), os: "linux" },
      resources: { nanoCpus: cpus().length * 1e9, memoryBytes: totalmem() },
      engine: { engineVersion: this.o.engineVersion, labels: {} },
    };
  }
}

function listenOf(listen: string, addr: string): string {
  const port = addr.slice(addr.lastIndexOf(":") + 1);
  return listen ? withPort(listen, Number(port)) : `0.0.0.0:${port}`;
}

/** The first non-loopback IPv4 address: what `swarm init` advertises when not told. */
function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  throw new ClusterError(status.INVALID_ARGUMENT, "could not choose an address to advertise (no IPv4 address besides loopback): pass --advertise-addr");
}

/** The local address this host uses to reach `remote`: what a joining node advertises by default. */
function addressTowards(remote: string): Promise<string> {
  const host = remote.slice(0, remote.lastIndexOf(":"));
  const port = Number(remote.slice(remote.lastIndexOf(":") + 1));
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    sock.on("error", (e) => (sock.close(), reject(new ClusterError(status.INVALID_ARGUMENT, `cannot reach ${remote}: ${e.message}`))));
    sock.connect(port, host, () => {
      const a = sock.address().address;
      sock.close();
      resolve(a);
    });
  });
}

type DispatcherUnary = "join" | "joinRaft" | "leave";

function unaryAt<Req>(addr: string, method: DispatcherUnary, req: Req, timeoutMs = 60_000): Promise<unknown> {
  const c = new DispatcherClient(addr, credentials.createInsecure());
  return new Promise<unknown>((resolve, reject) => {
    const fn = (c as unknown as Record<string, (r: Req, o: object, cb: (e: ServiceError | null, r: unknown) => void) => void>)[method];
    fn.call(c, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      c.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

/**
 * Calls a Dispatcher method at the leader, starting at `remote` and following followers' pointers.
 * The methods are idempotent, so a call caught in a leader change (an election while the swarm
 * grows) is made again, at whoever leads next.
 */
async function atLeader(remote: string, method: DispatcherUnary, req: unknown, timeoutMs = 15_000): Promise<{ res: unknown; leader: string }> {
  let at = remote;
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      return { res: await unaryAt(at, method, req, Math.max(1000, deadline - Date.now())), leader: at };
    } catch (err) {
      const e = err as ServiceError;
      const hint = /leader is at (\S+)/.exec(e.details ?? "")?.[1];
      if (hint && hint !== at && i < 20) {
        at = hint;
        continue;
      }
      const electing = /no leader right now|leadership changed|not the leader|lost leadership/i.test(e.details ?? "");
      if (electing && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        at = remote;
        continue;
      }
      if (e.code === status.UNAVAILABLE && /No connection|connect|ECONNREFUSED|Deadline/i.test(e.details ?? "")) throw new ClusterError(status.UNAVAILABLE, `cannot reach a manager at ${at}: check the address and that its daemon is in a swarm`);
      throw err;
    }
  }
}

/** Joins through `remote`, following a follower's pointer to the leader. */
async function joinAt(remote: string, req: { token: string; addr: string; description: NodeDescription; nodeId: string }): Promise<{ res: NodeJoinResponse; leader: string }> {
  const { res, leader } = await atLeader(remote, "join", req);
  return { res: res as NodeJoinResponse, leader };
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Member = { raftAddress: string; clientAddress: string };

/** A service whose every method goes to `impl()` if there is one, or fails with `refusal()`. */
function delegating(def: ServiceDefinition, impl: () => object | undefined, refusal: () => string): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const name of Object.keys(def)) {
    out[name] = (call: { emit(e: "error", err: unknown): boolean }, cb?: (e: Partial<ServiceError>) => void) => {
      const fn = (impl() as Record<string, ((...a: unknown[]) => void) | undefined> | undefined)?.[name];
      if (fn) return fn(call, cb);
      const err = { code: status.FAILED_PRECONDITION, details: refusal() };
      if (cb) cb(err);
      else call.emit("error", err);
    };
  }
  return out;
}

/** `swarm init --store etcd`: where the state goes; undefined for the embedded Raft store. */
function etcdOf(r: InitRequest): SwarmState["etcd"] {
  if (!r.store || r.store === "raft") {
    if (r.etcd?.endpoints.length) throw new ClusterError(status.INVALID_ARGUMENT, "etcd endpoints given without --store etcd: add --store etcd, or drop --etcd-endpoints");
    return undefined;
  }
  if (r.store !== "etcd") throw new ClusterError(status.INVALID_ARGUMENT, `unknown store "${r.store}": use raft (the default) or etcd`);
  if (!r.etcd?.endpoints.length) throw new ClusterError(status.INVALID_ARGUMENT, "--store etcd needs --etcd-endpoints URL,... (e.g. http://10.0.0.5:2379)");
  return { endpoints: r.etcd.endpoints, prefix: r.etcd.prefix || "/shoal/", tls: tlsOf(r.etcdTls) };
}

function tlsOf(t: { caFile: string; certFile: string; keyFile: string } | undefined): { caFile?: string; certFile?: string; keyFile?: string } | undefined {
  if (!t || (!t.caFile && !t.certFile && !t.keyFile)) return undefined;
  return { caFile: t.caFile || undefined, certFile: t.certFile || undefined, keyFile: t.keyFile || undefined };
}
