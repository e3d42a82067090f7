// Who a certificate speaks for: a node id (CN), its role (OU) and its cluster (O), as swarmkit
// names them; or, with OU swarm-admin, an admin client of the cluster (the CLI of someone who
// runs it from elsewhere), named by its CN. The same fields are read from a PEM certificate and
// from the peer certificate of a TLS connection.
import { NodeRole } from "../../proto/gen/cluster.js";

export interface NodeIdentity {
  /** The node id; for an admin client, its name. */
  nodeId: string;
  /** An admin client holds the least role, so that anything asking for a manager refuses it. */
  role: NodeRole;
  clusterId: string;
  /** An admin client, not a node: it may use the control API and nothing else (access.ts). */
  admin?: true;
}

export const MANAGER_OU = "swarm-manager";
export const WORKER_OU = "swarm-worker";
export const ADMIN_OU = "swarm-admin";

export function roleName(role: NodeRole): string {
  return role === NodeRole.NODE_ROLE_MANAGER ? MANAGER_OU : WORKER_OU;
}

/** The OU a certificate for `id` carries. */
export function ouOf(id: NodeIdentity): string {
  return id.admin ? ADMIN_OU : roleName(id.role);
}

/** The role an OU names, or undefined for anything else. */
export function roleOf(ou: string): NodeRole | undefined {
  if (ou === MANAGER_OU) return NodeRole.NODE_ROLE_MANAGER;
  if (ou === WORKER_OU) return NodeRole.NODE_ROLE_WORKER;
  return undefined;
}

/** The identity of the admin client `name` of swarm `clusterId`. */
export function adminIdentity(name: string, clusterId: string): NodeIdentity {
  return { nodeId: name, role: NodeRole.NODE_ROLE_WORKER, clusterId, admin: true };
}

// Ids go into a distinguished name: only plain ones, so none can smuggle in another field.
const PLAIN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkId(what: string, id: string): void {
  if (!PLAIN_ID.test(id)) throw new Error(`invalid ${what} "${id}": letters, digits, '-', '_' and '.' only`);
}

/**
 * The identity a subject names, from its CN, OU and O values (each exactly one string, as a
 * TLS peer certificate's `subject` gives them); undefined if any is missing or not ours.
 */
export function identityOf(subject: { CN?: unknown; OU?: unknown; O?: unknown } | undefined): NodeIdentity | undefined {
  if (!subject) return undefined;
  const { CN, OU, O } = subject;
  if (typeof CN !== "string" || typeof OU !== "string" || typeof O !== "string") return undefined;
  if (!PLAIN_ID.test(CN) || !PLAIN_ID.test(O)) return undefined;
  if (OU === ADMIN_OU) return adminIdentity(CN, O);
  const role = roleOf(OU);
  return role === undefined ? undefined : { nodeId: CN, role, clusterId: O };
}

export function describeIdentity(id: NodeIdentity): string {
  return id.admin ? `admin client ${id.nodeId} of swarm ${id.clusterId}` : `node ${id.nodeId} (${roleName(id.role)}) of swarm ${id.clusterId}`;
}
