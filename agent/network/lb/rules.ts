// The node's nftables table for overlay networks, rendered whole from what the managers pushed
// (pure; table.ts loads it in one atomic transaction):
// - VIPs: a container's connection to a service's VIP is DNATed to one of its running tasks,
//   round-robin (numgen). It is bridged traffic, seen by nftables through br_netfilter, so the
//   reply passes the same node's conntrack on its way back and needs no SNAT.
// - Routing mesh: a published port on any local address is DNATed to a task's address on the
//   ingress network, keeping the client's address. Host-mode ports only to the local task.
// - The mesh's return path: connections forwarded here by another node are marked with that node
//   (its ingress bridge's MAC holds its address), and their replies routed back through it. A
//   client on the node of the replica chosen is the exception: its source is rewritten (postrouting).
// - Isolation: nothing is forwarded from one overlay network to another, no container opens a
//   connection out of the overlay un-NATed, and nothing from outside the overlays (another
//   interface of the node: its single-host bridge, its uplink) opens one into an overlay unless
//   it was DNATed there (the routing mesh).
import { EndpointMode, PortProtocol, PublishMode, type PortConfig, type ServiceRecord } from "../../../proto/gen/cluster.js";
import { BRIDGE_GLOB, bridgeName } from "../overlay/names.js";

export interface LbNetwork {
  vni: number;
  ingress: boolean;
  services: ServiceRecord[];
}

/** A task's ports published in host mode: on this node only. */
export interface HostPublish {
  taskId: string;
  /** The task's address the ports lead to. */
  ip: string;
  ports: PortConfig[];
}

export interface LbInput {
  table: string;
  networks: LbNetwork[];
  hostPorts: HostPublish[];
  /** Tasks taken out before they stop: no new connection reaches them. */
  drained: ReadonlySet<string>;
  /**
   * Each ingress task's address with its node's underlay address. A client on a node, reached
   * through another node's published port, would get the reply of a replica on its own node
   * straight from there (its address is local), so for that pair alone the mesh rewrites the
   * source; every other client's address reaches the replica.
   */
  ingressTasks: { nodeIp: string; taskIp: string }[];
}

const protoName = (p: PortProtocol): string => (p === PortProtocol.PORT_PROTOCOL_UDP ? "udp" : p === PortProtocol.PORT_PROTOCOL_SCTP ? "sctp" : "tcp");
const chainId = (s: string) => s.replace(/[^a-zA-Z0-9]/g, "_");

/** `dnat to` one of the addresses (and port), each new connection the next one. */
const spread = (ips: string[], port?: { proto: string; port: number }): string =>
  `${port ? `meta l4proto ${port.proto} ` : ""}dnat to numgen inc mod ${ips.length} map { ${ips.map((ip, i) => `${i} : ${ip}`).join(", ")} }${port ? ` : ${port.port}` : ""}`;

export function renderTable(i: LbInput): string {
  const chains: string[] = [];
  const vips: string[] = [];
  const ports = new Map<string, string>(); // "tcp . 30080" → chain
  const live = (s: ServiceRecord) => s.tasks.filter((t) => !i.drained.has(t.taskId));
  for (const n of i.networks) {
    for (const s of n.services) {
      if (!n.ingress && s.mode === EndpointMode.ENDPOINT_MODE_VIP && s.vip) {
        const targets = live(s).map((t) => t.ip);
        if (targets.length === 0) continue; // nothing answers: the VIP's frames go nowhere
        const name = `vip_${chainId(s.vip)}`;
        chains.push(`  chain ${name} {\n    ${spread(targets)}\n  }`);
        vips.push(`${s.vip} : jump ${name}`);
      }
      if (!n.ingress) continue;
      for (const p of s.ports) {
        if (p.publishMode !== PublishMode.PUBLISH_MODE_INGRESS || p.publishedPort === 0) continue;
        const targets = live(s).map((t) => t.ip);
        const proto = protoName(p.protocol);
        const key = `${proto} . ${p.publishedPort}`;
        if (targets.length === 0 || ports.has(key)) continue; // no replica: the port refuses
        const name = `mesh_${proto}_${p.publishedPort}`;
        chains.push(`  chain ${name} {\n    ${spread(targets, { proto, port: p.targetPort })}\n  }`);
        ports.set(key, name);
      }
    }
  }
  for (const h of i.hostPorts) {
    if (i.drained.has(h.taskId)) continue;
    for (const p of h.ports) {
      const proto = protoName(p.protocol);
      const key = `${proto} . ${p.publishedPort}`;
      if (p.publishMode !== PublishMode.PUBLISH_MODE_HOST || p.publishedPort === 0 || ports.has(key)) continue;
      const name = `host_${proto}_${p.publishedPort}`;
      chains.push(`  chain ${name} {\n    meta l4proto ${proto} dnat to ${h.ip}:${p.targetPort}\n  }`);
      ports.set(key, name);
    }
  }
  const elements = (xs: string[]) => (xs.length > 0 ? `\n    elements = { ${xs.join(", ")} }` : "");
  const ingress = i.networks.filter((n) => n.ingress).map((n) => bridgeName(n.vni));
  const isolation = i.networks.map((n) => {
    const br = bridgeName(n.vni);
    return `    iifname "${br}" oifname "${BRIDGE_GLOB}" oifname != "${br}" drop`;
  });
  return `table ip ${i.table} {}
delete table ip ${i.table}
table ip ${i.table} {
  map vips {
    type ipv4_addr : verdict;${elements(vips)}
  }
  map ports {
    type inet_proto . inet_service : verdict;${elements([...ports].map(([k, c]) => `${k} : jump ${c}`))}
  }
${chains.join("\n")}
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr vmap @vips
    fib daddr type local meta l4proto . th dport vmap @ports
  }
  chain output {
    type nat hook output priority -100; policy accept;
    ip daddr != 127.0.0.0/8 fib daddr type local meta l4proto . th dport vmap @ports
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${ingress.length > 0 && i.ingressTasks.length > 0 ? ingress.map((br) => `    oifname "${br}" ct status dnat ip saddr . ip daddr { ${i.ingressTasks.map((t) => `${t.nodeIp} . ${t.taskIp}`).join(", ")} } masquerade`).join("\n") : ""}
  }
  chain mesh_return {
    type filter hook prerouting priority mangle; policy accept;
${ingress.map((br) => `    iifname "${br}" ct state new ct mark set @ll,64,32\n    iifname "${br}" meta pkttype host ct direction reply meta mark set ct mark`).join("\n")}
  }
  chain isolation {
    type filter hook forward priority filter; policy accept;
${isolation.join("\n")}
    iifname "${BRIDGE_GLOB}" oifname != "${BRIDGE_GLOB}" ct state new drop
    oifname "${BRIDGE_GLOB}" iifname != "${BRIDGE_GLOB}" ct status dnat accept
    oifname "${BRIDGE_GLOB}" iifname != "${BRIDGE_GLOB}" ct state new drop
  }
}
`;
}
