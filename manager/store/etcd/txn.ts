// A change set as one etcd transaction (pure; no I/O). Optimistic concurrency: each object it
// touches is compared on the mod revision it was read at (a create: on create revision 0, the key
// is absent); each unique name it takes is compared absent; and a fenced writer's election key is
// compared on the create revision it won with. Then every write, or none. The failure branch
// reads back every key involved, so a refusal can say exactly why.
import type { ICompare, IKeyValue, IRequestOp, IResponseOp, ITxnRequest } from "etcd3";
import { StoreActionKind, type ChangeSet } from "../../../proto/gen/cluster.js";
import { ConflictError, ExistsError, NameConflictError, NotFoundError } from "../errors.js";
import { type Kind, type StoreObject, UNIQUE_NAMES, fromAction, nameOf } from "../kinds.js";
import { encodeObject } from "./codec.js";
import { NotLeaderError } from "./errors.js";
import type { KeyLayout } from "./keys.js";

/** What a fenced writer proves it still holds: its election key, at the revision it was created. */
export interface Fence {
  key: Buffer;
  createRevision: number;
}

/** What one compare stands for, to say why a refused transaction was refused. */
type Check =
  | { on: "object"; key: Buffer; kind: Kind; id: string; had: number | "absent" }
  | { on: "name"; key: Buffer; kind: Kind; name: string }
  | { on: "fence"; key: Buffer; createRevision: number };

/** A key the transaction writes, and what it leaves there (null: deleted). */
interface Write {
  key: Buffer;
  value: Buffer | null;
}

export interface TxnPlan {
  request: ITxnRequest;
  /** The most operations in any one of compare, success and failure (etcd bounds each). */
  ops: number;
  checks: Check[];
  writes: Write[];
  /** The keys the failure branch reads, in its order. */
  readBack: Buffer[];
}

/** Reads the local replica: the objects as the change set's writer saw them. */
export interface Below {
  get(kind: Kind, id: string): StoreObject | undefined;
}

/**
 * Plans the transaction for `cs`. Throws, writing nothing, what needs no round trip to know: an
 * update or delete of an object read without a version always conflicts, as in every backend.
 */
export function planTxn(cs: ChangeSet, below: Below, keys: KeyLayout, fence?: Fence): TxnPlan {
  const checks: Check[] = [];
  const writes: Write[] = [];
  const names = new Map<string, { kind: Kind; name: string; claim?: string; released: boolean }>();
  const nameEntry = (kind: Kind, name: string) => {
    const k = `${kind}\u0000${name.toLowerCase()}`;
    let e = names.get(k);
    if (!e) names.set(k, (e = { kind, name, released: false }));
    return e;
  };
  for (const a of cs.actions) {
    const { kind, object } = fromAction(a);
    const key = keys.object(kind, object.id);
    const current = below.get(kind, object.id);
    if (a.action === StoreActionKind.STORE_ACTION_CREATE) {
      checks.push({ on: "object", key, kind, id: object.id, had: "absent" });
      writes.push({ key, value: encodeObject(kind, object, cs.timestamp, cs.timestamp) });
    } else {
      const had = object.meta?.version ?? 0;
      if (had === 0) throw current ? new ConflictError(kind, object.id, 0, current.meta?.version ?? 0) : new NotFoundError(kind, object.id);
      checks.push({ on: "object", key, kind, id: object.id, had });
      const removed = a.action === StoreActionKind.STORE_ACTION_REMOVE;
      writes.push({ key, value: removed ? null : encodeObject(kind, object, current?.meta?.createdAt ?? cs.timestamp, cs.timestamp) });
    }
    if (!UNIQUE_NAMES.has(kind)) continue;
    const before = a.action === StoreActionKind.STORE_ACTION_CREATE ? "" : nameOf(kind, current ?? object);
    const after = a.action === StoreActionKind.STORE_ACTION_REMOVE ? "" : nameOf(kind, object);
    if (before.toLowerCase() === after.toLowerCase()) continue;
    if (before) nameEntry(kind, before).released = true;
    if (after) nameEntry(kind, after).claim = object.id;
  }
  for (const e of names.values()) {
    const key = keys.name(e.kind, e.name);
    // A name another write of this change set gives up needs no compare: that object's own
    // compare already proves it still held the name.
    if (e.claim !== undefined && !e.released) checks.push({ on: "name", key, kind: e.kind, name: e.name });
    if (e.claim !== undefined) writes.push({ key, value: Buffer.from(e.claim) });
    else writes.push({ key, value: null });
  }
  if (fence) checks.push({ on: "fence", key: fence.key, createRevision: fence.createRevision });

  const compare: ICompare[] = checks.map((c) => {
    if (c.on === "fence") return { key: c.key, target: "Create", result: "Equal", create_revision: c.createRevision };
    if (c.on === "name" || c.had === "absent") return { key: c.key, target: "Create", result: "Equal", create_revision: 0 };
    return { key: c.key, target: "Mod", result: "Equal", mod_revision: c.had };
  });
  const success: IRequestOp[] = writes.map((w) => (w.value ? { request_put: { key: w.key, value: w.value } } : { request_delete_range: { key: w.key } }));
  const readBack = distinct([...checks.map((c) => c.key), ...writes.map((w) => w.key)]);
  const failure: IRequestOp[] = readBack.map((key) => ({ request_range: { key } }));
  return { request: { compare, success, failure }, ops: Math.max(compare.length, success.length, failure.length), checks, writes, readBack };
}

