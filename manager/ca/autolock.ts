// Autolock across the managers: the store says whether the swarm is locked and under which
// unlock key (`swarm init --autolock`, `swarm update --autolock`, `swarm unlock-key --rotate`);
// each manager keeps its own sealed files (TLS key, Raft key) under that key, and reseals them
// when it changes. A manager that is down meanwhile still opens with the key it was sealed under.
import type { Cluster } from "../../proto/gen/cluster.js";
import type { Store } from "../store/types.js";
import { newUnlockKey } from "./encryption.js";

/** The unlock key the swarm wants its managers sealed under; undefined: autolock is off. */
export function wantedUnlockKey(cluster: Cluster): string | undefined {
  if (!cluster.spec?.encryption?.autoLockManagers) return undefined;
  return cluster.autolock?.unlockKey || undefined;
}

/** The cluster with autolock turned on (a new key, unless it has one) or off. */
export function withAutolock(cluster: Cluster, on: boolean): Cluster {
  const spec = { ...cluster.spec!, encryption: { autoLockManagers: on } };
  if (!on) return { ...cluster, spec, autolock: undefined };
  return { ...cluster, spec, autolock: { unlockKey: cluster.autolock?.unlockKey || newUnlockKey() } };
}

/** A manager's sealed files, as the follower needs them. */
export interface SealedFiles {
  /** The unlock key they are sealed under now (undefined: in clear). */
  readonly unlockKey: string | undefined;
  /** Seals them all under `to` (undefined: in clear). */
  reseal(to: string | undefined): void;
}

/**
 * Keeps `files` sealed as the store's cluster object says, from now on; returns the way to
 * stop. Nothing happens while the store holds no cluster yet (a manager still catching up).
 */
export function followAutolock(store: Store, files: SealedFiles, log: (line: string) => void): () => void {
  const check = () => {
    const cluster = store.view((tx) => tx.find("cluster")[0]);
    if (!cluster) return;
    const want = wantedUnlockKey(cluster);
    if (want === files.unlockKey) return;
    const was = files.unlockKey;
    try {
      files.reseal(want);
      log(`ca: this manager's keys are now ${want === undefined ? "stored in clear (autolock off)" : was === undefined ? "sealed under the unlock key (autolock on)" : "sealed under the rotated unlock key"}`);
    } catch (err) {
      log(`ca: resealing this manager's keys: ${(err as Error).message}`);
    }
  };
  const off = store.subscribe(check, { kinds: ["cluster"] });
  check();
  return off;
}
