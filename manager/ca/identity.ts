// Who a certificate speaks for: a node id (CN), its role (OU) and its cluster (O), as swarmkit
// names them. The same three fields are read from a PEM certificate and from the peer
// certificate of a TLS connection.
import { NodeRole } from "../../proto/gen/cluster.js";

export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

export const MANAGER_OU = "swarm-manager";
export const WORKER_OU = "swarm-worker";

export function roleName(role: NodeRole): string {
  return role === NodeRole.NODE_ROLE_MANAGER ? MANAGER_OU : WORKER_OU;
}

/** The role an OU names, or undefined for anything else. */
export function roleOf(ou: string): NodeRole | undefined {
  if (ou === MANAGER_OU) return NodeRole.NODE_ROLE_MANAGER;
  if (ou === WORKER_OU) return NodeRole.NODE_ROLE_WORKER;
  return undefined;
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
  const role = roleOf(OU);
  if (role === undefined || !PLAIN_ID.test(CN) || !PLAIN_ID.test(O)) return undefined;
  return { nodeId: CN, role, clusterId: O };
}

export function describeIdentity(id: NodeIdentity): string {
  return `node ${id.nodeId} (${roleName(id.role)}) of swarm ${id.clusterId}`;
}
