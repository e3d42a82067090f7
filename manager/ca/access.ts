// Who may call what on the cluster port. The TLS layer has already checked that a presented
// certificate chains to this swarm's root; here each call is checked against the peer's
// identity and against the store's node list, so `node rm` and `node demote` take effect at
// once: the next call is refused, and calls still open (sessions, log streams) are ended. An
// admin client (a remote CLI) is no node: its certificate alone lets it use the control API.
import { ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import { NodeRole, type Node } from "../../proto/gen/cluster.js";
import type { Store } from "../store/types.js";
import { describeIdentity, type NodeIdentity } from "./identity.js";

/**
 * - public: anyone over TLS (joining, which the handler checks by token);
 * - node: any node of this swarm still in it;
 * - manager: a manager's certificate, and the store still says it is a manager;
 * - control: as manager, or an admin client's certificate of this swarm (the control API);
 * - raft: a manager's certificate, and a manager or still a Raft member (a demoted manager
 *   acks its own removal from the group; a removed node is refused).
 */
export type Access = "public" | "node" | "manager" | "control" | "raft";

/** What the store says of a node, as far as access goes. */
export interface Member {
  role: NodeRole;
  raftMember: boolean;
}

export type Verdict = { ok: true } | { ok: false; code: status; message: string };

const OK: Verdict = { ok: true };

/**
 * Pure: whether `peer` (undefined: no certificate of this swarm's root) may make a call that
 * needs `access`. `member` is the store's view of the peer's node (none for an admin client);
 * `members` false means this node keeps no store (a worker), so only the certificate is checked.
 */
export function authorize(peer: NodeIdentity | undefined, access: Access, clusterId: string, member: Member | undefined, members = true): Verdict {
  if (access === "public") return OK;
  if (!peer) return { ok: false, code: status.UNAUTHENTICATED, message: "this call needs a certificate from this swarm: join the swarm first (shoal swarm join)" };
  const who = describeIdentity(peer);
  if (peer.clusterId !== clusterId) return { ok: false, code: status.PERMISSION_DENIED, message: `${who} is not a member of this swarm (${clusterId})` };
  if (peer.admin) return access === "control" ? OK : { ok: false, code: status.PERMISSION_DENIED, message: `${who} may use the control API only: it is not a node of the swarm` };
  if (members && !member) return { ok: false, code: status.PERMISSION_DENIED, message: `${who} was removed from the swarm: join it again to take part` };
  if (access === "node") return OK;
  const managerCert = peer.role === NodeRole.NODE_ROLE_MANAGER;
  const stillManager = !members || member!.role === NodeRole.NODE_ROLE_MANAGER || (access === "raft" && member!.raftMember);
  if (!managerCert || !stillManager) {
    const what = access === "raft" ? "take part in Raft" : access === "control" ? "use the control API: run the command on a manager" : "call a node's agent";
    return { ok: false, code: status.PERMISSION_DENIED, message: `${who} is ${managerCert ? "no longer a manager" : "a worker"}: only managers may ${what}` };
  }
  return OK;
}

/**
 * The store's node list as access needs it, kept current by a synchronous subscription: every
 * change set that removes or demotes a node is seen before the next call is checked. While it
 * follows no store (a worker, or a manager not yet started) it knows nothing, and certificates
 * alone decide.
 */
export class NodeRegistry {
  private members = new Map<string, Member>();
  private readonly listeners = new Set<() => void>();
  private following = false;

  update(nodes: readonly Node[]): void {
    this.members = new Map(nodes.map((n) => [n.id, memberOf(n)]));
    this.following = true;
    for (const l of this.listeners) l();
  }

  /** Back to knowing nothing (the manager stopped: demoted, or left). */
  forget(): void {
    this.members = new Map();
    this.following = false;
    for (const l of this.listeners) l();
  }

  /** Whether it holds a store's node list. */
  get known(): boolean {
    return this.following;
  }

  member(nodeId: string): Member | undefined {
    return this.members.get(nodeId);
  }

  /** Calls `listener` after every update; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Follows the store's nodes from now on; returns the way to stop (which also forgets). With
   * `selfId`, only from when the store lists that node: a manager that has just joined starts
   * with an empty store, and must not refuse the peers about to fill it.
   */
  follow(store: Store, selfId?: string): () => void {
    const refresh = () => {
      const nodes = store.view((tx) => tx.find("node"));
      if (this.following || selfId === undefined || nodes.some((n) => n.id === selfId)) this.update(nodes);
    };
    const off = store.subscribe(refresh, { kinds: ["node"] });
    refresh();
    return () => {
      off();
      this.forget();
    };
  }
}

function memberOf(n: Node): Member {
  return { role: n.spec?.role ?? NodeRole.NODE_ROLE_WORKER, raftMember: (n.managerStatus?.raftId ?? 0) > 0 };
}

/** Maps a gRPC method path ("/pkg.Service/Method") to the access it needs; undefined: refused. */
export type AccessPolicy = (path: string) => Access | undefined;

/** A policy from a table of full paths or service prefixes ("/pkg.Service/"); the longest match wins. */
export function accessPolicy(table: Record<string, Access>): AccessPolicy {
  const keys = Object.keys(table).sort((a, b) => b.length - a.length);
  return (path) => {
    const k = keys.find((key) => (key.endsWith("/") ? path.startsWith(key) : path === key));
    return k === undefined ? undefined : table[k];
  };
}

/** Shoal's cluster port: every service it serves, and who may call it. Anything else is refused. */
export const CLUSTER_ACCESS = accessPolicy({
  "/shoal.raft.transport.RaftTransport/": "raft",
  "/shoal.swarm.Control/": "control",
  "/shoal.swarm.Dispatcher/": "node",
  "/shoal.swarm.Dispatcher/Join": "public",
  // Every node serves its tasks' logs; the managers ask for them.
  "/shoal.swarm.Agent/": "manager",
});

interface OpenCall {
  peer: NodeIdentity;
  access: Access;
  end(code: status, message: string): void;
}

export interface AccessGuardOptions {
  clusterId: string;
  /** The store's nodes, followed while this node runs a manager; absent or not following: certificates alone decide. */
  registry?: NodeRegistry;
  policy?: AccessPolicy;
  /** The peer of a call: the identity its TLS certificate names (credentials.peerIdentity). */
  peerOf: (call: Parameters<ServerInterceptor>[1]) => NodeIdentity | undefined;
}

/**
 * Checks every call on a server against the policy, and ends open calls whose peer the
 * registry no longer allows. Its interceptor goes on the server's credentials.
 */
export class AccessGuard {
  private readonly open = new Set<OpenCall>();
  private readonly policy: AccessPolicy;

  constructor(private readonly o: AccessGuardOptions) {
    this.policy = o.policy ?? CLUSTER_ACCESS;
    o.registry?.onChange(() => this.recheck());
  }

  private verdict(peer: NodeIdentity | undefined, access: Access): Verdict {
    // An admin client is no node: a node of the same name says nothing about it.
    const member = peer && !peer.admin ? this.o.registry?.member(peer.nodeId) : undefined;
    return authorize(peer, access, this.o.clusterId, member, this.o.registry?.known ?? false);
  }

  private recheck(): void {
    for (const c of [...this.open]) {
      const v = this.verdict(c.peer, c.access);
      if (!v.ok) c.end(v.code, v.message);
    }
  }

  /** Calls this guard holds open (for tests and metrics). */
  get openCalls(): number {
    return this.open.size;
  }

  readonly interceptor: ServerInterceptor = (method, call) => {
    const access = this.policy(method.path);
    return new ServerInterceptingCall(call, {
      start: (next) => {
        let tracked: OpenCall | undefined;
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            if (access === undefined) {
              call.sendStatus({ code: status.PERMISSION_DENIED, details: `${method.path} is not served on the cluster port` });
              return;
            }
            const peer = this.o.peerOf(call);
            const v = this.verdict(peer, access);
            if (!v.ok) {
              call.sendStatus({ code: v.code, details: v.message });
              return;
            }
            if (peer && access !== "public") {
              tracked = { peer, access, end: (code, details) => call.sendStatus({ code, details }) };
              this.open.add(tracked);
            }
            mdNext(metadata);
          },
          // Called once the call is over, however it ended (status sent, or cancelled).
          onCancel: () => {
            if (tracked) this.open.delete(tracked);
          },
        });
      },
    });
  };
}
