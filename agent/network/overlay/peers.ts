// Where frames for another node's endpoints go: for each peer, a neighbour entry (the VXLAN
// device answers ARP from it, and the bridge's own lookups find it) and forwarding entries
// (the bridge sends the MAC to the VXLAN port, which tunnels it to the peer's node). Pure: the
// commands that take the kernel from one peer list to the next. A peer without a node is an
// address answered here and living nowhere: a VIP, whose frames are DNATed before they are
// forwarded, so ARP for it must be answered but it needs no forwarding entry.
import type { NetworkPeer } from "../../../proto/gen/cluster.js";
import { bridgeName, vxlanName } from "./names.js";

export interface PeerCommands {
  /** Run first, failures ignored: entries that may already be gone. */
  remove: { ip: string[]; bridge: string[] };
  add: { ip: string[]; bridge: string[] };
}

const same = (a: NetworkPeer, b: NetworkPeer): boolean => a.nodeIp === b.nodeIp && a.mac === b.mac;

export function peerCommands(vni: number, before: readonly NetworkPeer[], after: readonly NetworkPeer[]): PeerCommands {
  const vx = vxlanName(vni);
  const br = bridgeName(vni);
  const next = new Map(after.map((p) => [p.ip, p]));
  const prev = new Map(before.map((p) => [p.ip, p]));
  const out: PeerCommands = { remove: { ip: [], bridge: [] }, add: { ip: [], bridge: [] } };
  for (const p of before) {
    const n = next.get(p.ip);
    if (n && same(n, p)) continue;
    out.remove.ip.push(`neigh del ${p.ip} dev ${vx}`);
    if (!p.nodeIp) continue;
    out.remove.ip.push(`neigh del ${p.ip} dev ${br}`);
    out.remove.bridge.push(`fdb del ${p.mac} dev ${vx} master`, `fdb del ${p.mac} dev ${vx} dst ${p.nodeIp} self`);
  }
  for (const p of after) {
    const o = prev.get(p.ip);
    if (o && same(o, p)) continue;
    out.add.ip.push(`neigh replace ${p.ip} lladdr ${p.mac} dev ${vx} nud permanent`);
    if (!p.nodeIp) continue;
    out.add.ip.push(`neigh replace ${p.ip} lladdr ${p.mac} dev ${br} nud permanent`);
    out.add.bridge.push(`fdb replace ${p.mac} dev ${vx} master static`, `fdb replace ${p.mac} dev ${vx} dst ${p.nodeIp} self permanent`);
  }
  return out;
}
