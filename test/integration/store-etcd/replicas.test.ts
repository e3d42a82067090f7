// Two store instances on one prefix, as two managers would hold: both see every change in the
// same order at the same versions, etcd decides conflicts and names between them, and a replica
// cut off past a compaction catches up by re-reading.
import { describe, expect, it } from "vitest";
import { ConflictError, NameConflictError } from "../../../manager/store/errors.js";
import { byName } from "../../../manager/store/types.js";
import type { StoreEvent } from "../../../manager/store/types.js";
import { KeyLayout } from "../../../manager/store/etcd/keys.js";
import { EtcdStore } from "../../../manager/store/etcd/store.js";
import { Reachability, connectEtcd } from "../../../manager/store/etcd/client.js";
import { etcdHarness, service, until } from "./harness.js";

const h = etcdHarness();

/** Waits until both replicas have applied the same last change. */
const synced = (a: EtcdStore, b: EtcdStore) => until(() => a.store.version === b.store.version, "both replicas are at one version");

const summary = (e: StoreEvent) => `${e.version}:${e.action}:${(e.new ?? e.old)!.id}:${(e.new as { specVersion?: number } | undefined)?.specVersion ?? "-"}`;

describe("etcd store: two instances on one prefix", () => {
  it("deliver every change to both in one order, at etcd's revisions", async () => {
    const prefix = h.freshPrefix();
    const [a, b] = [await h.open(prefix), await h.open(prefix)];
    const seen: [StoreEvent[], StoreEvent[]] = [[], []];
    a.store.subscribe((es) => seen[0].push(...es));
    b.store.subscribe((es) => seen[1].push(...es));
    // Both write at once, each bumping its own services.
    const ids = await Promise.all([a, b].map((s, i) => s.store.update((tx) => tx.create("service", service(`svc-${i}`)))));
    await Promise.all(
      [a, b].map(async (s, i) => {
        for (let n = 2; n <= 20; n++) {
          await s.store.update((tx) => {
            const x = structuredClone(tx.get("service", ids[i])!);
            x.specVersion = n;
            tx.update("service", x);
          });
        }
      }),
    );
    await synced(a, b);
    expect(seen[0].length).toBe(40);
    expect(seen[0].map(summary)).toEqual(seen[1].map(summary));
    const versions = seen[0].map((e) => e.version);
    expect([...versions].sort((x, y) => x - y)).toEqual(versions);

    // meta.version is the key's mod revision in etcd.
    const raw = await h.client().kv.range({ key: new KeyLayout(prefix).object("service", ids[0]) });
    expect(a.store.view((tx) => tx.get("service", ids[0])!.meta!.version)).toBe(Number(raw.kvs[0].mod_revision));
  });

  it("let exactly one of two concurrent updates of an object win; the other gets ConflictError", async () => {
    const prefix = h.freshPrefix();
    const [a, b] = [await h.open(prefix), await h.open(prefix)];
    const id = await a.store.update((tx) => tx.create("service", service("web")));
    await until(() => !!b.store.view((tx) => tx.get("service", id)), "b sees the service");
    const bump = (s: EtcdStore, n: number) =>
      s.store.update((tx) => {
        const x = structuredClone(tx.get("service", id)!);
        x.specVersion = n;
        tx.update("service", x);
      });
    const results = await Promise.allSettled([bump(a, 2), bump(b, 3)]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won.length).toBe(1);
    expect(lost[0].reason).toBeInstanceOf(ConflictError);
    await synced(a, b);
    const winner = results[0].status === "fulfilled" ? 2 : 3;
    expect(b.store.view((tx) => tx.get("service", id)!.specVersion)).toBe(winner);
    // The loser reads again and retries: now it goes through.
    const loser = winner === 2 ? b : a;
    await bump(loser, 4);
    await synced(a, b);
    expect(a.store.view((tx) => tx.get("service", id)!.specVersion)).toBe(4);
  });

  it("refuse a name taken by the other instance, even before its replica has seen it", async () => {
    const prefix = h.freshPrefix();
    const [a, b] = [await h.open(prefix), await h.open(prefix)];
    const results = await Promise.allSettled([a, b].map((s) => s.store.update((tx) => tx.create("service", service("Web")))));
    expect(results.filter((r) => r.status === "fulfilled").length).toBe(1);
    expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(NameConflictError);
    // A freed name can be taken again, and a rename frees the old name.
    await until(() => b.store.view((tx) => tx.find("service", byName("web")).length) === 1, "b sees the service");
    const id = b.store.view((tx) => tx.find("service", byName("web"))[0].id);
    await b.store.update((tx) => {
      const x = structuredClone(tx.get("service", id)!);
      x.spec!.annotations!.name = "api";
      tx.update("service", x);
    });
    await synced(a, b);
    await a.store.update((tx) => tx.create("service", service("web")));
    await expect(a.store.update((tx) => tx.create("service", service("API")))).rejects.toBeInstanceOf(NameConflictError);
    await b.store.update((tx) => tx.delete("service", id));
    await synced(a, b);
    await a.store.update((tx) => tx.create("service", service("api")));
    await until(() => b.store.view((tx) => tx.find("service").length) === 2, "b sees both services");
  });

  it("catch up a replica cut off past a compaction, with events for what changed", async () => {
    const prefix = h.freshPrefix();
    const c = h.cluster;
    const lines: string[] = [];
    // `cut` talks to the third member only, so killing that member cuts it off from etcd.
    const cut = new EtcdStore({ client: connectEtcd({ endpoints: [c.members[2].clientUrl] }), keys: new KeyLayout(prefix), reach: new Reachability("store", [c.members[2].clientUrl], (l) => lines.push(l)), log: (l) => lines.push(l) });
    await cut.start();
    const other = await h.open(prefix);
    try {
      const kept = await other.store.update((tx) => tx.create("service", service("kept")));
      const gone = await other.store.update((tx) => tx.create("service", service("gone")));
      await until(() => cut.store.view((tx) => tx.find("service").length) === 2, "the cut-off replica has both services");
      const events: StoreEvent[] = [];
      cut.store.subscribe((es) => events.push(...es));

      await c.kill(2);
      await until(() => lines.some((l) => l.includes("cannot reach etcd")), `the cut-off replica says etcd is unreachable (it said: ${lines.join(" / ")})`);
      await other.store.update((tx) => {
        const x = structuredClone(tx.get("service", kept)!);
        x.specVersion = 7;
        tx.update("service", x);
        tx.delete("service", gone);
        tx.create("service", service("new"));
      });
      const head = await h.client().kv.range({ key: Buffer.from("/") });
      await h.client().kv.compact({ revision: head.header.revision, physical: true });
      c.restart(2);

      await until(() => cut.store.view((tx) => tx.find("service").length) === 2 && !!cut.store.view((tx) => tx.find("service", byName("new"))[0]), `the replica caught up (it said: ${lines.join(" / ")}; member alive ${c.members[2].alive}: ${c.members[2].log.slice(-1500)}; it has ${cut.store.view((tx) => tx.find("service").map((s) => s.spec?.annotations?.name).join(","))})`, 20_000);
      expect(lines.some((l) => l.includes("re-reading the store from etcd"))).toBe(true);
      expect(lines.filter((l) => l.includes("cannot reach etcd")).length).toBe(1);
      expect(cut.store.view((tx) => tx.get("service", kept)!.specVersion)).toBe(7);
      expect(events.map((e) => e.action).sort()).toEqual(["create", "delete", "update"]);
      // Versions are still the keys' mod revisions, so writes from the caught-up replica go through.
      await cut.store.update((tx) => {
        const x = structuredClone(tx.get("service", kept)!);
        x.specVersion = 8;
        tx.update("service", x);
      });
      await until(() => other.store.view((tx) => tx.get("service", kept)!.specVersion) === 8, "the other replica sees the write");
    } finally {
      cut.stop();
    }
  });
});
