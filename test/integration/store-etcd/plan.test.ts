// The pure parts of the etcd store, without etcd: how a change set becomes one transaction, how
// a refusal is explained (or found to be our own earlier send), and how a replica catches up.
import { describe, expect, it } from "vitest";
import type { IKeyValue, IResponseOp } from "etcd3";
import { StoreActionKind, type ChangeSet, type Service, type StoreSnapshot } from "../../../proto/gen/cluster.js";
import { ConflictError, NameConflictError } from "../../../manager/store/errors.js";
import { toAction, type Kind, type StoreObject } from "../../../manager/store/kinds.js";
import { catchUp } from "../../../manager/store/etcd/catchup.js";
import { NotLeaderError } from "../../../manager/store/etcd/errors.js";
import { KeyLayout } from "../../../manager/store/etcd/keys.js";
import { judge, planTxn, type TxnPlan } from "../../../manager/store/etcd/txn.js";

const keys = new KeyLayout("/s/");
const svc = (id: string, name: string, version = 0): Service => ({ id, spec: { annotations: { name, labels: {} } }, specVersion: 1, meta: { version, createdAt: 1, updatedAt: 1 } });
const below = (...objs: Service[]) => {
  const m = new Map(objs.map((o) => [o.id, o]));
  return { get: (k: Kind, id: string) => (k === "service" ? m.get(id) : undefined) as StoreObject | undefined, find: (k: Kind) => (k === "service" ? [...m.values()] : []) as StoreObject[] };
};
const cs = (...actions: [StoreActionKind, Service][]): ChangeSet => ({ actions: actions.map(([a, o]) => toAction(a, "service", o)), timestamp: 7 });
const ops = (p: TxnPlan) => p.request.success!.map((o) => (o.request_put ? `put ${o.request_put.key!.toString()}` : `del ${o.request_delete_range!.key!.toString()}`));
/** The failure branch's read-back, as etcd would answer it, from key → [mod revision, value]. */
const readBack = (p: TxnPlan, now: Record<string, [number, Buffer | string]>): IResponseOp[] =>
  p.readBack.map((k) => {
    const v = now[k.toString()];
    const kvs = v ? [{ key: k, mod_revision: String(v[0]), create_revision: String(v[0]), value: Buffer.from(v[1]) } as IKeyValue] : [];
    return { response_range: { kvs } } as unknown as IResponseOp;
  });

describe("etcd transaction plans", () => {
  it("compare what each write read and take names in etcd", () => {
    const create = planTxn(cs([StoreActionKind.STORE_ACTION_CREATE, svc("a", "Web")]), below(), keys);
    expect(create.request.compare).toEqual([
      { key: keys.object("service", "a"), target: "Create", result: "Equal", create_revision: 0 },
      { key: keys.name("service", "web"), target: "Create", result: "Equal", create_revision: 0 },
    ]);
    expect(ops(create)).toEqual(["put /s/objects/service/a", "put /s/names/service/web"]);

    const renamed = planTxn(cs([StoreActionKind.STORE_ACTION_UPDATE, svc("a", "api", 5)]), below(svc("a", "web", 5)), keys, { key: Buffer.from("/s/election/1"), createRevision: 3 });
    expect(renamed.request.compare!.map((c) => [c.key!.toString(), c.target, c.mod_revision ?? c.create_revision])).toEqual([
      ["/s/objects/service/a", "Mod", 5],
      ["/s/names/service/api", "Create", 0],
      ["/s/election/1", "Create", 3],
    ]);
    expect(ops(renamed).sort()).toEqual(["del /s/names/service/web", "put /s/names/service/api", "put /s/objects/service/a"]);
  });

  it("hand a name from a removed object to a new one without touching its key twice", () => {
    const p = planTxn(cs([StoreActionKind.STORE_ACTION_REMOVE, svc("a", "web", 5)], [StoreActionKind.STORE_ACTION_CREATE, svc("b", "web")]), below(svc("a", "web", 5)), keys);
    expect(ops(p)).toEqual(["del /s/objects/service/a", "put /s/objects/service/b", "put /s/names/service/web"]);
    expect(p.request.compare!.some((c) => c.key!.toString() === "/s/names/service/web")).toBe(false);
  });

  it("say why etcd refused: a newer version, a taken name, a lost election key", () => {
    const p = planTxn(cs([StoreActionKind.STORE_ACTION_UPDATE, svc("a", "web", 5)], [StoreActionKind.STORE_ACTION_CREATE, svc("b", "api")]), below(svc("a", "web", 5)), keys, { key: Buffer.from("/s/election/1"), createRevision: 3 });
    const fenceHeld: Record<string, [number, string]> = { "/s/election/1": [3, "addr"] };
    const conflict = judge(p, readBack(p, { ...fenceHeld, "/s/objects/service/a": [9, "x"] }), false);
    expect(!conflict.landed && conflict.error).toBeInstanceOf(ConflictError);
    expect(!conflict.landed && conflict.error.message).toContain("version 9, you had 5");
    const named = judge(p, readBack(p, { ...fenceHeld, "/s/objects/service/a": [5, "x"], "/s/names/service/api": [8, "c"] }), false);
    expect(!named.landed && named.error).toBeInstanceOf(NameConflictError);
    const fenced = judge(p, readBack(p, { "/s/objects/service/a": [9, "x"] }), false);
    expect(!fenced.landed && fenced.error).toBeInstanceOf(NotLeaderError);
  });

  it("recognise, on a resend, that the first send committed", () => {
    const p = planTxn(cs([StoreActionKind.STORE_ACTION_CREATE, svc("a", "web")]), below(), keys);
    const mine = Object.fromEntries(p.writes.map((w) => [w.key.toString(), [12, w.value!] as [number, Buffer]]));
    expect(judge(p, readBack(p, mine), true)).toEqual({ landed: true, revision: 12 });
    // The same state on a first send is someone else's: refused.
    expect(judge(p, readBack(p, mine), false).landed).toBe(false);
    // Keys written at different revisions are not one transaction's.
    const mixed = { ...mine, "/s/names/service/web": [13, Buffer.from("a")] as [number, Buffer] };
    expect(judge(p, readBack(p, mixed), true).landed).toBe(false);
  });
});

describe("catching a replica up after a compaction", () => {
  it("replays each change at its own revision, lowest first, removals first", () => {
    const replica = below(svc("kept", "kept", 4), svc("gone", "gone", 5), svc("same", "same", 3));
    const loaded: StoreSnapshot = { version: 20, clusters: [], nodes: [], tasks: [], networks: [], services: [svc("same", "same", 3), svc("new", "new", 11), svc("kept", "kept", 9)] };
    const steps = catchUp(replica, loaded);
    expect(steps.map((s) => s.version)).toEqual([9, 11]);
    expect(steps[0].cs.actions.map((a) => [a.action, a.target!.value.id])).toEqual([
      [StoreActionKind.STORE_ACTION_REMOVE, "gone"],
      [StoreActionKind.STORE_ACTION_UPDATE, "kept"],
    ]);
    // An update carries the version the replica holds, which is what applying compares.
    expect(steps[0].cs.actions[1].target!.value.meta!.version).toBe(4);
    expect(steps[1].cs.actions.map((a) => [a.action, a.target!.value.id])).toEqual([[StoreActionKind.STORE_ACTION_CREATE, "new"]]);
  });
});
