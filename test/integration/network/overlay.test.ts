// Overlay networks end to end at the library level: the managers' real allocator and network
// views over a real store, and each host's real data plane (VXLAN, bridges, veths, DNS,
// nftables) in its own network namespace, with containers as namespaces on top.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { NodeNetwork, PublishMode, Task, TaskState } from "../../../proto/gen/cluster.js";
import { NetworkViews } from "../../../manager/allocator/netviews.js";
import { addressOf, AllocCluster } from "../../unit/allocator/cluster.js";
import { NetLab, sh, type Host } from "./netlab.js";

const bare = (cidr: string | undefined) => cidr?.split("/")[0] ?? "";

describe("overlay networks across three hosts", () => {
  let lab: NetLab;
  const c = new AllocCluster();
  let front = "";
  let back = "";
  const nodeOf = new Map<Host, string>();
  /** Task name → its container's namespace. */
  const ns = new Map<string, string>();
  const logs = new Map<string, string>();
  const task = (name: string): Task => c.tasks().find((t) => t.annotations?.name === name)!;
  const host = (i: number) => lab.hosts[i - 1];

  /** What the dispatcher will do: push each node its networks as the store has them now. */
  async function push(): Promise<void> {
    const views = c.store.view((tx) => NetworkViews.build(tx));
    for (const h of lab.hosts) await h.agent.call("apply", views.forNode(nodeOf.get(h)!).map((n) => NodeNetwork.toJSON(n)));
  }

  /** What the scheduler and the worker do: put the task on the host, give it a container on its networks. */
  async function run(name: string, h: Host, serve = true): Promise<void> {
    const t = task(name);
    await c.advance(t.id, TaskState.TASK_STATE_ASSIGNED, nodeOf.get(h));
    await push();
    const netns = lab.container(name.replace(/\./g, "-"));
    const got = await h.agent.call<{ nameservers: string[] }>("attach", lab.netnsPath(netns), Task.toJSON(task(name)), 0);
    if (got.nameservers[0]) lab.resolvConf(netns, got.nameservers[0]);
    if (serve) logs.set(name, lab.httpd(netns, name));
    await c.advance(t.id, TaskState.TASK_STATE_RUNNING);
    ns.set(name, netns);
  }

  beforeAll(async () => {
    lab = new NetLab(3);
    await c.ingress();
    front = await c.network("front");
    back = await c.network("back");
    for (const [i, h] of lab.hosts.entries()) {
      nodeOf.set(h, `n${i + 1}`);
      await c.node(`n${i + 1}`, `${h.ip}:2377`);
    }
    const web = await c.service("web", { networks: [front], replicas: 3, mesh: [[30080, 80]] });
    const db = await c.service("db", { networks: [back] });
    const cache = await c.service("cache", { networks: [front], dnsrr: true, replicas: 2 });
    const probeFront = await c.service("probe-front", { networks: [front] });
    const probeBoth = await c.service("probe-both", { networks: [front, back] });
    for (const [s, n] of [[web, 3], [db, 1], [cache, 2], [probeFront, 1], [probeBoth, 1]] as const) for (let slot = 1; slot <= n; slot++) await c.task(s, slot);
    await c.pass();
    await c.pass(); // the nodes' ingress addresses
    for (const h of lab.hosts) {
      await lab.open(h);
      await h.agent.call("serveZone", 5300, { "www.example.test": "192.0.2.10" });
    }
    // h3 runs no web replica: the routing mesh must still answer there.
    await run("web.1", host(1));
    await run("web.2", host(1));
    await run("web.3", host(2));
    await run("db.1", host(2));
    await run("cache.1", host(1));
    await run("cache.2", host(2));
    await run("probe-front.1", host(3), false);
    await run("probe-both.1", host(1), false);
    await push();
  });

  afterAll(async () => {
    await lab?.cleanup();
  });

  test("a container on one host reaches a replica on another by address, by service name (VIP) and by tasks.NAME", () => {
    const probe = ns.get("probe-front.1")!;
    expect(lab.get(probe, `http://${bare(addressOf(task("web.3"), front))}/`)).toBe("web.3");
    const vip = bare(c.store.view((tx) => tx.find("service")).find((s) => s.spec?.annotations?.name === "web")!.endpoint!.virtualIps[0].addr);
    expect(lab.resolve(probe, "web")).toEqual([vip]);
    expect(lab.get(probe, "http://web/")).toMatch(/^web\.[123]$/);
    const webTasks = ["web.1", "web.2", "web.3"].map((n) => bare(addressOf(task(n), front))).sort();
    expect(lab.resolve(probe, "tasks.web")).toEqual(webTasks);
    expect(lab.resolve(probe, "web.3")).toEqual([bare(addressOf(task("web.3"), front))]);
    // dnsrr: the name itself answers every task; other names go to the host's resolver.
    expect(lab.resolve(probe, "cache")).toEqual(["cache.1", "cache.2"].map((n) => bare(addressOf(task(n), front))).sort());
    expect(lab.resolve(probe, "www.example.test")).toEqual(["192.0.2.10"]);
  });

  test("300 connections to the VIP of a 3-replica service reach all 3, none with under 20%", () => {
    const probe = ns.get("probe-front.1")!;
    const r = lab.exec(probe, ["sh", "-c", "for i in $(seq 300); do curl -s --max-time 2 http://web/; echo; done"]);
    const counts = new Map<string, number>();
    for (const line of r.out.split("\n").filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(["web.1", "web.2", "web.3"]);
    for (const n of counts.values()) expect(n).toBeGreaterThanOrEqual(60);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(300);
  });

  test("a published port answers on every host, also one with no replica, and the replica sees the client's own address", () => {
    for (const l of logs.values()) sh(["truncate", "-s", "0", l]);
    for (const h of lab.hosts) for (let i = 0; i < 3; i++) expect(lab.get(lab.client, `http://${h.ip}:30080/`)).toMatch(/^web\.[123]$/);
    const seen = ["web.1", "web.2", "web.3"].flatMap((n) => [...readFileSync(logs.get(n)!, "utf8").matchAll(/\[(?:::ffff:)?([\d.]+)\]:\d+: url:/g)].map((m) => m[1]));
    expect(seen).toHaveLength(9);
    expect(new Set(seen)).toEqual(new Set([lab.clientIp]));
  });

  test("mode=host publishes on the task's node only", async () => {
    const db = task("db.1");
    await host(2).agent.call("publishHost", db.id, [{ name: "", protocol: 0, targetPort: 80, publishedPort: 8081, publishMode: PublishMode.PUBLISH_MODE_HOST }]);
    expect(lab.get(lab.client, `http://${host(2).ip}:8081/`)).toBe("db.1");
    expect(lab.get(lab.client, `http://${host(1).ip}:8081/`)).toBeUndefined();
    expect(readFileSync(logs.get("db.1")!, "utf8")).toContain(lab.clientIp);
  });

  test("containers on different networks cannot reach each other or resolve each other's names; one on both can", () => {
    const dbAddr = bare(addressOf(task("db.1"), back));
    const dbVip = bare(c.store.view((tx) => tx.find("service")).find((s) => s.spec?.annotations?.name === "db")!.endpoint!.virtualIps[0].addr);
    const onlyFront = ns.get("probe-front.1")!;
    const both = ns.get("probe-both.1")!;
    expect(lab.get(onlyFront, `http://${dbAddr}/`)).toBeUndefined();
    expect(lab.get(onlyFront, `http://${dbVip}/`)).toBeUndefined();
    expect(lab.resolve(onlyFront, "db")).toEqual([]);
    expect(lab.get(both, `http://${dbAddr}/`)).toBe("db.1");
    expect(lab.resolve(both, "db")).toEqual([dbVip]);
    expect(lab.get(both, "http://db/")).toBe("db.1");
    expect(lab.get(both, "http://web/")).toMatch(/^web\.[123]$/);
    // Nor does a replica on back reach a front address through its node.
    expect(lab.get(ns.get("db.1")!, `http://${bare(addressOf(task("web.3"), front))}/`)).toBeUndefined();
  });

  test("a replica taken out (deactivated on its node, or told to stop by the managers) leaves DNS and the VIP while it still runs", async () => {
    const both = ns.get("probe-both.1")!; // on h1, beside web.1 and web.2
    const web1 = bare(addressOf(task("web.1"), front));
    await host(1).agent.call("deactivate", task("web.1").id);
    expect(lab.resolve(both, "tasks.web")).not.toContain(web1);
    const local = lab.exec(both, ["sh", "-c", "for i in $(seq 30); do curl -s --max-time 2 http://web/; echo; done"]).out;
    expect(local).not.toContain("web.1");
    expect(lab.get(both, `http://${web1}/`)).toBe("web.1"); // still running
    await host(1).agent.call("activate", task("web.1").id);
    expect(lab.resolve(both, "tasks.web")).toContain(web1);
    await host(1).agent.call("deactivate", task("web.1").id);

    // The managers' way: desired SHUTDOWN, pushed to every node before the agent stops the container.
    const web2 = task("web.2");
    await c.store.update((tx) => tx.update("task", { ...tx.get("task", web2.id)!, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    await push();
    const probe = ns.get("probe-front.1")!; // on h3
    // (web.1 was deactivated on h1 only: the managers still list it.)
    expect(lab.resolve(probe, "tasks.web")).toEqual(["web.1", "web.3"].map((n) => bare(addressOf(task(n), front))).sort());
    const remote = lab.exec(probe, ["sh", "-c", "for i in $(seq 30); do curl -s --max-time 2 http://web/; echo; done"]).out.split("\n").filter(Boolean);
    expect(remote).toHaveLength(30);
    expect(remote).not.toContain("web.2");
    expect(lab.get(probe, `http://${bare(addressOf(web2, front))}/`)).toBe("web.2");
    // web.1, deactivated on h1 alone so far, is told to stop as well: only web.3 serves from here on.
    await c.store.update((tx) => tx.update("task", { ...tx.get("task", task("web.1").id)!, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    await push();
  });

  test("100 attach/detach cycles on one host give no duplicate address and leave nothing behind", async () => {
    const h = host(2);
    const links = () => sh(["ip", "-n", h.netns, "-o", "link"]).out.split("\n").filter(Boolean).length;
    const fdb = () => sh(["bridge", "-n", h.netns, "fdb", "show"]).out.split("\n").filter((l) => l.includes("static")).length;
    const before = { links: links(), fdb: fdb() };
    const churn = await c.service("churn", { networks: [front], replicas: 1 });
    const live: { id: string; netns: string; ip: string }[] = [];
    const everUsed = new Set<string>();
    for (let i = 1; i <= 100; i++) {
      const id = await c.task(churn, i);
      await c.pass();
      await c.advance(id, TaskState.TASK_STATE_ASSIGNED, nodeOf.get(h));
      const netns = lab.container(`churn${i}`);
      await h.agent.call("attach", lab.netnsPath(netns), Task.toJSON(c.get("task", id)), 0);
      await c.advance(id, TaskState.TASK_STATE_RUNNING);
      const ip = bare(addressOf(c.get("task", id), front));
      expect(live.map((l) => l.ip)).not.toContain(ip);
      everUsed.add(ip);
      live.push({ id, netns, ip });
      if (i % 25 === 0) expect(lab.get(netns, `http://${bare(addressOf(task("web.3"), front))}/`)).toBe("web.3");
      if (live.length > 5) {
        const gone = live.shift()!;
        await h.agent.call("detach", gone.id);
        await c.advance(gone.id, TaskState.TASK_STATE_SHUTDOWN);
        sh(["ip", "netns", "del", gone.netns]);
      }
    }
    for (const gone of live.splice(0)) {
      await h.agent.call("detach", gone.id);
      await c.advance(gone.id, TaskState.TASK_STATE_SHUTDOWN);
      sh(["ip", "netns", "del", gone.netns]);
    }
    expect(everUsed.size).toBe(100); // a /24: no address came back while others were still unused
    expect({ links: links(), fdb: fdb() }).toEqual(before);
    expect(c.log).toEqual([]);
  });

  test("a failed attach says why and leaves nothing behind", async () => {
    const h = host(2);
    const links = () => sh(["ip", "-n", h.netns, "-o", "link"]).out;
    const before = links();
    const odd = await c.service("odd", { networks: [front] });
    const id = await c.task(odd, 1);
    await c.pass();
    const netns = lab.container("odd1");
    sh(["ip", "-n", netns, "link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
    await expect(h.agent.call("attach", lab.netnsPath(netns), Task.toJSON(c.get("task", id)), 0)).rejects.toThrow(/already has an interface eth0: attach with another interface name/);
    await expect(h.agent.call("attach", "/run/netns/none-such", Task.toJSON(c.get("task", id)), 0)).rejects.toThrow(/network namespace \/run\/netns\/none-such does not exist/);
    const elsewhere = { ...(Task.toJSON(c.get("task", id)) as object), networks: [{ networkId: "nowhere", addresses: ["10.99.0.2/24"], aliases: [] }] };
    await expect(h.agent.call("attach", lab.netnsPath(netns), elsewhere, 1)).rejects.toThrow(/network nowhere is not set up on this node yet/);
    expect(links()).toBe(before);
    await c.advance(id, TaskState.TASK_STATE_REJECTED);
  });

  test("a network's bridge deleted under a running agent is made again, with its ports, peers and DNS, on the next push", async () => {
    const h = host(2);
    const vni = c.get("network", front).driverState!.vni;
    sh(["ip", "-n", h.netns, "link", "del", `ov-br-${vni}`]);
    const onH2 = ns.get("cache.2")!;
    const web3 = bare(addressOf(task("web.3"), front));
    expect(lab.get(ns.get("probe-front.1")!, `http://${web3}/`)).toBeUndefined();
    await push();
    expect(lab.get(ns.get("probe-front.1")!, `http://${web3}/`)).toBe("web.3");
    expect(lab.resolve(onH2, "tasks.web")).toEqual([web3]);
    expect(lab.get(onH2, "http://web/")).toBe("web.3");
  });

  test("after a host's agent is killed and its devices and rules are gone (a reboot), the restarted agent brings overlays, DNS and the mesh back", async () => {
    const h = host(3);
    const probe = ns.get("probe-front.1")!;
    await lab.restartAgent(h);
    for (const l of sh(["ip", "-n", h.netns, "-o", "link"]).out.split("\n")) {
      const m = /^\d+: (ov[^:@]+)/.exec(l);
      if (m) sh(["ip", "-n", h.netns, "link", "del", m[1]]);
    }
    sh(["ip", "netns", "exec", h.netns, "nft", "delete", "table", "ip", "shoal-overlay"]);
    expect(lab.get(lab.client, `http://${h.ip}:30080/`)).toBeUndefined();
    expect(lab.resolve(probe, "web")).toEqual([]);

    await lab.open(h);
    await h.agent.call("serveZone", 5300, {});
    expect(lab.get(lab.client, `http://${h.ip}:30080/`)).toBe("web.3");
    expect(lab.resolve(probe, "tasks.web")).toEqual([bare(addressOf(task("web.3"), front))]);
    expect(lab.get(probe, "http://web/")).toBe("web.3");
    await push();
    expect(lab.get(probe, `http://${bare(addressOf(task("web.3"), front))}/`)).toBe("web.3");
  });

  test("destroy removes every device, rule and table it made", async () => {
    for (const h of lab.hosts) {
      await h.agent.call("destroy");
      expect(sh(["ip", "-n", h.netns, "-o", "link"]).out).not.toMatch(/: ov/);
      expect(sh(["ip", "netns", "exec", h.netns, "nft", "list", "tables"]).out).not.toContain("shoal-overlay");
      expect(sh(["ip", "-n", h.netns, "rule"]).out).not.toMatch(/^900:/m);
    }
  });
});
