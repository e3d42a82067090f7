// Leader election among managers through etcd: one leads at a time, a stopped or killed leader is
// replaced, and a stale leader's writes are refused by etcd itself (fencing).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { Election } from "../../../manager/election/election.js";
import { EtcdBackend } from "../../../manager/store/etcd/backend.js";
import { Reachability } from "../../../manager/store/etcd/client.js";
import { NotLeaderError } from "../../../manager/store/etcd/errors.js";
import { KeyLayout, prefixRange } from "../../../manager/store/etcd/keys.js";
import type { Fence } from "../../../manager/store/etcd/txn.js";
import { byName } from "../../../manager/store/types.js";
import { etcdHarness, service, until } from "./harness.js";

const h = etcdHarness();
const CANDIDATE = join(process.cwd(), "dist/test/integration/store-etcd/candidate.js");

const backends: EtcdBackend[] = [];
const procs: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.stop()));
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

async function managers(n: number, prefix: string): Promise<EtcdBackend[]> {
  const out: EtcdBackend[] = [];
  for (let i = 0; i < n; i++) {
    const b = new EtcdBackend({ endpoints: h.cluster.endpoints, prefix, addr: `10.0.0.${i + 1}:2377`, log: (l) => h.lines.push(l) });
    backends.push(b);
    out.push(b);
  }
  await Promise.all(out.map((b) => b.start()));
  return out;
}

const leaders = (bs: EtcdBackend[]) => bs.filter((b) => b.isLeader());

describe("etcd election among managers", () => {
  it("has one leader that every manager names; a stopped leader hands over at once", async () => {
    const bs = await managers(3, h.freshPrefix());
    // No two at once: count the managers whose control loops would be running.
    let running = 0;
    let most = 0;
    for (const b of bs) b.onLeadership((leads) => (most = Math.max(most, (running += leads ? 1 : -1))));
    await until(() => leaders(bs).length === 1, "one manager leads");
    const first = leaders(bs)[0];
    await until(() => bs.every((b) => b.leaderAddr() === first.managerAddrs()[0]), "every manager names the leader");
    await until(() => new Set(first.managerAddrs()).size === 3, "the leader knows all three managers");

    await first.stop();
    const rest = bs.filter((b) => b !== first);
    await until(() => leaders(rest).length === 1, "another manager leads");
    const second = leaders(rest)[0];
    await until(() => rest.every((b) => b.leaderAddr() === second.managerAddrs()[0]), "the rest name the new leader");
    // The new leader's writes go through; the follower's are refused before reaching etcd.
    await second.store.update((tx) => tx.create("service", service("web")));
    const follower = rest.find((b) => b !== second)!;
    await expect(follower.store.update((tx) => tx.create("service", service("api")))).rejects.toBeInstanceOf(NotLeaderError);
    expect(most).toBe(1);
  });

  it("replaces a leader killed with -9", async () => {
    if (!existsSync(CANDIDATE)) throw new Error(`${CANDIDATE} missing: build first with npx tsc -p tsconfig.json`);
    const prefix = h.freshPrefix();
    const start = (addr: string) => {
      const p = spawn(process.execPath, [CANDIDATE, h.cluster.endpoints.join(","), prefix, addr], { stdio: ["ignore", "pipe", "ignore"] });
      procs.push(p);
      const said: string[] = [];
      createInterface({ input: p.stdout! }).on("line", (l) => said.push(l));
      return { p, said, leading: () => said.at(-1) === "leading" };
    };
    const [a, b] = [start("10.0.1.1:2377"), start("10.0.1.2:2377")];
    // Both in line: two keys under the election prefix, the lowest create revision leading.
    const client = h.client();
    const line = async () => (await client.kv.range({ ...prefixRange(new KeyLayout(prefix).election), sort_target: "Create", sort_order: "Ascend" })).kvs.map((kv) => kv.value.toString());
    await until(async () => (await line()).length === 2 && (a.leading() || b.leading()), "both candidates are in line and one leads");
    const [holder, other] = a.leading() ? [a, b] : [b, a];
    holder.p.kill("SIGKILL");
    await until(() => other.leading(), "the other candidate leads");
    expect(await line()).toEqual([other === a ? "10.0.1.1:2377" : "10.0.1.2:2377"]);
  });

  it("refuses, in etcd, the writes of a leader whose lease ended", async () => {
    const prefix = h.freshPrefix();
    const keys = new KeyLayout(prefix);
    const client = h.client();
    const reach = new Reachability("election", h.cluster.endpoints, (l) => h.lines.push(l));
    const elect = (value: string) => new Election({ client, prefix: keys.election, value, reach, log: (l) => h.lines.push(l) });
    const a = elect("a");
    a.start();
    await until(() => a.isLeader(), "a leads");
    const b = elect("b");
    b.start();
    const won = a.fence()!;
    // A store that fences with whatever `fence` holds: first a's fence while a leads.
    let fence: Fence | undefined = won;
    const store = await h.open(prefix, { fence: () => fence });
    await store.store.update((tx) => tx.create("service", service("before")));

    // a's lease ends as etcd sees it (as when a is cut off), while a may still think it leads.
    const leaseId = BigInt(`0x${won.key.toString().slice(keys.election.length)}`).toString();
    await client.leaseClient.leaseRevoke({ ID: leaseId });
    await until(() => b.isLeader(), "b leads");
    fence = won;
    await expect(store.store.update((tx) => tx.create("service", service("stale")))).rejects.toBeInstanceOf(NotLeaderError);
    const fresh = await h.open(prefix);
    expect(fresh.store.view((tx) => tx.find("service", byName("stale")).length)).toBe(0);
    await until(() => !a.isLeader() && a.fence() === undefined, "a knows it no longer leads");

    fence = b.fence();
    await store.store.update((tx) => tx.create("service", service("after")));
    await Promise.all([a.stop(), b.stop()]);
  });
});
