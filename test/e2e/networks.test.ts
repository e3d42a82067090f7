// Overlay networks on a 3+3 lab, through the real CLI: reachability by address, VIP and
// tasks.NAME across hosts; VIP load balancing; the routing mesh on every node with the client's
// own address kept; isolation; addresses never duplicated under churn; a worker's power cut;
// a replica leaving DNS and the VIP before its container stops; no failed request during a
// start-first update; nothing left behind by swarm leave and lab down.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState, TaskState, UpdateState, type Task } from "../../proto/gen/cluster.js";
import { labKill, labStart } from "../../lab/lab.js";
import { findHost } from "../../lab/state.js";
import { CLI, Cluster, eventually, isRunning } from "./harness.js";

/** A replica that serves its own hostname on port 80 and logs every client (busybox httpd -vv). */
const SERVE_HOSTNAME = ["busybox:1", "sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -vv -p 80 -h /www"];
const bare = (cidr: string | undefined) => cidr?.split("/")[0] ?? "";

describe("overlay networks on a 3+3 lab", () => {
  let c: Cluster;
  let front = "";
  let back = "";
  const w = (n: number) => `w${n}`;
  const onHost = (short: string) => ["--constraint", `node.hostname==${c.host(short)}`];
  const address = (t: Task, networkId: string) => bare(t.networks.find((a) => a.networkId === networkId)?.addresses[0]);
  const hostOf = async (t: Task) => (await c.tasks(t.serviceId)).nodeNames[t.nodeId]?.replace(`${c.name}-`, "") ?? "";
  const live = async (service: string) => (await c.tasks(service)).tasks.filter(isRunning);

  /** Runs `sh -c script` in the running container of a service's only (or first) live task. */
  const inTask = async (service: string, script: string): Promise<string> => {
    const [t] = await live(service);
    if (!t) throw new Error(`${service} has no running task`);
    return c.ok(await hostOf(t), "exec", t.status!.containerStatus!.containerId, "sh", "-c", script);
  };
  /** A command in a lab host's own network namespace (not in a container). */
  const onHostNet = (short: string, cmd: string[]) => {
    const h = findHost(c.lab, c.host(short));
    return spawnSync("nsenter", ["--target", String(h.pid), "--net", "--", ...cmd], { encoding: "utf8", timeout: 30_000 });
  };
  const spawnShoal = (short: string, args: string[]) => spawnShoalOn(c, short, args);
  const hostAddress = (short: string) => findHost(c.lab, c.host(short)).address;
  const vipOf = async (service: string, networkId: string) =>
    bare((await c.services()).find((s) => s.service?.spec?.annotations?.name === service)!.service!.endpoint!.virtualIps.find((v) => v.networkId === networkId)!.addr);

  beforeAll(async () => {
    c = await Cluster.up(`e2n${process.pid % 1000}`, 3, 3);
    front = c.ok("m1", "network", "create", "-d", "overlay", "front").trim();
    back = c.ok("m1", "network", "create", "-d", "overlay", "--subnet", "10.9.0.0/24", "back").trim();
    // One web replica per worker: the managers run none, so the mesh must answer there too.
    c.ok("m1", "service", "create", "-d", "--name", "web", "--mode", "global", "--constraint", "node.role==worker", "--network", "front", "-p", "8080:80", ...SERVE_HOSTNAME);
    c.ok("m1", "service", "create", "-d", "--name", "db", "--network", "back", ...onHost(w(2)), ...SERVE_HOSTNAME);
    c.ok("m1", "service", "create", "-d", "--name", "probe-front", "--network", "front", ...onHost(w(1)), "busybox:1", "sleep", "86400");
    c.ok("m1", "service", "create", "-d", "--name", "probe-both", "--network", "front", "--network", "back", ...onHost(w(3)), "busybox:1", "sleep", "86400");
    for (const [s, n] of [["web", 3], ["db", 1], ["probe-front", 1], ["probe-both", 1]] as const) await eventually(`${s}: ${n} running`, async () => (await live(s)).length === n);
  });
  afterAll(async () => {
    await c?.down();
  });

  it("network ls, inspect, and refusals: a taken name, an overlapping subnet, removing a network in use", async () => {
    const ls = c.ok("m2", "network", "ls");
    expect(ls.split("\n")[0]).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    for (const n of ["ingress", "front", "back"]) expect(ls).toMatch(new RegExp(`^[0-9a-z]{12}\\s+${n}\\s+overlay\\s+swarm$`, "m"));
    const [inspected] = JSON.parse(c.ok("m3", "network", "inspect", "back")) as { Id: string; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Options: Record<string, string> }[];
    expect(inspected.Id).toBe(back);
    expect(inspected.IPAM.Config).toEqual([{ Subnet: "10.9.0.0/24", Gateway: "10.9.0.1" }]);
    expect(Number(inspected.Options["com.docker.network.driver.overlay.vxlanid_list"])).toBeGreaterThanOrEqual(4096);
    const refusals: [string[], RegExp][] = [
      [["network", "create", "-d", "overlay", "front"], /already exists/],
      [["network", "create", "-d", "overlay", "--subnet", "10.9.0.128/25", "other"], /overlaps 10\.9\.0\.0\/24 of network back/],
      [["network", "create", "-d", "bridge", "other"], /driver bridge is not supported/],
      [["network", "rm", "front"], /network front is in use: service \S+ is attached to it/],
      [["network", "rm", "ingress"], /network ingress is in use: service web publishes ports/],
      [["service", "create", "-d", "--network", "nowhere", "busybox:1"], /no such network: nowhere/],
    ];
    for (const [args, msg] of refusals) {
      const r = c.shoal("m1", ...args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err).toMatch(msg);
    }
    expect(c.ok("m1", "network", "ls", "-q").trim().split("\n")).toHaveLength(3);
  });

  it("a container on one worker reaches a replica on another by task address, by service name (VIP) and by tasks.NAME", async () => {
    const web = await live("web");
    const elsewhere = [];
    for (const t of web) if ((await hostOf(t)) !== w(1)) elsewhere.push(t);
    expect(elsewhere.length).toBeGreaterThanOrEqual(2);
    const hostnames = new Set<string>();
    for (const t of elsewhere) hostnames.add((await inTask("probe-front", `wget -qO- http://${address(t, front)}/`)).trim());
    expect(hostnames.size).toBe(elsewhere.length);
    const vip = await vipOf("web", front);
    expect(await inTask("probe-front", "nslookup web | awk '/^Address: /{print $2}'")).toBe(`${vip}\n`);
    expect((await inTask("probe-front", "wget -qO- http://web/")).trim()).toMatch(/^[0-9a-f]{12}$/);
    const tasks = (await inTask("probe-front", "nslookup tasks.web | awk '/^Address: /{print $2}'")).trim().split("\n").sort();
    expect(tasks).toEqual(web.map((t) => address(t, front)).sort());
    // A task's own name, and names that are not the swarm's go to the host's resolvers.
    expect(await inTask("probe-front", `nslookup ${web[0].annotations!.name} >/dev/null && echo found`)).toBe("found\n");
  });

  it("300 requests to the VIP of a 3-replica web service reach all 3 replicas, none with under 20%", async () => {
    const out = await inTask("probe-front", "for i in $(seq 300); do wget -qO- http://web/; done");
    const counts = new Map<string, number>();
    for (const line of out.split("\n").filter(Boolean)) counts.set(line, (counts.get(line) ?? 0) + 1);
    expect(counts.size).toBe(3);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(300);
    for (const n of counts.values()) expect(n).toBeGreaterThanOrEqual(60);
  });

  it("a published port answers on every node, also those with no replica, and the replica's httpd log shows the client's real address", async () => {
    const replicaHosts = new Set(await Promise.all((await live("web")).map(hostOf)));
    const all = ["m1", "m2", "m3", "w1", "w2", "w3"];
    expect(all.filter((h) => !replicaHosts.has(h))).toEqual(["m1", "m2", "m3"]);
    for (const h of all) expect((await get(hostAddress(h), 8080)).status, h).toBe(200);
    // From one lab host to another that has no replica: the replica sees the first host's address.
    const r = onHostNet("m2", ["busybox", "wget", "-qO-", `http://${hostAddress("m3")}:8080/`]);
    expect(r.status).toBe(0);
    await eventually("the clients' own addresses in httpd's log", () => {
      const r = c.shoal("m1", "service", "logs", "web");
      const logs = r.out + r.err; // httpd logs on stderr
      return logs.includes(`[::ffff:${c.lab.gateway}]`) && logs.includes(`[::ffff:${hostAddress("m2")}]`);
    }, 15_000);
  });

  it("--publish mode=host binds on the task's node only", async () => {
    c.ok("m1", "service", "create", "-d", "--name", "hostweb", "--publish", "mode=host,published=8082,target=80", ...onHost(w(2)), ...SERVE_HOSTNAME);
    await eventually("hostweb running", async () => (await live("hostweb")).length === 1);
    await eventually("answers on w2", async () => (await get(hostAddress("w2"), 8082)).status === 200, 15_000);
    await expect(get(hostAddress("w3"), 8082)).rejects.toThrow(/ECONNREFUSED/);
    const logs = c.shoal("m1", "service", "logs", "hostweb");
    expect(logs.out + logs.err).toContain(`[::ffff:${c.lab.gateway}]`);
    c.ok("m1", "service", "rm", "hostweb");
  });

  it("containers on two different overlay networks cannot reach each other; a container on both can", async () => {
    const [db] = await live("db");
    const dbAddr = address(db, back);
    const dbVip = await vipOf("db", back);
    const fails = (script: string) => inTask("probe-front", `${script} >/dev/null 2>&1 && echo reached || echo refused`);
    expect(await fails(`timeout 3 wget -qO- http://${dbAddr}/`)).toBe("refused\n");
    expect(await fails(`timeout 3 wget -qO- http://${dbVip}/`)).toBe("refused\n");
    expect(await fails("nslookup db")).toBe("refused\n");
    expect((await inTask("probe-both", `wget -qO- http://${dbAddr}/`)).trim()).toMatch(/^[0-9a-f]{12}$/);
    expect((await inTask("probe-both", "wget -qO- http://db/")).trim()).toMatch(/^[0-9a-f]{12}$/);
    expect((await inTask("probe-both", "wget -qO- http://web/")).trim()).toMatch(/^[0-9a-f]{12}$/);
    // Nor does the replica on back reach a front address through its node (w2 runs one of web's too).
    let web: Task | undefined;
    for (const t of await live("web")) if ((await hostOf(t)) === w(2)) web = t;
    expect(await inTask("db", `timeout 3 wget -qO- http://${address(web!, front)}/ >/dev/null 2>&1 && echo reached || echo refused`)).toBe("refused\n");
  });

  it("removing a replica takes it out of DNS and of the VIP before its container is stopped", async () => {
    // Each replica says when it is told to stop; a watcher on another node asks DNS and the VIP every 20 ms.
    const serve = "echo serving; mkdir -p /www && hostname > /www/index.html && httpd -f -p 80 -h /www & trap 'echo stop-signal; exit 0' TERM; wait";
    c.ok("m1", "service", "create", "-d", "--name", "leaving", "--replicas", "3", "--network", "front", "--constraint", "node.role==worker", "busybox:1", "sh", "-c", serve);
    await eventually("leaving: 3 running", async () => (await live("leaving")).length === 3);
    const watch = "while true; do echo dns $(nslookup tasks.leaving 2>/dev/null | awk '/^Address: /{print $2}' | sort | tr '\\n' ' '); echo vip $(wget -qO- http://leaving/ || echo failed); usleep 20000; done";
    c.ok("m1", "service", "create", "-d", "--name", "watcher", "--network", "front", ...onHost("m1"), "busybox:1", "sh", "-c", watch);
    const stamped = (out: string) =>
      out.split("\n").filter(Boolean).map((l) => {
        const [what, ...words] = (l.split("| ")[1] ?? "").trim().split(" ");
        return { at: Date.parse(l.split(" ")[0]), line: l, what, words };
      });
    const watched = () => stamped(c.ok("m1", "service", "logs", "-t", "watcher"));
    await eventually("watcher sees 3", () => watched().some((l) => l.what === "dns" && l.words.length === 3));
    const before = await live("leaving");
    // Its log is followed from before the scale: a removed replica's task is deleted once it ended.
    const follow = spawnShoal("m1", ["service", "logs", "-f", "-t", "--no-trunc", "leaving"]);
    let stop: ReturnType<typeof stamped>[number] | undefined;
    let gone: Task | undefined;
    try {
      await eventually("the followed log has started", () => before.every((t) => follow.out().includes(t.id)), 30_000);
      c.ok("m1", "service", "scale", "-d", "leaving=2");
      await eventually("one replica told to stop", () => {
        stop = stamped(follow.out()).find((l) => l.what === "stop-signal");
        gone = before.find((t) => stop?.line.includes(t.id));
        return gone !== undefined;
      });
    } finally {
      follow.kill();
    }
    const addr = address(gone!, front);
    // Its hostname, which it serves, is its container id's first 12 characters.
    const itsName = gone!.status!.containerStatus!.containerId.slice(0, 12);
    const seen = watched();
    const dns = seen.filter((l) => l.what === "dns");
    const lastWith = dns.filter((l) => l.words.includes(addr)).at(-1)!;
    const firstWithout = dns.find((l) => l.at > lastWith.at)!;
    expect(firstWithout.words).toHaveLength(2);
    expect(firstWithout.at).toBeLessThan(stop!.at);
    // The VIP: the leaving replica answered it for the last time before its stop signal, the
    // others went on answering while it still ran, and no request failed.
    const vip = seen.filter((l) => l.what === "vip");
    const lastFromIt = vip.filter((l) => l.words[0] === itsName).at(-1)!;
    expect(lastFromIt.at).toBeLessThan(stop!.at);
    expect(vip.filter((l) => l.at > lastFromIt.at && l.at < stop!.at && l.words[0] !== itsName).length).toBeGreaterThan(0);
    expect(vip.filter((l) => l.at > lastFromIt.at && l.words[0] === itsName)).toEqual([]);
    expect(vip.filter((l) => l.words[0] === "failed")).toEqual([]);
    c.ok("m1", "service", "rm", "leaving", "watcher");
  });

  it("a client sending a request every 10 ms to a published port during a start-first update of 6 replicas sees no failed request", async () => {
    // A new task takes requests once it is healthy (serving), and an old one stops once out of the load balancer.
    const health = ["--health-cmd", "wget -qO- http://127.0.0.1/ >/dev/null", "--health-interval", "500ms"];
    c.ok("m1", "service", "create", "-d", "--name", "zero", "--replicas", "6", "-p", "8083:80", ...health, "busybox:1", "httpd", "-f", "-p", "80", "-h", "/var/www");
    await eventually("zero: 6 running", async () => (await live("zero")).length === 6);
    const nodes = ["m1", "m2", "m3", "w1", "w2", "w3"].map(hostAddress);
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let i = 0;
    const client = setInterval(() => {
      const host = nodes[i++ % nodes.length];
      get(host, 8083).then(
        (r) => (r.status === 200 ? seen.set(r.body.trim(), (seen.get(r.body.trim()) ?? 0) + 1) : failures.push(`${host}: status ${r.status}`)),
        (e: Error) => failures.push(`${host}: ${e.message}`),
      );
    }, 10);
    try {
      c.ok("m1", "service", "update", "-d", "--update-order", "start-first", "--image", "busybox:2", "zero");
      await eventually("update completed", async () => (await c.services()).find((s) => s.service?.spec?.annotations?.name === "zero")?.service?.updateStatus?.state === UpdateState.UPDATE_STATE_COMPLETED, 120_000);
      await new Promise((r) => setTimeout(r, 1500)); // the last old tasks stop after their successors run
    } finally {
      clearInterval(client);
    }
    await new Promise((r) => setTimeout(r, 2500)); // requests still under way
    expect(failures).toEqual([]);
    expect(seen.get("shoal v1")).toBeGreaterThan(0);
    expect(seen.get("shoal v2")).toBeGreaterThan(0);
    expect([...seen.keys()].sort()).toEqual(["shoal v1", "shoal v2"]);
    c.ok("m1", "service", "rm", "zero");
  });

  it("100 tasks created and removed repeatedly never get a duplicate address; addresses come back", async () => {
    // A /25 holds 126 hosts: the second round cannot be served without the first round's addresses.
    const churn = c.ok("m1", "network", "create", "-d", "overlay", "--subnet", "10.20.0.0/25", "churn").trim();
    const duplicates: string[] = [];
    const heldNow = async (): Promise<string[]> => {
      const ts = (await c.tasks("churn")).tasks.filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING || (t.status?.state ?? 0) <= TaskState.TASK_STATE_RUNNING);
      const addrs = ts.map((t) => address(t, churn)).filter(Boolean);
      const seen = new Set<string>();
      for (const a of addrs) if (seen.has(a)) duplicates.push(a);
      else seen.add(a);
      return addrs;
    };
    c.ok("m1", "service", "create", "-d", "--name", "churn", "--replicas", "100", "--network", "churn", "busybox:1", "sleep", "86400");
    const rounds: Set<string>[] = [];
    for (let round = 0; round < 2; round++) {
      if (round > 0) c.ok("m1", "service", "scale", "-d", "churn=100");
      await eventually(`round ${round + 1}: 100 running`, async () => (await heldNow(), (await live("churn")).length === 100), 300_000, 500);
      rounds.push(new Set((await live("churn")).map((t) => address(t, churn))));
      expect(rounds[round].size).toBe(100);
      c.ok("m1", "service", "scale", "-d", "churn=0");
      await eventually(`round ${round + 1}: all stopped`, async () => (await heldNow()).length === 0, 300_000, 500);
    }
    expect(duplicates).toEqual([]);
    expect([...rounds[1]].filter((a) => rounds[0].has(a)).length).toBeGreaterThan(0);
    c.ok("m1", "service", "rm", "churn");
    await eventually("churn network removable", () => c.shoal("m1", "network", "rm", "churn").code === 0, 60_000, 500);
  });

  it("after a worker is killed and started again, its overlays, DNS and published ports work again", async () => {
    await labKill(c.name, c.host(w(1)));
    await eventually("w1 down", async () => (await c.nodeState(w(1))) === NodeState.NODE_STATE_DOWN, 30_000);
    await labStart(c.name, c.host(w(1)));
    await eventually("w1 ready", async () => (await c.nodeState(w(1))) === NodeState.NODE_STATE_READY, 30_000);
    // Pinned to w1 (probe-front), or one on every worker (web): both come back on w1.
    await eventually("probe-front and a web replica back on w1", async () => (await live("probe-front")).length === 1 && (await c.running("web")).get(c.host(w(1))) === 1, 60_000);
    const web = await live("web");
    expect((await inTask("probe-front", "nslookup tasks.web | awk '/^Address: /{print $2}'")).trim().split("\n").sort()).toEqual(web.map((t) => address(t, front)).sort());
    const out = await inTask("probe-front", "for i in $(seq 9); do wget -qO- http://web/; done");
    expect(new Set(out.trim().split("\n")).size).toBe(3);
    await eventually("the mesh answers on w1 again", async () => (await get(hostAddress("w1"), 8080)).status === 200, 15_000);
  });

  it("swarm leave leaves no overlay device, nftables table, routing rule or namespace behind; the node joins again", async () => {
    c.ok("w2", "swarm", "leave");
    const links = onHostNet("w2", ["ip", "-o", "link"]).stdout;
    expect(links).not.toMatch(/: ov/);
    expect(onHostNet("w2", ["nft", "list", "tables"]).stdout).not.toContain("shoal-overlay");
    expect(onHostNet("w2", ["ip", "rule"]).stdout.trim().split("\n").map((l) => l.split(":")[0])).toEqual(["0", "32766", "32767"]);
    const h = findHost(c.lab, c.host(w(2)));
    expect(spawnSync("nsenter", ["--target", String(h.pid), "--mount", "--", "ls", "/run/netns"], { encoding: "utf8" }).stdout.trim()).toBe("");
    const token = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
    c.ok("w2", "swarm", "join", "--token", token, `${hostAddress("m1")}:2377`);
    await eventually("w2 serves the mesh again", async () => (await get(hostAddress("w2"), 8080)).status === 200, 30_000);
  });

  it("lab down leaves no host namespace or link behind", async () => {
    const name = c.name;
    const bridge = c.lab.bridge;
    await c.down();
    expect(existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(`${name}-`)) : []).toEqual([]);
    expect(spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout).not.toContain(bridge);
  });
});

/** `shoal ARGS` on a lab host, left running; its output so far, and a way to stop it. */
function spawnShoalOn(c: Cluster, short: string, args: string[]): { out: () => string; kill: () => void } {
  const p = spawn("nsenter", c.shoalArgs(short, ...args));
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d));
  p.stderr.on("data", (d: Buffer) => (out += d));
  return { out: () => out, kill: () => void p.kill("SIGINT") };
}

/** One GET from outside the lab (the machine's namespace, through the lab's bridge). */
function get(host: string, port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: "/", agent: false, timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
}
