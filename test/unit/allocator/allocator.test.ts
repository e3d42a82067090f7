import { describe, expect, test } from "vitest";
import { NodeState, TaskState } from "../../../proto/gen/cluster.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { checkNetworkSpec, ingressNetworkSpec, networkInUse } from "../../../manager/allocator/networks.js";
import { planAllocation } from "../../../manager/allocator/plan.js";
import { ALLOCATOR_FILTER } from "../../../manager/allocator/allocator.js";
import { byAllocation, type StoreEvent } from "../../../manager/store/types.js";
import { addressOf } from "../../../manager/allocator/pools.js";
import { addressOf as taskAddress, AllocCluster } from "./cluster.js";

describe("networks", () => {
  test("each network gets its own VNI from 4096 and a /24 of the pool; a given subnet is kept and never handed to another", async () => {
    const c = new AllocCluster();
    const a = await c.network("a");
    const b = await c.network("b", "10.0.1.0/24"); // the pool's second /24, asked for by a later network
    const d = await c.network("d");
    await c.pass();
    const [na, nb, nd] = [a, b, d].map((id) => c.get("network", id));
    expect([na, nb, nd].map((n) => n.driverState?.vni)).toEqual([4096, 4097, 4098]);
    expect(na.ipam?.configs[0]).toMatchObject({ subnet: "10.0.0.0/24", gateway: "10.0.0.1" });
    expect(nb.ipam?.configs[0]).toMatchObject({ subnet: "10.0.1.0/24", gateway: "10.0.1.1" });
    expect(nd.ipam?.configs[0]?.subnet).toBe("10.0.2.0/24");
  });

  test("a freed VNI and subnet are given again; a subnet overlapping another network's is refused, not allocated", async () => {
    const c = new AllocCluster();
    const a = await c.network("a");
    await c.network("b");
    await c.pass();
    await c.remove("network", a);
    const d = await c.network("d");
    const clash = await c.network("clash", "10.0.1.128/25");
    await c.pass();
    expect(c.get("network", d).driverState?.vni).toBe(4096);
    expect(c.get("network", d).ipam?.configs[0]?.subnet).toBe("10.0.0.0/24");
    expect(c.get("network", clash).driverState).toBeUndefined();
    expect(c.log.join("\n")).toMatch(/clash: subnet 10.0.1.128\/25 overlaps 10.0.1.0\/24/);
  });

  test("checkNetworkSpec refuses an overlapping subnet, a second ingress and host bits; networkInUse names the user", async () => {
    const c = new AllocCluster();
    const a = await c.network("a", "10.5.0.0/16");
    await c.ingress();
    const spec = (name: string, subnet: string) => ({ annotations: { name, labels: {} }, driver: "overlay", ipam: { driver: "default", configs: [{ subnet, gateway: "", range: "" }] }, attachable: false, ingress: false });
    c.store.view((tx) => {
      expect(() => checkNetworkSpec(tx, spec("b", "10.5.3.0/24"))).toThrow(/overlaps 10.5.0.0\/16 of network a/);
      expect(() => checkNetworkSpec(tx, spec("b", "10.6.0.1/24"))).toThrow(/host bits set: use 10.6.0.0\/24/);
      expect(() => checkNetworkSpec(tx, ingressNetworkSpec("10.9.0.0/16"))).toThrow(/already has an ingress network/);
      expect(() => checkNetworkSpec(tx, spec("b", "10.6.0.0/24"))).not.toThrow();
    });
    const s = await c.service("web", { networks: [a] });
    expect(c.store.view((tx) => networkInUse(tx, a))).toMatch(/service web is attached to it/);
    await c.remove("service", s);
    expect(c.store.view((tx) => networkInUse(tx, a))).toBeUndefined();
  });
});

