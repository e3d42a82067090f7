// A container's interface on one overlay network: a veth pair from its namespace to the
// network's bridge, with the task's address and the MAC derived from it. Replies from that
// address always leave through the same network (a routing rule and table of its own, numbered
// by the VNI): that is how a routing-mesh or host-port reply finds its way back to the node that
// took the connection, without rewriting the client's address.
import { existsSync } from "node:fs";
import { ipBatch } from "../cmd.js";
import { formatCidr, parseCidr } from "../ipv4.js";
import { bestEffort, bridgeBatch, ipIn, ipJson } from "./exec.js";
import { macOf } from "./mac.js";
import { bridgeName, hostEndName, OVERLAY_MTU } from "./names.js";

export interface EndpointSpec {
  netnsPath: string;
  networkId: string;
  taskId: string;
  /** The interface's name inside the container. */
  ifName: string;
  /** The task's address, CIDR. */
  address: string;
  vni: number;
  /** Where replies from this address go: the node's own address on the network. */
  gateway: string;
}

/** Routing rules of the endpoint's table come before the main table's. */
const RULE_PREF = 1000;

const ipOf = (cidr: string): string => cidr.split("/")[0];

/** Creates the endpoint, or repairs it (idempotent): the pair, the address, the routing, the bridge port. */
export async function attachEndpoint(e: EndpointSpec): Promise<void> {
  if (!existsSync(e.netnsPath)) throw new Error(`attach to network ${e.networkId}: the container's network namespace ${e.netnsPath} does not exist`);
  const host = hostEndName(e.networkId, e.taskId);
  const ip = ipOf(e.address);
  const mac = macOf(ip);
  const subnet = formatCidr(parseCidr(e.address));
  const created = !existsSync(`/sys/class/net/${host}`);
  try {
    if (created) {
      const theirs = (await ipJson<{ address?: string }[]>(["link", "show", "dev", e.ifName], e.netnsPath))?.[0];
      if (theirs && theirs.address !== mac) throw new Error(`the container already has an interface ${e.ifName}: attach with another interface name`);
      // Ours, but its host end is gone (a half-finished attach): start over.
      if (theirs) await ipIn(e.netnsPath, [`link del ${e.ifName}`]);
      await ipIn(e.netnsPath, [`link add ${e.ifName} mtu ${OVERLAY_MTU} address ${mac} type veth peer name ${host} mtu ${OVERLAY_MTU} netns ${process.pid}`]);
    }
    await bestEffort("ip", [`rule del pref ${RULE_PREF} from ${ip} table ${e.vni}`], e.netnsPath);
    await ipIn(e.netnsPath, [
      `addr replace ${e.address} dev ${e.ifName}`,
      `link set ${e.ifName} up`,
      `route replace ${subnet} dev ${e.ifName} table ${e.vni}`,
      `route replace default via ${e.gateway} dev ${e.ifName} table ${e.vni}`,
      `rule add pref ${RULE_PREF} from ${ip} table ${e.vni}`,
    ]);
    const br = bridgeName(e.vni);
    await ipBatch([`link set ${host} master ${br} mtu ${OVERLAY_MTU} up`, `neigh replace ${ip} lladdr ${mac} dev ${br} nud permanent`]);
    // Frames for the container go straight to its port: the bridge need not flood to find it.
    await bridgeBatch([`fdb replace ${mac} dev ${host} master static`]);
  } catch (err) {
    if (created) await detachEndpoint(e);
    throw new Error(`attach task ${e.taskId} to network ${e.networkId}: ${(err as Error).message}`);
  }
}

/** Removes the endpoint; safe on a half-made or already removed one, and once the container is gone. */
export async function detachEndpoint(e: Pick<EndpointSpec, "netnsPath" | "networkId" | "taskId" | "address" | "vni">): Promise<void> {
  const ip = ipOf(e.address);
  // Deleting one end of the pair deletes both, and with them the bridge port and its fdb entry.
  await bestEffort("ip", [`link del ${hostEndName(e.networkId, e.taskId)}`, `neigh del ${ip} dev ${bridgeName(e.vni)}`]);
  if (existsSync(e.netnsPath)) await bestEffort("ip", [`rule del pref ${RULE_PREF} from ${ip} table ${e.vni}`, `route flush table ${e.vni}`], e.netnsPath);
}
