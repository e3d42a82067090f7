// The data plane's pure pieces (names, DNS answers, peer commands, the nftables script), beside
// the tests that run them for real in overlay.test.ts. None needs root.
import { describe, expect, test } from "vitest";
import dnsPacket from "dns-packet";
import { endianness } from "node:os";
import { EndpointMode, PublishMode, type ServiceRecord } from "../../../proto/gen/cluster.js";
import { NameTable } from "../../../agent/network/dns/records.js";
import { DnsServer } from "../../../agent/network/dns/server.js";
import { meshMark } from "../../../agent/network/lb/mesh.js";
import { renderTable } from "../../../agent/network/lb/rules.js";
import { macOf } from "../../../agent/network/overlay/mac.js";
import { peerCommands } from "../../../agent/network/overlay/peers.js";

const web: ServiceRecord = {
  serviceId: "s1",
  name: "web",
  mode: EndpointMode.ENDPOINT_MODE_VIP,
  vip: "10.1.0.2",
  aliases: ["www"],
  tasks: [
    { taskId: "a", name: "web.1", ip: "10.1.0.3" },
    { taskId: "b", name: "web.2", ip: "10.1.0.4" },
  ],
  ports: [],
};
const db: ServiceRecord = { serviceId: "s2", name: "db", mode: EndpointMode.ENDPOINT_MODE_DNSRR, vip: "", aliases: [], tasks: [{ taskId: "c", name: "db.1", ip: "10.2.0.3" }], ports: [] };

describe("names", () => {
  const drained = new Set<string>();
  const names = new NameTable(drained);
  names.set("front", [web]);
  names.set("back", [db]);
  const sorted = (x: string[] | undefined) => x && [...x].sort();

  test("a service answers its VIP, an alias too, tasks.NAME and dnsrr the tasks, a task name its own address", () => {
    expect(names.lookup("web", ["front"])).toEqual(["10.1.0.2"]);
    expect(names.lookup("WWW.", ["front"])).toEqual(["10.1.0.2"]);
    expect(sorted(names.lookup("tasks.web", ["front"]))).toEqual(["10.1.0.3", "10.1.0.4"]);
    expect(names.lookup("db", ["back"])).toEqual(["10.2.0.3"]);
    expect(names.lookup("web.2", ["front"])).toEqual(["10.1.0.4"]);
  });

  test("names of networks the asker is not on are not ours to answer (they are forwarded)", () => {
    expect(names.lookup("db", ["front"])).toBeUndefined();
    expect(names.lookup("example.com", ["front", "back"])).toBeUndefined();
  });

  test("a drained task is left out; a known name with no task answers no address", () => {
    drained.add("a");
    expect(names.lookup("tasks.web", ["front"])).toEqual(["10.1.0.4"]);
    drained.add("c");
    expect(names.lookup("db", ["back"])).toEqual([]);
    drained.clear();
  });
});

// dns-packet decodes the response code, but its types do not name it.
const rcode = (p: object): string => (p as { rcode?: string }).rcode ?? "";

describe("DNS answers", () => {
  const names = new NameTable();
  names.set("front", [{ ...web, mode: EndpointMode.ENDPOINT_MODE_DNSRR, tasks: Array.from({ length: 60 }, (_, i) => ({ taskId: `t${i}`, name: "", ip: `10.1.1.${i + 1}` })) }]);
  // No upstream: a name that is not ours fails at once.
  const server = new DnsServer(names, { upstreams: [], askerNetworks: () => ["front"] });
  const ask = async (name: string, type: "A" | "AAAA", transport: "udp" | "tcp" = "udp") =>
    dnsPacket.decode((await server.answer(dnsPacket.encode({ type: "query", id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), "front", "10.1.0.9", transport))!);

  test("A answers every address over TCP; over UDP as many as fit in 512 bytes, with the truncation bit", async () => {
    const tcp = await ask("web", "A", "tcp");
    expect(tcp.answers).toHaveLength(60);
    expect(tcp.flag_tc).toBe(false);
    const udp = await ask("web", "A");
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers!.length).toBeGreaterThan(10);
    expect(dnsPacket.encode(udp).length).toBeLessThanOrEqual(512);
    expect(udp.id).toBe(7);
  });

  test("AAAA for a swarm name is an empty answer, not a forward; an unknown name without upstream is SERVFAIL", async () => {
    const aaaa = await ask("web", "AAAA");
    expect(rcode(aaaa)).toBe("NOERROR");
    expect(aaaa.answers).toEqual([]);
    expect(rcode(await ask("nowhere.example", "A"))).toBe("SERVFAIL");
  });
});

