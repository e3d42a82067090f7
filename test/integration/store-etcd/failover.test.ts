// Killing etcd's leader (kill -9 of that member's process) while two stores write: no write that
// was acknowledged is lost, a write refused for certain was not written, and writes go on once
// etcd has a new leader.
import { describe, expect, it } from "vitest";
import { byName } from "../../../manager/store/types.js";
import { EtcdBackend } from "../../../manager/store/etcd/backend.js";
import { EtcdUnavailableError } from "../../../manager/store/etcd/errors.js";
import type { EtcdStore } from "../../../manager/store/etcd/store.js";
import { etcdHarness, service, sleep, until } from "./harness.js";

const h = etcdHarness();

/** Creates services one after another, `lanes` at a time, until stopped; remembers what happened to each. */
function writer(s: EtcdStore, tag: string, lanes = 4) {
  const acked = new Map<string, number>(); // name → when acknowledged
  const refused = new Map<string, Error>(); // name → why, when the store says for certain it was not written
  let n = 0;
  let stop = false;
  const done = Promise.all(
    Array.from({ length: lanes }, async () => {
      while (!stop) {
        const name = `${tag}-${n++}`;
        try {
          await s.store.update((tx) => tx.create("service", service(name)));
          acked.set(name, Date.now());
        } catch (err) {
          if (!(err instanceof EtcdUnavailableError && err.maybeWritten)) refused.set(name, err as Error);
        }
      }
    }),
  );
  return {
    acked,
    refused,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

describe("etcd store when etcd's leader is killed", () => {
  it("loses no acknowledged write and carries on under the new leader", async () => {
    const prefix = h.freshPrefix();
    const [a, b] = [await h.open(prefix), await h.open(prefix)];
    const writers = [writer(a, "a"), writer(b, "b")];
    await until(() => writers.every((w) => w.acked.size >= 20), "both stores have written");
    const victim = await h.cluster.leader();
    const killedAt = Date.now();
    await h.cluster.kill(victim);
    const next = await h.cluster.leader();
    expect(next).not.toBe(victim);
    await until(() => writers.every((w) => [...w.acked.values()].filter((t) => t > killedAt).length >= 20), "both stores write again under the new leader", 60_000);
    await sleep(200);
    await Promise.all(writers.map((w) => w.stop()));

    // What etcd holds, read by a store that saw none of it happen.
    const fresh = await h.open(prefix);
    const names = new Set(fresh.store.view((tx) => tx.find("service").map((x) => x.spec!.annotations!.name)));
    for (const w of writers) {
      expect([...w.acked.keys()].filter((n) => !names.has(n))).toEqual([]);
      expect([...w.refused.keys()].filter((n) => names.has(n))).toEqual([]);
    }
    // Both writers' replicas hold exactly what etcd holds.
    await until(() => a.store.version === fresh.store.version && b.store.version === fresh.store.version, "every replica is at etcd's version");
    for (const s of [a, b]) expect(s.store.view((tx) => tx.find("service").length)).toBe(names.size);
    expect(a.store.view((tx) => tx.find("service", byName([...names][0])).length)).toBe(1);
    h.cluster.restart(victim);
  });

  it("keeps one manager leading through etcd's change of leader", async () => {
    const prefix = h.freshPrefix();
    const bs = [1, 2].map((i) => new EtcdBackend({ endpoints: h.cluster.endpoints, prefix, addr: `10.0.2.${i}:2377`, log: (l) => h.lines.push(l) }));
    try {
      await Promise.all(bs.map((b) => b.start()));
      await until(() => bs.filter((b) => b.isLeader()).length === 1, "one manager leads");
      const victim = await h.cluster.leader();
      await h.cluster.kill(victim);
      await h.cluster.leader();
      await until(() => bs.filter((b) => b.isLeader()).length === 1, "one manager leads under etcd's new leader");
      const leader = bs.find((b) => b.isLeader())!;
      await leader.store.update((tx) => tx.create("service", service("after")));
      h.cluster.restart(victim);
    } finally {
      await Promise.all(bs.map((b) => b.stop()));
    }
  });
});
