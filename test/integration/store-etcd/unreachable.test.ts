// etcd unreachable at start or later: one clear line, retries until it answers, and nothing
// half-written. Stores here talk to one member only, so killing it cuts them off.
import { describe, expect, it } from "vitest";
import { TaskState } from "../../../proto/gen/cluster.js";
import { Reachability, connectEtcd } from "../../../manager/store/etcd/client.js";
import { EtcdUnavailableError, TxnTooLargeError } from "../../../manager/store/etcd/errors.js";
import { KeyLayout } from "../../../manager/store/etcd/keys.js";
import { EtcdStore } from "../../../manager/store/etcd/store.js";
import { etcdHarness, service, until } from "./harness.js";

const h = etcdHarness();

function cutOffStore(prefix: string, lines: string[], writeTimeoutMs?: number): EtcdStore {
  const url = h.cluster.members[2].clientUrl;
  const log = (l: string) => lines.push(l);
  return new EtcdStore({ client: connectEtcd({ endpoints: [url] }), keys: new KeyLayout(prefix), reach: new Reachability("store", [url], log), log, writeTimeoutMs });
}

describe("etcd store when etcd cannot be reached", () => {
  it("says so in one line at start, and starts once etcd answers", async () => {
    const prefix = h.freshPrefix();
    const other = await h.open(prefix);
    await other.store.update((tx) => tx.create("service", service("web")));
    await h.cluster.kill(2);
    const lines: string[] = [];
    const s = cutOffStore(prefix, lines);
    let started = false;
    const starting = s.start().then(() => (started = true));
    await until(() => lines.length > 0, "the store says etcd is unreachable");
    expect(started).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^store: cannot reach etcd at http:\/\/127\.0\.0\.1:\d+ \(.+\); retrying until it answers$/);
    h.cluster.restart(2);
    await starting;
    expect(lines.at(-1)).toBe("store: etcd answers again");
    expect(s.store.view((tx) => tx.find("service").length)).toBe(1);
    s.stop();
  });

  it("fails a write with one line once etcd stays unreachable, and writes none of it", async () => {
    const prefix = h.freshPrefix();
    const lines: string[] = [];
    const s = cutOffStore(prefix, lines, 1500);
    await s.start();
    await h.cluster.kill(2);
    const err = await s.store
      .update((tx) => {
        tx.create("service", service("web"));
        tx.create("service", service("api"));
      })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(EtcdUnavailableError);
    expect((err as Error).message).not.toContain("\n");
    expect((err as EtcdUnavailableError).maybeWritten).toBe(false);
    expect(lines.filter((l) => l.includes("cannot reach etcd")).length).toBeLessThanOrEqual(1);
    h.cluster.restart(2);
    const fresh = await h.open(prefix);
    expect(fresh.store.view((tx) => tx.find("service").length)).toBe(0);
    // And once etcd is back, the same store writes again.
    await until(() => lines.at(-1) === "store: etcd answers again", "the store says etcd answers again", 30_000);
    await s.store.update((tx) => tx.create("service", service("web")));
    s.stop();
  });

  it("refuses whole a transaction larger than etcd allows", async () => {
    const s = await h.open();
    const sid = await s.store.update((tx) => tx.create("service", service("web")));
    const err = await s.store
      .update((tx) => {
        for (let slot = 1; slot <= 200; slot++) {
          tx.create("task", { id: "", serviceId: sid, slot, nodeId: "", specVersion: 1, desiredState: TaskState.TASK_STATE_RUNNING, networks: [], assignedGenericResources: [] });
        }
      })
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(TxnTooLargeError);
    expect(s.store.view((tx) => tx.find("task").length)).toBe(0);
  });

  it("says what is wrong with endpoints or TLS files in one line", () => {
    expect(() => connectEtcd({ endpoints: [] })).toThrow(/no etcd endpoints/);
    expect(() => connectEtcd({ endpoints: ["127.0.0.1:2379"] })).toThrow(/is not a URL/);
    expect(() => connectEtcd({ endpoints: ["http://a:2379", "https://b:2379"] })).toThrow(/mix http/);
    expect(() => connectEtcd({ endpoints: ["https://a:2379"], tls: { caFile: "/nonexistent/ca.pem" } })).toThrow("etcd TLS: cannot read --etcd-ca /nonexistent/ca.pem: ENOENT");
    expect(() => connectEtcd({ endpoints: ["https://a:2379"], tls: { certFile: "/x.pem" } })).toThrow(/both --etcd-cert and --etcd-key/);
  });
});
