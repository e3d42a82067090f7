// Catching a replica up from a fresh read of etcd when the watch history it needed was compacted
// away (pure). The change sets in between are lost, so it replays the difference: each changed
// object at its own mod revision, lowest first, with the removals in the first change set (they
// only free names). Versions then still equal etcd's mod revisions, so later compares hold.
import { StoreActionKind, type ChangeSet, type StoreSnapshot } from "../../../proto/gen/cluster.js";
import { KINDS, type Kind, type StoreObject, toAction } from "../kinds.js";

export interface Replica {
  get(kind: Kind, id: string): StoreObject | undefined;
  find(kind: Kind): StoreObject[];
}

export const SNAPSHOT_FIELD = { cluster: "clusters", node: "nodes", service: "services", task: "tasks", network: "networks" } as const satisfies Record<Kind, keyof StoreSnapshot>;

/** Change sets, each with the version to apply it at, that take `replica` to `loaded`. */
export function catchUp(replica: Replica, loaded: StoreSnapshot): { cs: ChangeSet; version: number }[] {
  const byRevision = new Map<number, ChangeSet>();
  const removals: ChangeSet["actions"] = [];
  for (const kind of KINDS) {
    const fresh = loaded[SNAPSHOT_FIELD[kind]] as StoreObject[];
    const seen = new Set<string>();
    for (const o of fresh) {
      seen.add(o.id);
      const current = replica.get(kind, o.id);
      const revision = o.meta?.version ?? 0;
      if (current && current.meta?.version === revision) continue;
      let cs = byRevision.get(revision);
      if (!cs) byRevision.set(revision, (cs = { actions: [], timestamp: o.meta?.updatedAt ?? 0 }));
      if (!current) cs.actions.push(toAction(StoreActionKind.STORE_ACTION_CREATE, kind, o));
      // Applying compares the version it was read at: the replica's own.
      else cs.actions.push(toAction(StoreActionKind.STORE_ACTION_UPDATE, kind, { ...o, meta: { ...o.meta!, version: current.meta?.version ?? 0 } }));
    }
    for (const o of replica.find(kind)) if (!seen.has(o.id)) removals.push(toAction(StoreActionKind.STORE_ACTION_REMOVE, kind, o));
  }
  const out = [...byRevision].sort(([a], [b]) => a - b).map(([version, cs]) => ({ cs, version }));
  if (removals.length === 0) return out;
  if (out.length === 0) return [{ cs: { actions: removals, timestamp: 0 }, version: loaded.version }];
  out[0].cs.actions.unshift(...removals);
  return out;
}
