// What a manager serves on its cluster port: the Dispatcher (joins and agent sessions, at the
// leader) and the Control API (answered by the leader; a follower forwards each call to it, so
// every write is proposed by the one member that can, and every read sees the latest state).
import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { NodeAvailability, NodeRole, NodeState, type Cluster, type Node } from "../../proto/gen/cluster.js";
import { ControlClient, ControlService, type ControlServer, type DispatcherServer, type NodeJoinRequest, type NodeJoinResponse } from "../../proto/gen/swarm.js";
import { peerIdentity } from "../ca/credentials.js";
import { CertificateError, requestKeyDigest } from "../ca/root-ca.js";
import { ClusterSigner, type Signed } from "../ca/signer.js";
import { LeadershipLostError, NotLeaderError, ProposalTimeoutError } from "../raft/errors.js";
import { NotLeaderError as EtcdNotLeaderError } from "../store/etcd/errors.js";
import { checkJoinToken, tokenRole } from "../ca/tokens.js";
import { notLeaderStatus, refusedUnwritten } from "../controlapi/errors.js";
import { roleToSend } from "../dispatcher/dispatcher.js";
import { randomId } from "../store/memory.js";
import { type Manager, newRaftId } from "./manager.js";

export class ClusterError extends Error {
  constructor(
    readonly code: status,
    message: string,
    /** Refused before anything was written because this manager does not lead (see UNWRITTEN). */
    readonly notLeader = false,
  ) {
    super(message);
  }
}

export function toStatus(err: unknown): Partial<ServiceError> {
  const e = err as Partial<ServiceError> & { code?: number };
  const message = ((err as Error)?.message ?? String(err)).split("\n")[0];
  if (err instanceof ClusterError) return err.notLeader ? notLeaderStatus(message) : { code: err.code, details: message };
  // Leadership moved while the call was being served: the caller retries, against the leader
  // named here when one is known (agents and the CLI follow "the leader is at ADDR").
  if (err instanceof NotLeaderError) {
    const at = err.leader?.clientAddress ?? err.leader?.raftAddress;
    return notLeaderStatus(at ? `this manager is not the leader any more; the leader is at ${at}` : "this swarm has no leader right now: retry in a moment");
  }
  if (err instanceof EtcdNotLeaderError) return notLeaderStatus(message);
  // These may have been written: never sent again by a forwarder.
  if (err instanceof LeadershipLostError || err instanceof ProposalTimeoutError) return { code: status.UNAVAILABLE, details: message };
  if (typeof e.code === "number" && e.details !== undefined) return { code: e.code, details: e.details, metadata: e.metadata };
  return { code: typeof e.code === "number" ? e.code : status.UNKNOWN, details: message };
}

/** A unary handler from a function of the request (and the call), its failure as a one-line status. */
export function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then((r) => cb(null, r), (e) => cb(toStatus(e)));
  };
}

/** Refuses what only the leader may do, naming where the leader is (agents follow the hint). */
export function requireLeader(m: Manager): void {
  if (m.isLeader()) return;
  const at = m.leaderAddr();
  throw new ClusterError(status.UNAVAILABLE, at ? `this manager is not the leader; the leader is at ${at}` : "this swarm has no leader right now: a majority of managers must be running", true);
}

/**
 * The node a call acts for: the one its certificate names. On the cluster port the access guard
 * lets no call here in without one; a request naming another node is refused. Servers without
 * TLS (in-process tests) take the request's word.
 */
function callerNode(call: Parameters<typeof peerIdentity>[0], claimed: string): string {
  const peer = peerIdentity(call);
  if (!peer) return claimed;
  if (claimed && claimed !== peer.nodeId) throw new ClusterError(status.PERMISSION_DENIED, `node ${peer.nodeId} may not act for node ${claimed}`);
  return peer.nodeId;
}

function clusterOf(m: Manager) {
  const cluster = m.store.view((tx) => tx.find("cluster")[0]);
  if (!cluster) throw new ClusterError(status.UNAVAILABLE, "the swarm is still starting: try again in a moment");
  return cluster;
}

async function signed(signer: ClusterSigner, cluster: Cluster, csr: string, who: { nodeId: string; role: NodeRole }): Promise<Signed> {
  try {
    return await signer.sign(cluster, csr, who);
  } catch (err) {
    if (err instanceof CertificateError) throw new ClusterError(status.INVALID_ARGUMENT, err.message);
    throw err;
  }
}

