// A daemon's place in a swarm: `swarm init/join/leave`, its cluster port (Raft, dispatcher and
// control on managers; task logs on every node), the worker that runs its tasks, and the session
// that links the worker to the leader. Membership survives daemon restarts (state.ts).
import { createSocket } from "node:dgram";
import { arch, cpus, hostname, networkInterfaces, totalmem } from "node:os";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { Server, status, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { NodeAvailability, NodeRole, NodeState, type NodeDescription } from "../../proto/gen/cluster.js";
import {
  AgentService, ControlService, DispatcherService, type ControlServer, type DispatcherServer, type InitRequest, type InitResponse, type JoinRequest, type JoinResponse,
  type LeaveRequest, type RaftMember, type RenewCertificateResponse, type SwarmInfo, type SwarmServer, type UnlockRequest,
} from "../../proto/gen/swarm.js";
import { RaftTransportService } from "../../proto/gen/raft_transport.js";
import { ingressNetworkSpec } from "../../manager/allocator/networks.js";
import { AccessGuard, NodeRegistry } from "../../manager/ca/access.js";
import { followAutolock } from "../../manager/ca/autolock.js";
import { NodeCertificates } from "../../manager/ca/certificates.js";
import { clusterChannel, clusterServerCredentials, peerIdentity, type ClusterChannel } from "../../manager/ca/credentials.js";
import { createNodeKey } from "../../manager/ca/csr.js";
import { LockedError, newUnlockKey, recordCipher } from "../../manager/ca/encryption.js";
import { CertificateRenewer } from "../../manager/ca/renewer.js";
import { requestKeyDigest, RootCA } from "../../manager/ca/root-ca.js";
import { checkNodeCertValidity } from "../../manager/ca/signer.js";
import { makeJoinToken } from "../../manager/ca/tokens.js";
import { Manager, newRaftId } from "../../manager/cluster/manager.js";
import { ClusterError, dispatcherServer, forwardingControl, toStatus } from "../../manager/cluster/services.js";
import { localControl } from "../../manager/cluster/control.js";
import { randomId } from "../../manager/store/memory.js";
import { Session } from "../session/session.js";
import { agentServer } from "../worker/logs.js";
import { Worker, type WorkerDeps } from "../worker/worker.js";
import { atAny, atLeader, unaryAt } from "./dial.js";
import { joinSwarm } from "./join.js";
import { NodeKeys, raftDir } from "./keys.js";
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
const LOCKED = 'this manager is locked (autolock): run "shoal swarm unlock" and give the unlock key';

export class SwarmNode {
  private state?: SwarmState;
  /** Restarted under autolock: the membership it waits to resume until `swarm unlock`. */
  private locked?: SwarmState;
  /** This node's certificates and keys, and the channel to the managers built on them. */
  private keys?: NodeKeys;
  private channel?: ClusterChannel;
  private renewer?: CertificateRenewer;
  /** The store's node list, followed while this node runs a manager: the cluster port's access. */
  private registry = new NodeRegistry();
  /** Stops following the manager's store (access, autolock). */
  private unfollow?: () => void;
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

  /** On daemon start: rejoin the swarm this node belonged to (or wait, locked, for its unlock key). */
  async resume(): Promise<void> {
    const s = loadSwarmState(this.o.dataRoot);
    if (!s) return;
    if (NodeKeys.locked(this.dir())) {
      this.locked = s;
      this.log(`shoal daemon: this manager of swarm ${s.clusterId} is locked (autolock): run "shoal swarm unlock" to rejoin`);
      return;
    }
    await this.bringUp(s, await NodeKeys.load(this.dir()), {});
    this.log(`shoal daemon: rejoined swarm ${s.clusterId} as node ${s.nodeId} (${s.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker"})`);
  }

  /** Daemon stopping: leave containers running, keep membership. */
  async shutdown(): Promise<void> {
    this.renewer?.stop();
    this.session?.stop();
    await this.worker?.stop();
    this.unfollow?.();
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
      unlock: run(async (r: UnlockRequest) => (await this.unlock(r), {})),
    };
  }

  /** The Control API on the local socket: this manager's (forwarding to the leader), or a clear refusal. */
  controlServer(): ControlServer {
    return delegating(ControlService, () => this.control, () => (this.locked ? LOCKED : this.state ? WORKER_ONLY : NOT_IN_SWARM)) as unknown as ControlServer;
  }

  info(): SwarmInfo {
    const s = this.state ?? this.locked;
    if (!s) return { state: "inactive", nodeId: "", role: 0, clusterId: "", nodeAddr: "", managers: [], leaderAddr: "", isLeader: false, raftId: 0 };
    return {
      state: this.locked ? "locked" : "active",
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
    try {
      checkNodeCertValidity(r.nodeCertExpiryMs);
    } catch (err) {
      throw new ClusterError(status.INVALID_ARGUMENT, `--cert-expiry: ${(err as Error).message}`);
    }
    const addr = withPort(r.advertiseAddr || firstAddress());
    const etcd = etcdOf(r);
    const s: SwarmState = { nodeId: randomId(), clusterId: randomId(), role: NodeRole.NODE_ROLE_MANAGER, raftId: etcd ? 0 : newRaftId(), addr, listenAddr: listenOf(r.listenAddr, addr), managers: [addr], etcd };
    // The swarm's root CA, made once for its lifetime, and this first manager's certificate.
    const root = await RootCA.create();
    const key = await createNodeKey();
    const certPem = await root.issue(key.csrPem, { nodeId: s.nodeId, role: NodeRole.NODE_ROLE_MANAGER, clusterId: s.clusterId }, { validityMs: r.nodeCertExpiryMs || undefined });
    const unlockKey = r.autolock ? newUnlockKey() : undefined;
    const keys = new NodeKeys(this.dir(), await NodeCertificates.create({ rootCaPem: root.certPem, certPem, keyPem: key.keyPem }), unlockKey);
    try {
      keys.save();
      const tokens = { worker: makeJoinToken(root.certPem), manager: makeJoinToken(root.certPem) };
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
            spec: {
              annotations: { name: "default", labels: {} },
              dispatcher: { heartbeatPeriodMs: 500 },
              orchestration: { taskHistoryRetentionLimit: 5 },
              ca: { nodeCertExpiryMs: r.nodeCertExpiryMs },
              encryption: { autoLockManagers: unlockKey !== undefined },
            },
            joinTokens: tokens,
            rootCa: { certPem: root.certPem, keyPem: root.keyPem! },
            autolock: unlockKey ? { unlockKey } : undefined,
          });
          tx.create("node", {
            id: s.nodeId,
            spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
            description: this.description(),
            status: { state: NodeState.NODE_STATE_UNKNOWN, message: "", addr },
            managerStatus: { raftId: s.raftId, addr, leader: true, reachability: 2 },
            membership: 1,
            certificate: { keyDigest: requestKeyDigest(key.csrPem) },
          });
          // The routing mesh's network, as `docker swarm init` makes it.
          tx.create("network", { id: "", spec: ingressNetworkSpec() });
        });
      };
      await this.bringUp(s, keys, { initialMembers: new Map([[s.raftId, { raftAddress: addr, clientAddress: addr }]]), beforeSession: record });
      saveSwarmState(this.o.dataRoot, s);
      return { nodeId: s.nodeId, workerToken: tokens.worker, managerToken: tokens.manager, unlockKey: unlockKey ?? "" };
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
    const { res, leader, certs } = await joinSwarm(remote, { token: r.token, addr, description: this.description() });
    const etcd = res.etcd?.endpoints.length ? { endpoints: res.etcd.endpoints, prefix: res.etcd.prefix, tls: tlsOf(r.etcdTls) } : undefined;
    const s: SwarmState = { nodeId: res.nodeId, clusterId: res.clusterId, role: res.role, raftId: res.raftId, addr, listenAddr: listenOf(r.listenAddr, addr), managers: res.managers, etcd };
    // A manager joining a locked swarm seals its keys once its store shows the unlock key.
    const keys = new NodeKeys(this.dir(), certs, undefined);
    try {
      keys.save();
      if (res.role === NodeRole.NODE_ROLE_MANAGER) {
        const members = new Map(res.raftMembers.map((m) => [m.raftId, { raftAddress: m.addr, clientAddress: m.addr }]));
        await this.bringUp(s, keys, { joinMembers: members, beforeSession: () => unaryAt(leader, "joinRaft", { nodeId: s.nodeId, raftId: s.raftId, addr }, this.channel!) });
      } else {
        await this.bringUp(s, keys, {});
      }
      saveSwarmState(this.o.dataRoot, s);
      return { nodeId: s.nodeId, role: s.role };
    } catch (err) {
      await this.tearDown();
      removeSwarmState(this.o.dataRoot);
      throw err;
    }
  }

  /** `swarm unlock`: the locked manager opens its keys with the unlock key and rejoins. */
  async unlock(r: UnlockRequest): Promise<void> {
    const s = this.locked;
    if (!s) throw new ClusterError(status.FAILED_PRECONDITION, this.state ? "this node is not locked" : "this node is not part of a swarm");
    let keys: NodeKeys;
    try {
      keys = await NodeKeys.load(this.dir(), r.unlockKey);
    } catch (err) {
      if (err instanceof LockedError) throw new ClusterError(status.INVALID_ARGUMENT, err.message);
      throw err;
    }
    this.locked = undefined;
    try {
      await this.bringUp(s, keys, {});
    } catch (err) {
      await this.tearDown();
      this.locked = s;
      throw err;
    }
    this.log(`shoal daemon: unlocked; rejoined swarm ${s.clusterId} as node ${s.nodeId}`);
  }

  async leave(r: LeaveRequest): Promise<void> {
    if (this.locked) {
      if (!r.force) throw new ClusterError(status.FAILED_PRECONDITION, 'this manager is locked: unlock it first ("shoal swarm unlock"), or leave with --force');
      this.locked = undefined;
      removeSwarmState(this.o.dataRoot);
      return;
    }
    const s = this.state;
    if (!s) throw new ClusterError(status.FAILED_PRECONDITION, "this node is not part of a swarm");
    if (s.role === NodeRole.NODE_ROLE_MANAGER && !r.force) {
      throw new ClusterError(status.FAILED_PRECONDITION, "this node is a manager: leaving takes a member out of the swarm's Raft group and can cost it its majority; demote it first, or use --force");
    }
    // A leader hands over first, so the swarm has a leader to record the departure.
    const m = this.manager;
    if (m?.isLeader()) await m.handOver().catch((e: Error) => this.log(`shoal daemon: handing over leadership: ${e.message}`));
    // The session ends first: its heartbeats would mark the node ready again after the leader
    // recorded it down, and `node rm` would then refuse it.
    this.session?.stop();
    // Tell the leader, so the node's tasks are rescheduled at once rather than after the heartbeat
    // timeout, and a manager leaves the Raft group.
    const managers = (m?.managerAddrs() ?? s.managers).filter((a) => a !== s.addr || m?.isLeader() === false);
    let told = false;
    for (const addr of managers) {
      try {
        await atLeader(addr, "leave", { nodeId: s.nodeId }, this.channel!, 10_000);
        told = true;
        break;
      } catch {
        /* try the next manager */
      }
    }
    if (!told) this.log("shoal daemon: no manager could be told of this node leaving; it will be marked down when its heartbeats stop");
    this.renewer?.stop();
    await this.worker?.leave();
    await this.tearDown();
    removeSwarmState(this.o.dataRoot);
  }

  private refuseIfMember(): void {
    if (this.state || this.locked) throw new ClusterError(status.FAILED_PRECONDITION, 'this node is already part of a swarm: run "shoal swarm leave" first to join another one');
  }

  /**
   * Starts the cluster port (mutual TLS under the swarm's root, each call checked by the access
   * guard), the manager (if any), the worker, the session and the certificate's renewal.
   */
  private async bringUp(s: SwarmState, keys: NodeKeys, o: { initialMembers?: Map<number, Member>; joinMembers?: Map<number, Member>; beforeSession?: () => Promise<unknown> }): Promise<void> {
    this.state = s;
    this.keys = keys;
    const certs = keys.certs;
    const channel = clusterChannel(certs);
    this.channel = channel;
    this.registry = new NodeRegistry();
    const guard = new AccessGuard({ clusterId: s.clusterId, registry: this.registry, peerOf: peerIdentity });
    const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    this.server = server;
    this.worker = new Worker({ ...this.o.worker, nodeId: s.nodeId, addr: s.addr, stateDir: join(this.dir(), "worker"), report: (u) => this.session?.report(u), log: this.log });
    server.addService(AgentService, agentServer(this.worker) as unknown as UntypedServiceImplementation);
    // Served on every node, answered only while it is a manager: a promotion needs no new port.
    const notManager = () => "this node is not a swarm manager";
    server.addService(DispatcherService, delegating(DispatcherService, () => this.dispatcher, notManager));
    server.addService(ControlService, delegating(ControlService, () => this.control, notManager));
    if (s.role === NodeRole.NODE_ROLE_MANAGER) await this.startManager(s, o.initialMembers, o.joinMembers);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(s.listenAddr, clusterServerCredentials(certs, guard), (err) => (err ? reject(new Error(`cannot listen on ${s.listenAddr}: ${err.message}; pass another --listen-addr`)) : resolve())),
    );
    await o.beforeSession?.();
    await this.worker.start();
    this.session = new Session({
      nodeId: s.nodeId,
      addr: s.addr,
      description: () => this.description(),
      managers: s.managers,
      channel,
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
    this.renewer = new CertificateRenewer({
      certs,
      request: (csr) => this.requestCertificate(csr),
      desiredRole: () => this.toldRole?.role,
      save: () => this.keys?.save(),
      log: this.log,
    });
    this.renewer.start();
  }

  /** A manager signs a CSR for this node: the session's (the leader) first, then any other. */
  private async requestCertificate(csr: string): Promise<{ certPem: string; rootCaPem: string }> {
    const managers = [this.session?.manager(), ...(this.manager?.managerAddrs() ?? this.state?.managers ?? [])].filter((a): a is string => !!a);
    const res = await atAny<RenewCertificateResponse>(managers, "renewCertificate", { csr }, this.channel!);
    return { certPem: res.certificate, rootCaPem: res.rootCa };
  }

  private async tearDown(): Promise<void> {
    this.renewer?.stop();
    this.session?.stop();
    await this.worker?.stop().catch(() => undefined);
    this.unfollow?.();
    await this.manager?.stop().catch(() => undefined);
    this.server?.forceShutdown();
    this.renewer = undefined;
    this.unfollow = undefined;
    this.session = undefined;
    this.worker = undefined;
    this.manager = undefined;
    this.server = undefined;
    this.control = undefined;
    this.dispatcher = undefined;
    this.toldRole = undefined;
    this.state = undefined;
    this.keys = undefined;
    this.channel = undefined;
  }

  private dir(): string {
    return swarmDir(this.o.dataRoot);
  }

  private async startManager(s: SwarmState, initialMembers?: Map<number, Member>, joinMembers?: Map<number, Member>): Promise<void> {
    const keys = this.keys!;
    const m = new Manager({ nodeId: s.nodeId, raftId: s.raftId, dataDir: raftDir(this.dir()), addr: s.addr, server: this.server!, initialMembers, joinMembers, etcd: s.etcd, certs: keys.certs, sealer: s.etcd ? undefined : recordCipher(keys.dataKey()), log: this.log });
    this.manager = m;
    await m.start();
    this.dispatcher = dispatcherServer(m);
    this.control = forwardingControl(m, localControl(m));
    // From now on the store decides who is still in the swarm and in what role, and whether
    // this manager's keys are sealed.
    const offRegistry = this.registry.follow(m.store, s.nodeId);
    // Autolock is followed only from a store that has caught up: a replayed, older cluster
    // object must not unseal keys that a later one sealed.
    let offAutolock: (() => void) | undefined;
    let stopped = false;
    m.caughtUp().then(
      () => (offAutolock = stopped ? undefined : followAutolock(m.store, keys, this.log)),
      () => undefined,
    );
    this.unfollow = () => {
      stopped = true;
      offRegistry();
      offAutolock?.();
    };
  }

  private async stopManager(): Promise<void> {
    const m = this.manager;
    this.unfollow?.();
    this.unfollow = undefined;
    this.control = undefined;
    this.dispatcher = undefined;
    this.manager = undefined;
    await m?.stop().catch(() => undefined);
    this.server?.removeService(RaftTransportService);
    rmSync(raftDir(this.dir()), { recursive: true, force: true });
    // Autolock guards managers' keys only: a worker's is kept in clear, as docker does.
    if (this.keys?.unlockKey !== undefined) this.keys.reseal(undefined);
  }

  /** The managers' word on this node's role; a change is carried out one at a time. */
  private roleTold(role: NodeRole, members: RaftMember[]): void {
    this.toldRole = { role, members };
    this.renewer?.poke(); // a new role is renewed into the certificate at once
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
    // Raft and the control API admit managers' certificates only: this node needs one first.
    const managerCert = () => this.keys!.certs.identity.role === NodeRole.NODE_ROLE_MANAGER;
    if (!managerCert()) await this.renewer!.renewNow();
    if (!managerCert()) throw new Error("the managers have not issued this node a manager's certificate yet");
    const raftId = s.etcd ? 0 : newRaftId();
    const join = new Map(members.map((m) => [m.raftId, { raftAddress: m.addr, clientAddress: m.addr }]));
    await this.startManager({ ...s, raftId }, undefined, join);
    try {
      await atLeader(this.session?.manager() ?? members[0]?.addr ?? s.managers[0], "joinRaft", { nodeId: s.nodeId, raftId, addr: s.addr }, this.channel!, 60_000);
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
