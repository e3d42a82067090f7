// `swarm join-token [--rotate]`: the cluster's join tokens, and new ones on request. A rotated
// token refuses joins at once; nodes already in the swarm keep their identities.
import type { Cluster } from "../../proto/gen/cluster.js";
import type { JoinTokensRequest, JoinTokensResponse } from "../../proto/gen/swarm.js";
import { makeJoinToken } from "../ca/tokens.js";
import type { ReadTx, WriteTx } from "../store/types.js";
import { unavailable } from "./errors.js";

export function clusterOf(tx: ReadTx): Cluster {
  const c = tx.find("cluster")[0];
  if (!c) throw unavailable("the swarm is still starting: try again in a moment");
  return c;
}

/** The tokens after rotating those asked for; `fingerprint` is what a token pins (the root CA's). */
export function joinTokens(tx: WriteTx, req: JoinTokensRequest, fingerprint: (c: Cluster) => string): JoinTokensResponse {
  const cluster = clusterOf(tx);
  const cur = cluster.joinTokens ?? { worker: "", manager: "" };
  if (!req.rotateWorker && !req.rotateManager && cur.worker && cur.manager) return { worker: cur.worker, manager: cur.manager };
  // A missing token is made too: a swarm always has both.
  const worker = req.rotateWorker || !cur.worker ? makeJoinToken(fingerprint(cluster)) : cur.worker;
  const manager = req.rotateManager || !cur.manager ? makeJoinToken(fingerprint(cluster)) : cur.manager;
  tx.update("cluster", { ...cluster, joinTokens: { worker, manager } });
  return { worker, manager };
}