export function dispatcherServer(m: Manager): DispatcherServer {
  const signer = new ClusterSigner();
  return {
    join: unary((req: NodeJoinRequest) => join(m, signer, req)),
    joinRaft: unary(async (req, call) => {
      requireLeader(m);
      const nodeId = callerNode(call, req.nodeId);
      const node = m.store.view((tx) => tx.get("node", nodeId));
      if (!node || node.spec?.role !== NodeRole.NODE_ROLE_MANAGER) throw new ClusterError(status.PERMISSION_DENIED, `node ${nodeId} did not join as a manager`);
      // With the etcd store a manager needs no membership: it campaigns in etcd once it runs.
      if (m.raft) await m.raft.addMember(req.raftId, { raftAddress: req.addr, clientAddress: req.addr });
      await m.store.update((tx) => {
        const n = tx.get("node", nodeId);
        if (n) tx.update("node", { ...n, managerStatus: { raftId: req.raftId, addr: req.addr, leader: false, reachability: 2 } });
      });
      return {};
    }),
    leave: unary(async (req, call) => {
      requireLeader(m);
      const nodeId = callerNode(call, req.nodeId);
      const node = m.store.view((tx) => tx.get("node", nodeId));
      // A manager leaving (--force) leaves the Raft group too, so the rest keep their majority.
      const raftId = node?.managerStatus?.raftId ?? 0;
      if (raftId && m.raft && m.raft.status().members[raftId] && raftId !== m.raft.status().id) await m.raft.removeMember(raftId);
      await m.store.update((tx) => {
        const n = tx.get("node", nodeId);
        if (!n) return;
        const manager = !!n.managerStatus;
        const spec = manager ? { ...n.spec!, role: NodeRole.NODE_ROLE_WORKER } : n.spec;
        tx.update("node", { ...n, spec, managerStatus: undefined, status: { ...n.status, state: NodeState.NODE_STATE_DOWN, message: "node left the swarm", addr: n.status?.addr ?? "" } });
      });
      return {};
    }),
    session: (call) => {
      try {
        requireLeader(m);
      } catch (err) {
        call.emit("error", toStatus(err));
        return;
      }
      m.dispatcher.session(call, peerIdentity(call)?.nodeId);
    },
    // Any manager signs (the root CA key is in every manager's store); the role is the store's,
    // as the node's session tells it, so a promotion or demotion is carried into the certificate.
    renewCertificate: unary(async (req, call) => {
      const peer = peerIdentity(call);
      if (!peer) throw new ClusterError(status.UNAUTHENTICATED, "renewing a certificate needs the current one: join the swarm first");
      const node = m.store.view((tx) => tx.get("node", peer.nodeId));
      if (!node) throw new ClusterError(status.PERMISSION_DENIED, `node ${peer.nodeId} was removed from the swarm: join it again to take part`);
      const s = await signed(signer, clusterOf(m), req.csr, { nodeId: node.id, role: roleToSend(node) });
      return { certificate: s.certificate, rootCa: s.rootCa };
    }),
  };
}

