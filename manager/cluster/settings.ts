// `swarm update` and `swarm unlock-key`: swarm-wide security settings in the cluster object.
// The certificate validity applies from each node's next certificate; autolock and its key are
// followed by every manager, which reseals its own keys (manager/ca/autolock.ts).
import { status } from "@grpc/grpc-js";
import type { Cluster } from "../../proto/gen/cluster.js";
import type { UnlockKeyRequest, UnlockKeyResponse, UpdateClusterRequest, UpdateClusterResponse } from "../../proto/gen/swarm.js";
import { wantedUnlockKey, withAutolock } from "../ca/autolock.js";
import { newUnlockKey } from "../ca/encryption.js";
import { checkNodeCertValidity } from "../ca/signer.js";
import { ConflictError } from "../store/errors.js";
import type { Store, WriteTx } from "../store/types.js";
import { ClusterError } from "./services.js";

const RETRIES = 3;

function clusterIn(tx: WriteTx): Cluster {
  const c = tx.find("cluster")[0];
  if (!c) throw new ClusterError(status.UNAVAILABLE, "the swarm is still starting: try again in a moment");
  return c;
}

/** A read-change-write of the cluster object, again on a conflict with another writer. */
async function changeCluster<T>(store: Store, fn: (c: Cluster) => { next?: Cluster; answer: T }): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.update((tx) => {
        const { next, answer } = fn(clusterIn(tx));
        if (next) tx.update("cluster", next);
        return answer;
      });
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= RETRIES) throw err;
    }
  }
}

export async function updateCluster(store: Store, req: UpdateClusterRequest): Promise<UpdateClusterResponse> {
  try {
    checkNodeCertValidity(req.nodeCertExpiryMs);
  } catch (err) {
    throw new ClusterError(status.INVALID_ARGUMENT, (err as Error).message);
  }
  return changeCluster(store, (c) => {
    let next = c;
    if (req.nodeCertExpiryMs) next = { ...next, spec: { ...next.spec!, ca: { ...next.spec?.ca, nodeCertExpiryMs: req.nodeCertExpiryMs } } };
    const wasLocked = wantedUnlockKey(c) !== undefined;
    if (req.setAutolock) next = withAutolock(next, req.autolock);
    // The key is shown when autolock is turned on, as docker does; afterwards only by unlock-key.
    const unlockKey = req.setAutolock && req.autolock && !wasLocked ? wantedUnlockKey(next)! : "";
    return { next: next === c ? undefined : next, answer: { unlockKey } };
  });
}

export function unlockKey(store: Store, req: UnlockKeyRequest): Promise<UnlockKeyResponse> {
  return changeCluster(store, (c) => {
    const key = wantedUnlockKey(c);
    if (key === undefined) throw new ClusterError(status.FAILED_PRECONDITION, 'this swarm is not locked, so it has no unlock key: turn autolock on with "shoal swarm update --autolock=true"');
    if (!req.rotate) return { answer: { unlockKey: key } };
    const rotated = newUnlockKey();
    return { next: { ...c, autolock: { unlockKey: rotated } }, answer: { unlockKey: rotated } };
  });
}
