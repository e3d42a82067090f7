// The joining node's side of `swarm join`: it trusts nothing until the root CA the manager
// presents matches the digest in its token, makes its own key, and sends the token only over TLS
// pinned to that root, with a request for its certificate. The token's secret never reaches a
// server that could not prove it is a manager of the swarm the token names.
import { status } from "@grpc/grpc-js";
import type { NodeDescription } from "../../proto/gen/cluster.js";
import type { NodeJoinRequest, NodeJoinResponse } from "../../proto/gen/swarm.js";
import { NodeCertificates } from "../../manager/ca/certificates.js";
import { fetchRootCA, joinChannel } from "../../manager/ca/credentials.js";
import { createNodeKey } from "../../manager/ca/csr.js";
import { caDigest } from "../../manager/ca/root-ca.js";
import { CAMismatchError, checkJoinToken, JoinTokenError, verifyRootCA } from "../../manager/ca/tokens.js";
import { ClusterError } from "../../manager/cluster/services.js";
import { randomId } from "../../manager/store/memory.js";
import { atLeader } from "./dial.js";

export interface Joined {
  res: NodeJoinResponse;
  /** The manager that answered (the leader). */
  leader: string;
  certs: NodeCertificates;
}

export async function joinSwarm(remote: string, req: { token: string; addr: string; description: NodeDescription }): Promise<Joined> {
  let rootCaPem: string;
  try {
    checkJoinToken(req.token);
    rootCaPem = await fetchRootCA(remote);
    verifyRootCA(rootCaPem, req.token);
  } catch (err) {
    if (err instanceof JoinTokenError) throw new ClusterError(status.INVALID_ARGUMENT, err.message);
    if (err instanceof CAMismatchError) throw new ClusterError(status.PERMISSION_DENIED, err.message);
    throw new ClusterError(status.UNAVAILABLE, `${(err as Error).message}`);
  }
  const key = await createNodeKey();
  // The node picks its id, so that a join retried across a leader change finds the node it made;
  // the managers bind the id to this key.
  const join: NodeJoinRequest = { token: req.token, addr: req.addr, description: req.description, nodeId: randomId(), csr: key.csrPem };
  const { res: answer, leader } = await atLeader(remote, "join", join, joinChannel(rootCaPem));
  const res = answer as NodeJoinResponse;
  if (!res.certificate || !res.rootCa || !caDigest(res.rootCa).equals(caDigest(rootCaPem))) {
    throw new ClusterError(status.PERMISSION_DENIED, "the manager answered the join without a certificate under the swarm's root CA: check the manager's version");
  }
  const certs = await NodeCertificates.create({ rootCaPem, certPem: res.certificate, keyPem: key.keyPem });
  const id = certs.identity;
  if (id.nodeId !== res.nodeId || id.clusterId !== res.clusterId || id.role !== res.role) {
    throw new ClusterError(status.PERMISSION_DENIED, `the manager's answer names node ${res.nodeId} of swarm ${res.clusterId} but its certificate another identity`);
  }
  return { res, leader, certs };
}