async function join(m: Manager, signer: ClusterSigner, req: NodeJoinRequest): Promise<NodeJoinResponse> {
  requireLeader(m);
  try {
    checkJoinToken(req.token);
  } catch (err) {
    throw new ClusterError(status.INVALID_ARGUMENT, (err as Error).message);
  }
  const cluster = clusterOf(m);
  const role = tokenRole(cluster, req.token);
  if (role === undefined) throw new ClusterError(status.PERMISSION_DENIED, 'the join token is not valid for this swarm (wrong, or rotated): get the current one with "shoal swarm join-token worker" on a manager');
  if (!req.csr) throw new ClusterError(status.INVALID_ARGUMENT, "the join carries no certificate request: the joining node's shoal is too old for this swarm; upgrade it");
  let keyDigest: string;
  try {
    keyDigest = requestKeyDigest(req.csr);
  } catch (err) {
    throw new ClusterError(status.INVALID_ARGUMENT, (err as Error).message);
  }
  const answer = (node: Node, s: Signed): NodeJoinResponse => ({
    nodeId: node.id,
    clusterId: cluster.id,
    role,
    managers: m.managerAddrs(),
    raftId: node.managerStatus?.raftId ?? 0,
    raftMembers: role === NodeRole.NODE_ROLE_MANAGER ? m.raftMembers() : [],
    etcd: m.etcdConfig(),
    certificate: s.certificate,
    rootCa: s.rootCa,
  });
  // A retried join (its answer lost to a leader change) gets the node it already made, but only
  // for the key it first joined with: a token alone does not buy an existing node's identity.
  const made = req.nodeId ? m.store.view((tx) => tx.get("node", req.nodeId)) : undefined;
  if (made) {
    if (made.certificate?.keyDigest !== keyDigest || made.spec?.role !== role) throw new ClusterError(status.ALREADY_EXISTS, `node id ${req.nodeId} is taken by another node: join again`);
    return answer(made, await signed(signer, cluster, req.csr, { nodeId: made.id, role }));
  }
  const raftId = role === NodeRole.NODE_ROLE_MANAGER && m.raft ? newRaftId() : 0;
  const node: Node = {
    id: /^[0-9a-z]{25}$/.test(req.nodeId) ? req.nodeId : randomId(),
    spec: { annotations: { name: "", labels: {} }, role, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
    description: req.description,
    status: { state: NodeState.NODE_STATE_UNKNOWN, message: "joined", addr: req.addr },
    managerStatus: role === NodeRole.NODE_ROLE_MANAGER ? { raftId, addr: req.addr, leader: false, reachability: 0 } : undefined,
    membership: 1,
    certificate: { keyDigest },
  };
  // Signed before the node is recorded: a request that cannot be signed leaves nothing behind.
  const s = await signed(signer, cluster, req.csr, { nodeId: node.id, role });
  await m.store.update((tx) => tx.create("node", node));
  return answer(node, s);
}

/** How long a call refused by a manager that does not lead waits for leadership to settle: a takeover with etcd's 1 s lease takes up to ~1.5 s, Raft's well under 1 s. */
const LEADER_SETTLE_MS = 5000;
const LEADER_RETRY_MS = 100;

/**
 * The Control API as every manager serves it: the leader answers from `local`; a follower hands
 * the call to the leader unchanged and relays the answer, errors included.
 */
export function forwardingControl(m: Manager, local: ControlServer): ControlServer {
  let client: { addr: string; c: ControlClient } | undefined;
  const inFlight = new Set<Forwarded>();
  let watching: NodeJS.Timeout | undefined;
  const leaderClient = (): ControlClient => {
    const addr = m.leaderAddr();
    // A manager that still names itself leader but no longer leads (cut off from its peers or
    // from etcd) must not call itself: that is a loop until the deadline.
    if (!addr || addr === m.addr) throw new ClusterError(status.UNAVAILABLE, "this swarm has no leader right now: a majority of managers (or, with --store etcd, etcd) must be reachable; try again", true);
    if (client?.addr !== addr) {
      client?.c.close();
      client = { addr, c: new ControlClient(addr, m.channel.credentials, m.channel.options) };
    }
    return client.c;
  };
  const out: UntypedServiceImplementation = {};
  for (const name of Object.keys(ControlService) as (keyof ControlServer)[]) {
    const def = ControlService[name as keyof typeof ControlService];
    if (def.responseStream) {
      out[name] = local[name]; // streams (service logs) are served by any manager from its own store
      continue;
    }
    // A call refused unwritten because leadership is moving (the leader asked had just lost it, or
    // none is elected yet) is sent again, to whoever leads then, for a takeover's length: the
    // caller sees the new leader's answer, not the hand-over. Every Control API call is one store
    // transaction, so an unwritten refusal leaves nothing a second send could repeat.
    out[name] = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
      const until = Date.now() + LEADER_SETTLE_MS;
      const attempt = (): void =>
        serve(call, (err, res) => {
          if (err && refusedUnwritten(err) && Date.now() + LEADER_RETRY_MS < until && !call.cancelled) return void setTimeout(attempt, LEADER_RETRY_MS);
          cb(err, res);
        });
      attempt();
    };
    function serve(call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>): void {
      if (m.isLeader()) return (local[name] as (c: typeof call, cb: sendUnaryData<unknown>) => void)(call, cb);
      let c: ControlClient;
      try {
        c = leaderClient();
      } catch (err) {
        return cb(toStatus(err));
      }
      const method = (c as unknown as Record<string, (req: unknown, md: Metadata, opts: object, cb: (e: ServiceError | null, r: unknown) => void) => void>)[name];
      const at = m.leaderAddr()!;
      const sent = method.call(c, call.request, new Metadata(), { deadline: Date.now() + 30_000 }, (err, res) => {
        inFlight.delete(f);
        if (!err) return cb(null, res);
        cb(f.superseded ? { code: status.UNAVAILABLE, details: `the leader changed (to ${f.superseded}) while this call was with ${at}: it may not have been carried out; check, and try again` } : forwardError(err, at));
      }) as unknown as { cancel(): void };
      const f: Forwarded = { at, cancel: () => sent.cancel() };
      inFlight.add(f);
      watchLeader();
    }
  }
  return out as ControlServer;

  // A leader cut off by the network holds a forwarded call until its deadline, long after this
  // manager has learned of its successor: such calls are ended as soon as the leader changes.
  function watchLeader(): void {
    if (watching) return;
    watching = setInterval(() => {
      const now = m.leaderAddr();
      for (const f of inFlight) {
        if (now && now !== f.at) {
          f.superseded = now === m.addr ? "this manager" : now;
          f.cancel();
        }
      }
      if (inFlight.size === 0) {
        clearInterval(watching);
        watching = undefined;
      }
    }, 100);
  }
}

interface Forwarded {
  at: string;
  cancel(): void;
  superseded?: string;
}

/** The leader's answer as it is, but grpc-js's own words about a leader that could not be reached made plain. */
function forwardError(err: ServiceError, at: string | undefined): Partial<ServiceError> {
  if (err.code === status.DEADLINE_EXCEEDED) return { code: err.code, details: `the leader at ${at} did not answer in time (it may have just failed): try again` };
  if (err.code === status.UNAVAILABLE && /No connection established|Connection dropped|Failed to connect|ECONNREFUSED/i.test(err.details ?? "")) {
    return { code: err.code, details: `cannot reach the leader at ${at} (a new one may be being elected): try again` };
  }
  return toStatus(err);
}