describe("tasks and services", () => {
  test("a task becomes PENDING only with one address per network; the service gets a VIP on each", async () => {
    const c = new AllocCluster();
    const front = await c.network("front");
    const back = await c.network("back");
    const s = await c.service("web", { networks: [front, back], aliases: ["www"] });
    const t = await c.task(s, 1);
    expect(await c.pass()).toBe(1);
    const task = c.get("task", t);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_PENDING);
    expect(task.networks).toEqual([
      { networkId: front, addresses: ["10.0.0.3/24"], aliases: ["www"] },
      { networkId: back, addresses: ["10.0.1.3/24"], aliases: ["www"] },
    ]);
    // The VIP came first (.2), the task after it; the task carries the service's endpoint.
    const vips = c.get("service", s).endpoint?.virtualIps;
    expect(vips).toEqual([
      { networkId: front, addr: "10.0.0.2/24" },
      { networkId: back, addr: "10.0.1.2/24" },
    ]);
    expect(task.endpoint?.virtualIps).toEqual(vips);
  });

  test("dnsrr services get no VIP", async () => {
    const c = new AllocCluster();
    const n = await c.network("n");
    const s = await c.service("db", { networks: [n], dnsrr: true });
    await c.task(s, 1);
    await c.pass();
    expect(c.get("service", s).endpoint?.virtualIps).toEqual([]);
  });

  test("a task waits, NEW with the reason, while its network is missing or full, and goes on once an address is free", async () => {
    const c = new AllocCluster();
    const n = await c.network("tiny", "10.9.0.0/29"); // .1 gateway, .2-.6 for the VIP and tasks
    const s = await c.service("web", { networks: [n] });
    const ids: string[] = [];
    for (let slot = 1; slot <= 5; slot++) ids.push(await c.task(s, slot));
    expect(await c.pass()).toBe(4);
    const waiting = c.get("task", ids[4]);
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_NEW);
    expect(waiting.status?.message).toMatch(/no free address left in network tiny \(10.9.0.0\/29\)/);
    await c.advance(ids[0], TaskState.TASK_STATE_SHUTDOWN);
    expect(await c.pass()).toBe(1);
    expect(taskAddress(c.get("task", ids[4]), n)).toBe(taskAddress(c.get("task", ids[0]), n));

    const orphan = await c.service("orphan", { networks: ["gone"] });
    const o = await c.task(orphan, 1);
    await c.pass();
    expect(c.get("task", o).status?.message).toMatch(/network gone .*does not exist/);
  });

  test("a task given up before it reached a node, or ended, or deleted, frees its address; one still running keeps it", async () => {
    const c = new AllocCluster();
    const n = await c.network("n", "10.9.0.0/29");
    const s = await c.service("web", { networks: [n] });
    const [a, b, d] = [await c.task(s, 1), await c.task(s, 2), await c.task(s, 3)];
    await c.pass();
    const held = (id: string) => taskAddress(c.get("task", id), n);
    // a: running but told to stop — its container still uses the address.
    await c.advance(a, TaskState.TASK_STATE_RUNNING, "n1");
    await c.store.update((tx) => tx.update("task", { ...tx.get("task", a)!, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    // b: removed before any node had it. d: deleted.
    await c.store.update((tx) => tx.update("task", { ...tx.get("task", b)!, desiredState: TaskState.TASK_STATE_REMOVE }));
    await c.remove("task", d);
    // The /29 has five addresses: the VIP, a, and three free again (b's, d's and the one never used).
    const fresh = [await c.task(s, 4), await c.task(s, 5), await c.task(s, 6), await c.task(s, 7)];
    await c.pass();
    const got = fresh.map(held).filter(Boolean);
    expect(got).toHaveLength(3);
    expect(got).not.toContain(held(a));
  });

  test("routing-mesh ports: the allocator picks from 30000 up, keeps a choice across spec changes, and tasks join ingress first", async () => {
    const c = new AllocCluster();
    const ingress = await c.ingress();
    const n = await c.network("app");
    const s1 = await c.service("a", { networks: [n], mesh: [[0, 80], [8080, 81]] });
    const s2 = await c.service("b", { mesh: [[0, 80]] });
    const t = await c.task(s1, 1);
    await c.pass();
    const ports = (id: string) => c.get("service", id).endpoint?.ports.map((p) => p.publishedPort);
    expect(ports(s1)).toEqual([30000, 8080]);
    expect(ports(s2)).toEqual([30001]);
    expect(c.get("task", t).networks.map((a) => a.networkId)).toEqual([ingress, n]);
    expect(c.get("task", t).endpoint?.ports.map((p) => p.publishedPort)).toEqual([30000, 8080]);
    // A spec change (new label) keeps the chosen port; a service with a new port gets the next free one.
    await c.store.update((tx) => {
      const s = structuredClone(tx.get("service", s2)!);
      s.spec!.annotations!.labels = { x: "y" };
      s.spec!.endpoint!.ports.push({ name: "", protocol: 1, targetPort: 53, publishedPort: 0, publishMode: 0 });
      tx.update("service", s);
    });
    await c.pass();
    expect(ports(s2)).toEqual([30001, 30002]);
  });

  test("every node gets one address on the ingress network, released when the node is removed", async () => {
    const c = new AllocCluster();
    const ingress = await c.ingress("10.0.0.0/24");
    await c.node("n1");
    await c.node("n2");
    await c.pass();
    const addr = (id: string) => c.get("node", id).attachments?.networks[0];
    expect(addr("n1")).toEqual({ networkId: ingress, addresses: ["10.0.0.2/24"], aliases: [] });
    expect(addr("n2")?.addresses).toEqual(["10.0.0.3/24"]);
    await c.pass();
    expect(addr("n1")?.addresses).toEqual(["10.0.0.2/24"]); // stable
    await c.remove("node", "n1");
    await c.node("n3");
    await c.pass();
    expect(addr("n3")?.addresses).toEqual(["10.0.0.4/24"]); // above the highest, not the just-freed .2
  });

  test("a node's state changing wakes no pass; the pass reads only tasks on a network or still NEW", async () => {
    const c = new AllocCluster();
    const net = await c.network("a");
    await c.node("n1");
    const on = await c.service("on", { networks: [net] });
    const off = await c.service("off");
    const [t1, t2] = [await c.task(on, 1), await c.task(off, 1)];
    const allocation = () => c.store.view((tx) => tx.find("task", byAllocation()).map((t) => t.id).sort());
    // The task on no network is made PENDING, needing nothing: it is never in the index.
    expect(c.get("task", t2).status?.state).toBe(TaskState.TASK_STATE_PENDING);
    expect(allocation()).toEqual([t1]);
    await c.pass();
    await c.advance(t1, TaskState.TASK_STATE_RUNNING, "n1");
    await c.advance(t2, TaskState.TASK_STATE_RUNNING, "n1");
    expect(allocation()).toEqual([t1]); // it holds an address, to be freed when it ends
    const n = c.get("node", "n1");
    const down = structuredClone(n);
    down.status!.state = NodeState.NODE_STATE_DOWN;
    const wakes = (e: StoreEvent) => !!ALLOCATOR_FILTER.match?.(e);
    expect(wakes({ kind: "node", action: "update", version: 2, old: n, new: down })).toBe(false);
    expect(wakes({ kind: "node", action: "create", version: 2, new: n })).toBe(true);
    expect(wakes({ kind: "node", action: "delete", version: 2, old: n })).toBe(true);
  });
});

describe("no duplicates, ever", () => {
  test("100 tasks created and removed over and over never share an address, and freed addresses come back", async () => {
    const c = new AllocCluster();
    const n = await c.network("n", "10.9.0.0/24");
    const s = await c.service("web", { networks: [n], replicas: 100 });
    const seen = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const ids: string[] = [];
      for (let slot = 1; slot <= 100; slot++) ids.push(await c.task(s, slot));
      await c.pass();
      const live = c.tasks().filter((t) => t.status?.state === TaskState.TASK_STATE_PENDING);
      const addrs = live.map((t) => taskAddress(t, n)!);
      expect(addrs).toHaveLength(100);
      expect(new Set(addrs).size).toBe(100);
      for (const a of addrs) seen.add(a);
      for (const id of ids) await c.remove("task", id);
    }
    // 800 allocations in a /24 (253 usable beside the VIP): addresses were handed out again.
    expect(seen.size).toBeLessThanOrEqual(253);
    expect(c.log).toEqual([]);
  });

  test("a new leader's allocator, on a store restored from a snapshot, continues without handing out a held address", async () => {
    const c = new AllocCluster();
    const n = await c.network("n", "10.9.0.0/24");
    const s = await c.service("web", { networks: [n] });
    for (let slot = 1; slot <= 20; slot++) await c.task(s, slot);
    await c.pass();
    const restored = new MemoryStore({ now: () => c.now });
    restored.restore(c.store.snapshot());
    const next = new AllocCluster({}, restored);
    next.now = c.now;
    const more: string[] = [];
    for (let slot = 21; slot <= 40; slot++) more.push(await next.task(s, slot));
    await next.pass();
    const all = next.tasks().map((t) => taskAddress(t, n));
    expect(all.every(Boolean)).toBe(true);
    expect(new Set(all).size).toBe(41 - 1);
    expect(next.get("service", s).endpoint?.virtualIps[0]?.addr).toBe(c.get("service", s).endpoint?.virtualIps[0]?.addr);
  });

  test("the same objects always give the same plan", async () => {
    const c = new AllocCluster();
    const ingress = await c.ingress();
    const n = await c.network("n");
    const s = await c.service("web", { networks: [n], mesh: [[0, 80]] });
    for (let slot = 1; slot <= 10; slot++) await c.task(s, slot);
    await c.node("n1");
    const objs = c.store.view((tx) => ({ networks: tx.find("network"), services: tx.find("service"), nodes: tx.find("node"), tasks: tx.find("task") }));
    expect(planAllocation(objs, 5)).toEqual(planAllocation(structuredClone(objs), 5));
    expect(ingress).toBeTruthy();
  });
});

test("addresses are read as the allocator stores them, and anything else is refused", () => {
  expect(addressOf("10.1.2.3/24")).toBe(((10 << 24) | (1 << 16) | (2 << 8) | 3) >>> 0);
  expect(addressOf("255.255.255.254")).toBe(0xfffffffe);
  for (const bad of ["10.1.2/24", "10.1.2.256/24", "10..2.3/24", "10.1.2.3.4", "a.b.c.d", ""]) expect([bad, addressOf(bad)]).toEqual([bad, undefined]);
});
