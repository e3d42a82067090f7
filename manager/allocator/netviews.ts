// What each agent must be told about the overlay networks it serves, read from the store: for
// every network with a task on the node (and the ingress network on every node), the endpoints
// on other nodes (for the VXLAN forwarding and neighbour entries; the other nodes' ingress
// addresses only where a mesh task runs) and the services on it (for DNS and load balancing).
// Built once per read for all nodes; the dispatcher pushes forNode().
import { EndpointMode, PublishMode, TaskState, type Network, type NetworkPeer, type NodeNetwork, type ServiceRecord, type Task } from "../../proto/gen/cluster.js";
import { macOf } from "../../agent/network/overlay/mac.js";
import { byAllocation, type ReadTx } from "../store/types.js";
import { holdsAddresses, isAllocated, usesIngress } from "./plan.js";

interface Endpoint {
  nodeId: string;
  ip: string;
  node: boolean;
}

interface NetworkInfo {
  network: Network;
  endpoints: Endpoint[];
  services: ServiceRecord[];
}

const bare = (cidr: string): string => cidr.split("/")[0];

/** The IPv4 host of a node's "host:port" address; undefined for a node that has not said where it is. */
function underlayIp(addr: string | undefined): string | undefined {
  const host = addr?.slice(0, addr.lastIndexOf(":"));
  return host && /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined;
}

export class NetworkViews {
  private constructor(
    private readonly networks: Map<string, NetworkInfo>,
    private readonly nodeIps: Map<string, string>,
    private readonly ingressAddress: Map<string, string>,
    private readonly nodeNetworks: Map<string, Set<string>>,
    private readonly ingressId: string | undefined,
  ) {}

  static build(tx: ReadTx): NetworkViews {
    const networks = new Map<string, NetworkInfo>();
    for (const n of tx.find("network")) if (isAllocated(n)) networks.set(n.id, { network: n, endpoints: [], services: [] });
    const ingressId = [...networks.values()].find((i) => i.network.spec?.ingress)?.network.id;
    const nodeIps = new Map<string, string>();
    const ingressAddress = new Map<string, string>();
    for (const n of tx.find("node")) {
      const ip = underlayIp(n.status?.addr);
      if (ip) nodeIps.set(n.id, ip);
      const mine = n.attachments?.networks.find((a) => a.networkId === ingressId)?.addresses[0];
      if (mine && ingressId) {
        ingressAddress.set(n.id, mine);
        networks.get(ingressId)!.endpoints.push({ nodeId: n.id, ip: bare(mine), node: true });
      }
    }
    const nodeNetworks = new Map<string, Set<string>>();
    // Only tasks on some network have endpoints or records: in a large cluster most have none,
    // and the views are built on every change to any network's members.
    const tasks = tx.find("task", byAllocation()).filter((t) => t.networks.length > 0);
    const runningOf = new Map<string, Task[]>();
    for (const t of tasks) {
      if (t.desiredState === TaskState.TASK_STATE_RUNNING && t.status?.state === TaskState.TASK_STATE_RUNNING) {
        const list = runningOf.get(t.serviceId);
        if (list) list.push(t);
        else runningOf.set(t.serviceId, [t]);
      }
      // From ASSIGNED on, the container may exist on its node: its frames must find it.
      if (!t.nodeId || !holdsAddresses(t) || (t.status?.state ?? 0) < TaskState.TASK_STATE_ASSIGNED) continue;
      for (const a of t.networks) {
        const info = networks.get(a.networkId);
        if (!info || a.addresses.length === 0) continue;
        info.endpoints.push({ nodeId: t.nodeId, ip: bare(a.addresses[0]), node: false });
        let set = nodeNetworks.get(t.nodeId);
        if (!set) nodeNetworks.set(t.nodeId, (set = new Set()));
        set.add(a.networkId);
      }
    }
    for (const s of tx.find("service")) {
      const attached = (s.spec?.task?.networks ?? []).map((a) => ({ id: a.target, aliases: a.aliases }));
      if (ingressId && usesIngress(s)) attached.push({ id: ingressId, aliases: [] });
      if (attached.length === 0) continue;
      const mine = runningOf.get(s.id) ?? [];
      for (const { id, aliases } of attached) {
        const info = networks.get(id);
        if (!info) continue;
        const ingress = id === ingressId;
        const vip = s.endpoint?.virtualIps.find((v) => v.networkId === id)?.addr;
        info.services.push({
          serviceId: s.id,
          name: s.spec?.annotations?.name ?? s.id,
          mode: s.spec?.endpoint?.mode ?? EndpointMode.ENDPOINT_MODE_VIP,
          vip: vip ? bare(vip) : "",
          aliases,
          tasks: mine.flatMap((t) => {
            const addr = t.networks.find((a) => a.networkId === id)?.addresses[0];
            return addr ? [{ taskId: t.id, name: t.annotations?.name ?? "", ip: bare(addr) }] : [];
          }),
          ports: ingress ? (s.endpoint?.ports ?? []).filter((p) => p.publishedPort > 0 && p.publishMode === PublishMode.PUBLISH_MODE_INGRESS) : [],
        });
      }
    }
    return new NetworkViews(networks, nodeIps, ingressAddress, nodeNetworks, ingressId);
  }

  /** Nodes running a task on the ingress network: the only ones told of the other nodes' ingress addresses. */
  meshNodes(): string[] {
    const id = this.ingressId;
    if (!id) return [];
    return [...this.nodeNetworks].filter(([, nets]) => nets.has(id)).map(([n]) => n);
  }

  /** The networks a node serves, each with its peers on other nodes and its services. */
  forNode(nodeId: string): NodeNetwork[] {
    const ids = new Set(this.nodeNetworks.get(nodeId) ?? []);
    if (this.ingressId && this.ingressAddress.has(nodeId)) ids.add(this.ingressId);
    const out: NodeNetwork[] = [];
    for (const id of [...ids].sort()) {
      const info = this.networks.get(id)!;
      const n = info.network;
      const cfg = n.ipam!.configs[0];
      const ingress = id === this.ingressId;
      const prefix = cfg.subnet.split("/")[1];
      // The other nodes' own ingress addresses matter only where a mesh task runs: its replies
      // go back through the node that took the connection (the mesh's return routes). A node
      // with no such task only forwards to tasks, so it is not told of every node: in a large
      // swarm that list would be pushed to every node on every join.
      const nodePeers = ingress && this.nodeNetworks.get(nodeId)?.has(id);
      const peers: NetworkPeer[] = [];
      for (const e of info.endpoints) {
        const nodeIp = this.nodeIps.get(e.nodeId);
        if (e.nodeId !== nodeId && nodeIp && (!e.node || nodePeers)) peers.push({ nodeIp, ip: e.ip, mac: macOf(e.ip), node: e.node });
      }
      peers.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
      out.push({
        networkId: id,
        name: n.spec?.annotations?.name ?? id,
        vni: n.driverState!.vni,
        subnet: cfg.subnet,
        bridgeAddress: ingress ? this.ingressAddress.get(nodeId)! : `${cfg.gateway}/${prefix}`,
        ingress,
        peers,
        services: info.services,
      });
    }
    return out;
  }
}
