// What the etcd store tests share: one real 3-member etcd cluster per test file, and stores
// opened on it, each under its own prefix (so each starts empty) unless told to share one.
import { afterAll, beforeAll } from "vitest";
import type { Etcd3 } from "etcd3";
import type { Service } from "../../../proto/gen/cluster.js";
import { Reachability, connectEtcd } from "../../../manager/store/etcd/client.js";
import { KeyLayout } from "../../../manager/store/etcd/keys.js";
import { EtcdStore, type EtcdStoreOptions } from "../../../manager/store/etcd/store.js";
import { EtcdCluster } from "../../support/etcd.js";

export interface Harness {
  readonly cluster: EtcdCluster;
  /** A client on every member. */
  client(): Etcd3;
  /** A started store; `prefix` shares one store between instances (two managers). */
  open(prefix?: string, extra?: Partial<EtcdStoreOptions>): Promise<EtcdStore>;
  freshPrefix(): string;
  /** Log lines of every store opened, for asserting on what an operator sees. */
  readonly lines: string[];
}

export function etcdHarness(): Harness {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd3[] = [];
  const stores: EtcdStore[] = [];
  const lines: string[] = [];
  let n = 0;
  beforeAll(async () => {
    cluster = await EtcdCluster.start();
  });
  afterAll(async () => {
    for (const s of stores) s.stop();
    for (const c of clients) c.close();
    await cluster?.stop();
  });
  const h: Harness = {
    get cluster() {
      if (!cluster) throw new Error("the etcd cluster has not started");
      return cluster;
    },
    lines,
    client() {
      const c = connectEtcd({ endpoints: h.cluster.endpoints });
      clients.push(c);
      return c;
    },
    freshPrefix: () => `/shoal-test-${process.pid}-${n++}/`,
    async open(prefix = h.freshPrefix(), extra = {}) {
      const log = (l: string) => lines.push(l);
      const s = new EtcdStore({ client: h.client(), keys: new KeyLayout(prefix), reach: new Reachability("store", h.cluster.endpoints, log), log, ...extra });
      stores.push(s);
      await s.start();
      return s;
    },
  };
  return h;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `ok()` holds; throws `what` after `ms`. */
export async function until(ok: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

export function service(name: string): Service {
  return { id: "", spec: { annotations: { name, labels: {} }, mode: { $case: "replicated", value: { replicas: 1 } } }, specVersion: 1 };
}
