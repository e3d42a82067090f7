// Network specs as the control API takes them: the ingress network's spec, the checks a new
// network must pass, and whether one may be removed. The allocator gives the rest (VNI, subnet).
import type { NetworkSpec } from "../../proto/gen/cluster.js";
import { formatCidr, overlaps, parseCidr, parseIp, size } from "../../agent/network/ipv4.js";
import type { ReadTx } from "../store/types.js";
import { holdsAddresses, usesIngress } from "./plan.js";

/** The routing mesh's subnet unless swarm init is given another: room for every node and published task. */
export const DEFAULT_INGRESS_SUBNET = "10.0.0.0/16";

/** The ingress network swarm init creates: every node joins it, and every task with a port published through the mesh. */
export function ingressNetworkSpec(subnet = DEFAULT_INGRESS_SUBNET): NetworkSpec {
  parseCidr(subnet);
  return {
    annotations: { name: "ingress", labels: {} },
    driver: "overlay",
    ipam: { driver: "default", configs: [{ subnet, gateway: "", range: "" }] },
    attachable: false,
    ingress: true,
  };
}

/** Throws a one-line error saying what is wrong with a network to be created beside the existing ones. */
export function checkNetworkSpec(tx: ReadTx, spec: NetworkSpec): void {
  const name = spec.annotations?.name ?? "";
  if (!name) throw new Error("a network needs a name: shoal network create -d overlay NAME");
  if (spec.driver && spec.driver !== "overlay") throw new Error(`network ${name}: driver ${spec.driver} is not supported: use -d overlay`);
  const configs = spec.ipam?.configs ?? [];
  if (configs.length > 1) throw new Error(`network ${name}: one subnet per network: give --subnet once`);
  if (spec.ingress && tx.find("network").some((n) => n.spec?.ingress)) throw new Error(`network ${name}: the swarm already has an ingress network: remove it first`);
  const cfg = configs[0];
  if (!cfg?.subnet) return;
  const subnet = parseCidr(cfg.subnet);
  if (formatCidr(subnet) !== cfg.subnet) throw new Error(`network ${name}: subnet ${cfg.subnet} has host bits set: use ${formatCidr(subnet)}`);
  if (cfg.gateway) {
    const gw = parseIp(cfg.gateway);
    if (gw <= subnet.base || gw >= subnet.base + size(subnet) - 1) throw new Error(`network ${name}: gateway ${cfg.gateway} is not a host address of ${cfg.subnet}`);
  }
  for (const n of tx.find("network")) {
    const theirs = n.ipam?.configs[0]?.subnet || n.spec?.ipam?.configs[0]?.subnet;
    if (theirs && overlaps(parseCidr(theirs), subnet)) {
      throw new Error(`network ${name}: subnet ${cfg.subnet} overlaps ${theirs} of network ${n.spec?.annotations?.name ?? n.id}: pick another subnet`);
    }
  }
}

/** Why the network cannot be removed now (a service or a live task uses it), or undefined. */
export function networkInUse(tx: ReadTx, networkId: string): string | undefined {
  const ingress = tx.get("network", networkId)?.spec?.ingress ?? false;
  for (const s of tx.find("service")) {
    if ((s.spec?.task?.networks ?? []).some((a) => a.target === networkId)) return `service ${s.spec?.annotations?.name ?? s.id} is attached to it: remove the service or its --network first`;
    if (ingress && usesIngress(s)) return `service ${s.spec?.annotations?.name ?? s.id} publishes ports through the routing mesh on it: remove the service or its --publish first`;
  }
  const live = tx.find("task").find((t) => holdsAddresses(t) && t.networks.some((a) => a.networkId === networkId));
  if (live) return `task ${live.annotations?.name || live.id} still has an address on it: wait until it has stopped`;
  return undefined;
}
