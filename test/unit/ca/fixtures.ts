// A root CA and node certificates made once per test file (key generation is the slow part).
import { createNodeKey } from "../../../manager/ca/csr.js";
import type { NodeIdentity } from "../../../manager/ca/identity.js";
import { RootCA } from "../../../manager/ca/root-ca.js";
import { NodeRole } from "../../../proto/gen/cluster.js";

export const CLUSTER = "cluster1";
export const manager = (nodeId = "node-m1"): NodeIdentity => ({ nodeId, role: NodeRole.NODE_ROLE_MANAGER, clusterId: CLUSTER });
export const worker = (nodeId = "node-w1"): NodeIdentity => ({ nodeId, role: NodeRole.NODE_ROLE_WORKER, clusterId: CLUSTER });

/** Key, CSR and the certificate `root` signs for `identity`. */
export async function issued(root: RootCA, identity: NodeIdentity, opts: { validityMs?: number; now?: number } = {}) {
  const key = await createNodeKey();
  return { ...key, certPem: await root.issue(key.csrPem, identity, opts) };
}