export type Verdict = { landed: true; revision?: number } | { landed: false; error: Error };

/**
 * Why etcd refused the plan, from the failure branch's read-back. `resent`: this is a resend after
 * an answer was lost, so if every key already holds exactly what the plan writes, it is the first
 * send that committed (at `revision`, if the plan puts anything).
 */
export function judge(plan: TxnPlan, responses: IResponseOp[], resent: boolean): Verdict {
  const now = new Map<string, IKeyValue | undefined>();
  plan.readBack.forEach((key, i) => now.set(key.toString("latin1"), responses[i]?.response_range?.kvs[0]));
  const at = (key: Buffer) => now.get(key.toString("latin1"));
  if (resent) {
    const landed = hasLanded(plan.writes, at);
    if (landed) return landed;
  }
  const fence = plan.checks.find((c) => c.on === "fence");
  if (fence && Number(at(fence.key)?.create_revision ?? 0) !== fence.createRevision) return { landed: false, error: new NotLeaderError() };
  for (const c of plan.checks) {
    const kv = at(c.key);
    if (c.on === "name" && kv) return { landed: false, error: new NameConflictError(c.kind, c.name) };
    if (c.on !== "object") continue;
    if (c.had === "absent") {
      if (kv) return { landed: false, error: new ExistsError(c.kind, c.id) };
    } else if (!kv) {
      return { landed: false, error: new NotFoundError(c.kind, c.id) };
    } else if (Number(kv.mod_revision) !== c.had) {
      return { landed: false, error: new ConflictError(c.kind, c.id, c.had, Number(kv.mod_revision)) };
    }
  }
  // Compares and read-back are one atomic step, so one of them must differ; say so plainly if not.
  return { landed: false, error: new Error("etcd refused the change although every compared key looks unchanged: read again and retry") };
}

/** Every key holds what the plan writes, and every put shares one revision (one transaction's). */
function hasLanded(writes: Write[], at: (key: Buffer) => IKeyValue | undefined): Verdict | undefined {
  let revision: number | undefined;
  for (const w of writes) {
    const kv = at(w.key);
    if (w.value === null) {
      if (kv) return undefined;
      continue;
    }
    if (!kv || !Buffer.from(kv.value).equals(w.value)) return undefined;
    const r = Number(kv.mod_revision);
    if (revision !== undefined && r !== revision) return undefined;
    revision = r;
  }
  return { landed: true, revision };
}

function distinct(keys: Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return keys.filter((k) => {
    const s = k.toString("latin1");
    if (seen.has(s)) return false;
    seen.add(s);
    return true;
  });
}
