// One overlay network's devices on a node: a VXLAN device (no learning: the managers say where
// every endpoint is; proxy: it answers ARP from its neighbour table, so no broadcast crosses the
// tunnel) enslaved to a bridge that holds the node's address on the network.
import { existsSync, writeFileSync } from "node:fs";
import { ipBatch, run } from "../cmd.js";
import { formatCidr, overlaps, parseCidr, parseIp } from "../ipv4.js";
import { bestEffort, ipJson } from "./exec.js";
import { macOf } from "./mac.js";
import { bridgeName, OVERLAY_MTU, VXLAN_PORT, vxlanName } from "./names.js";

export interface NetworkDevices {
  vni: number;
  /** The node's address on the network, CIDR: the gateway, or on ingress the node's own. */
  bridgeAddress: string;
  /** This node's underlay address: the tunnel's local end. */
  localIp: string;
  subnet: string;
  ingress: boolean;
}

interface Link {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

const link = async (name: string): Promise<Link | undefined> => (await ipJson<Link[]>(["-d", "link", "show", "dev", name]))?.[0];

/**
 * The bridge's MAC. On ingress it is derived from the node's address there: a replica's node reads
 * it off a forwarded connection's frames to send the replies back through the node that took it
 * (lb/mesh.ts). Elsewhere it is stable per node, so containers' ARP entries for the gateway stay
 * right when the bridge is made again.
 */
export function bridgeMac(d: NetworkDevices): string {
  if (d.ingress) return macOf(d.bridgeAddress.split("/")[0]);
  return "0a" + macOf(d.localIp).slice(2);
}

/** Routes on this host that the network's subnet would shadow, other than its own bridge's. */
async function clashingRoute(d: NetworkDevices): Promise<string | undefined> {
  const routes = (await ipJson<{ dst: string; dev?: string }[]>(["-4", "route", "show"])) ?? [];
  const mine = parseCidr(d.subnet);
  for (const r of routes) {
    if (r.dst === "default" || r.dev === bridgeName(d.vni)) continue;
    const [ip, prefix = "32"] = r.dst.split("/");
    if (overlaps(mine, { base: parseIp(ip), prefix: Number(prefix) })) return `${r.dst} dev ${r.dev ?? "?"}`;
  }
  return undefined;
}

/** Whether the kernel passes bridged IPv4 through nftables: VIPs and isolation depend on it. */
async function ensureBridgeNetfilter(): Promise<void> {
  if (!existsSync("/proc/sys/net/bridge")) await run("modprobe", ["br_netfilter"]).catch(() => undefined);
  if (!existsSync("/proc/sys/net/bridge")) throw new Error("overlay networks need the br_netfilter kernel module: run modprobe br_netfilter");
  writeFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
}

/**
 * Creates the devices, or repairs them: a device with other settings is made again, a missing
 * one made anew. Returns true when either device was (re)created, so that what hung on it (the
 * forwarding entries, the containers' veths) must be put back.
 */
export async function ensureDevices(d: NetworkDevices): Promise<boolean> {
  await ensureBridgeNetfilter();
  const vx = vxlanName(d.vni);
  const br = bridgeName(d.vni);
  const mac = bridgeMac(d);
  const [curVx, curBr] = [await link(vx), await link(br)];
  const info = curVx?.linkinfo?.info_data;
  const vxOk = curVx?.linkinfo?.info_kind === "vxlan" && info?.id === d.vni && info.local === d.localIp && info.port === VXLAN_PORT && info.learning === false && info.proxy === true;
  const brOk = curBr?.linkinfo?.info_kind === "bridge";
  if (!brOk) {
    const clash = await clashingRoute(d);
    if (clash) throw new Error(`overlay network subnet ${d.subnet} overlaps the route ${clash} on this node: remove the network and create it with another --subnet`);
  }
  const lines: string[] = [];
  if (curVx && !vxOk) lines.push(`link del ${vx}`);
  if (curBr && !brOk) lines.push(`link del ${br}`);
  if (!brOk) lines.push(`link add ${br} mtu ${OVERLAY_MTU} address ${mac} type bridge`);
  if (!vxOk) lines.push(`link add ${vx} mtu ${OVERLAY_MTU} type vxlan id ${d.vni} dstport ${VXLAN_PORT} local ${d.localIp} nolearning proxy`);
  const wanted = d.bridgeAddress;
  for (const a of curBr && brOk ? ((await ipJson<Link[]>(["addr", "show", "dev", br]))?.[0]?.addr_info ?? []) : []) {
    if (a.family === "inet" && `${a.local}/${a.prefixlen}` !== wanted) lines.push(`addr del ${a.local}/${a.prefixlen} dev ${br}`);
  }
  lines.push(`addr replace ${wanted} dev ${br}`, `link set ${br} address ${mac} mtu ${OVERLAY_MTU} up`, `link set ${vx} master ${br} mtu ${OVERLAY_MTU} up`);
  try {
    await ipBatch(lines);
  } catch (e) {
    // Nothing half-made stays behind: a later call starts over.
    if (!vxOk) await bestEffort("ip", [`link del ${vx}`]);
    if (!brOk) await bestEffort("ip", [`link del ${br}`]);
    throw new Error(`overlay network ${formatCidr(parseCidr(d.subnet))} (VNI ${d.vni}): ${(e as Error).message}`);
  }
  // Routing back out of the bridge it came in on is how VIP and mesh replies travel: no redirects.
  writeFileSync(`/proc/sys/net/ipv4/conf/${br}/send_redirects`, "0");
  return !vxOk || !brOk;
}

/** Removes the network's devices; whatever of them is already gone is fine. */
export async function removeDevices(vni: number): Promise<void> {
  await bestEffort("ip", [`link del ${vxlanName(vni)}`, `link del ${bridgeName(vni)}`]);
}