describe("kernel commands", () => {
  test("peers: only the difference, a VIP (no node) gets only its ARP answer", () => {
    const p = (ip: string, nodeIp: string) => ({ nodeIp, ip, mac: macOf(ip), node: false });
    const cmds = peerCommands(4096, [p("10.1.0.3", "198.18.0.1"), p("10.1.0.4", "198.18.0.1")], [p("10.1.0.3", "198.18.0.1"), p("10.1.0.4", "198.18.0.2"), p("10.1.0.2", "")]);
    expect(cmds.remove.ip).toEqual(["neigh del 10.1.0.4 dev ov-vx-4096", "neigh del 10.1.0.4 dev ov-br-4096"]);
    expect(cmds.add.bridge).toEqual(["fdb replace 02:42:0a:01:00:04 dev ov-vx-4096 master static", "fdb replace 02:42:0a:01:00:04 dev ov-vx-4096 dst 198.18.0.2 self permanent"]);
    expect(cmds.add.ip).toContain("neigh replace 10.1.0.2 lladdr 02:42:0a:01:00:02 dev ov-vx-4096 nud permanent");
    expect(cmds.add.ip.join("\n")).not.toMatch(/10\.1\.0\.2 .*ov-br/);
  });

  test("the table balances a VIP and a mesh port over live tasks only, and leaves out a service with none", () => {
    const mesh: ServiceRecord = { ...web, vip: "", tasks: [{ taskId: "a", name: "", ip: "10.0.0.3" }, { taskId: "b", name: "", ip: "10.0.0.4" }], ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 30080, publishMode: PublishMode.PUBLISH_MODE_INGRESS }] };
    const script = renderTable({
      table: "t",
      networks: [
        { vni: 4096, ingress: true, services: [mesh] },
        { vni: 4097, ingress: false, services: [web, { ...web, vip: "10.1.0.9", tasks: [] }] },
      ],
      hostPorts: [],
      drained: new Set(["b"]),
      ingressTasks: [{ nodeIp: "192.168.0.1", taskIp: "10.0.0.3" }, { nodeIp: "192.168.0.2", taskIp: "10.0.0.4" }],
    });
    expect(script).toContain("dnat to numgen inc mod 1 map { 0 : 10.1.0.3 }");
    expect(script).toContain("meta l4proto tcp dnat to numgen inc mod 1 map { 0 : 10.0.0.3 } : 80");
    expect(script).toContain("tcp . 30080 : jump mesh_tcp_30080");
    expect(script).not.toContain("10.1.0.9");
    expect(script).toContain('iifname "ov-br-4097" oifname "ov-br-*" oifname != "ov-br-4097" drop');
    expect(script).toContain('iifname "ov-br-4096" ct state new ct mark set @ll,64,32');
    // A client on the chosen replica's own node gets its source rewritten; anyone else keeps theirs.
    expect(script).toContain('oifname "ov-br-4096" ct status dnat ip saddr . ip daddr { 192.168.0.1 . 10.0.0.3, 192.168.0.2 . 10.0.0.4 } masquerade');
    // Into an overlay from another interface of the node, only what the mesh DNATed there.
    expect(script).toContain('oifname "ov-br-*" iifname != "ov-br-*" ct status dnat accept\n    oifname "ov-br-*" iifname != "ov-br-*" ct state new drop');
  });

  test("the mesh mark is the ingress address's bytes as nftables stores them", () => {
    const m = meshMark("10.0.0.2");
    // Written back in the machine's order, the number is the address's bytes.
    const b = Buffer.alloc(4);
    if (endianness() === "LE") b.writeUInt32LE(m);
    else b.writeUInt32BE(m);
    expect([...b]).toEqual([10, 0, 0, 2]);
  });
});
