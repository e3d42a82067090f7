// One allocator pass as a pure function: from every network, service, node and task it decides
// what to allocate (VNIs, subnets, task addresses, virtual IPs, node addresses on the ingress
// network, routing-mesh ports) and which NEW tasks are ready to become PENDING (tasks needing
// none of it never are NEW: see needsAllocation). What is in use is
// derived from the objects themselves, so the decision needs no memory between passes.
import {
  Endpoint,
  EndpointMode,
  PublishMode,
  TaskState,
  type EndpointVirtualIP,
  type Network,
  type NetworkAttachment,
  type Node,
  type PortConfig,
  type Service,
  type Task,
} from "../../proto/gen/cluster.js";
import { formatCidr, formatIp, parseCidr, parseIp, type Subnet } from "../../agent/network/ipv4.js";
import { AddressSpace, addressOf, NumberPool, SubnetPool } from "./pools.js";

export interface AllocatorOptions {
  /** Where networks created without a subnet get theirs: split into /defaultPrefix. */
  defaultPool: string;
  defaultPrefix: number;
  firstVni: number;
  /** Ports given to routing-mesh ports published without a number. */
  portRange: [number, number];
}

// 10.0.0.0/9 rather than all of 10/8: `shoal lab` puts its hosts in 10.128.0.0/9, and an overlay
// subnet must never shadow the underlay's routes.
export const DEFAULT_ALLOCATOR_OPTIONS: AllocatorOptions = { defaultPool: "10.0.0.0/9", defaultPrefix: 24, firstVni: 4096, portRange: [30000, 32767] };
const MAX_VNI = 2 ** 24 - 1;

export interface ClusterObjects {
  networks: Network[];
  services: Service[];
  nodes: Node[];
  tasks: Task[];
}

/** What a pass writes: each object as it should become. */
export interface Allocation {
  networks: Network[];
  nodes: Node[];
  services: Service[];
  /** NEW tasks that became PENDING with their addresses, or stay NEW with a new reason. */
  tasks: Task[];
  /** Things the pass could not do or found wrong, one line each. */
  problems: string[];
}

export const isAllocated = (n: Network): boolean => (n.driverState?.vni ?? 0) > 0 && !!n.ipam?.configs[0]?.subnet;

/** Whether a task's addresses are still in use: from the time it may reach a node until it has ended. */
export function holdsAddresses(t: Task): boolean {
  const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
  if (state > TaskState.TASK_STATE_RUNNING) return false;
  // Given up before any node got it: no container can be using the addresses.
  return !(state < TaskState.TASK_STATE_ASSIGNED && t.desiredState > TaskState.TASK_STATE_RUNNING);
}

/**
 * Whether a service's tasks need anything from the allocator: an endpoint (virtual IPs, published
 * ports) or a network to be attached to. Tasks of a service that needs neither are created
 * PENDING by the orchestrator: a pass here would only have moved them from NEW to PENDING, one
 * Raft write per task (a quarter of a task's writes on the way to running) and a loop's delay.
 */
export function needsAllocation(s: Service): boolean {
  return !!s.spec?.endpoint || (s.spec?.task?.networks.length ?? 0) > 0;
}

/** Ports published through the routing mesh need the task on the ingress network. */
export const usesIngress = (s: Service | undefined): boolean => (s?.spec?.endpoint?.ports ?? []).some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS);

const byAge = (a: { id: string; meta?: { createdAt: number } }, b: { id: string; meta?: { createdAt: number } }): number =>
  (a.meta?.createdAt ?? 0) - (b.meta?.createdAt ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const netName = (n: Network | undefined, id: string): string => n?.spec?.annotations?.name || id;
const portKey = (p: PortConfig): string => `${p.targetPort}/${p.protocol}/${p.name}`;
const sameEndpoint = (a: Endpoint | undefined, b: Endpoint | undefined): boolean =>
  JSON.stringify(Endpoint.toJSON(Endpoint.fromPartial(a ?? {}))) === JSON.stringify(Endpoint.toJSON(Endpoint.fromPartial(b ?? {})));

interface ServiceEndpoint {
  endpoint: Endpoint | undefined;
  /** Why its tasks must wait, if they must. */
  waiting?: string;
}

export function planAllocation(objs: ClusterObjects, now: number, o: AllocatorOptions = DEFAULT_ALLOCATOR_OPTIONS): Allocation {
  const out: Allocation = { networks: [], nodes: [], services: [], tasks: [], problems: [] };
  const networks = [...objs.networks].sort(byAge);
  const networkById = new Map(networks.map((n) => [n.id, n]));
  const spaces = allocateNetworks(networks, o, out);
  const ingress = networks.find((n) => n.spec?.ingress && spaces.has(n.id));

  // Phase 1: everything already allocated and still in use is reserved, before anything new is
  // handed out, so that a new allocation can never take an address someone still holds.
  const reserve = (networkId: string, cidr: string, who: string): boolean => {
    const space = spaces.get(networkId);
    const ip = addressOf(cidr);
    if (!space || ip === undefined) return false;
    if (space.take(ip, who)) return true;
    const holder = space.holder(ip);
    if (holder !== who) out.problems.push(`address ${cidr} on network ${netName(networkById.get(networkId), networkId)} is held by both ${holder ?? "nobody"} and ${who}`);
    return holder === who;
  };
  // Only tasks with addresses are sorted: most tasks of a large cluster have none to reserve.
  for (const t of objs.tasks.filter((x) => x.networks.length > 0 && holdsAddresses(x)).sort(byAge)) {
    for (const a of t.networks) for (const addr of a.addresses) reserve(a.networkId, addr, `task ${t.id}`);
  }
  const nodeHasIngress = new Set<string>();
  // Sorted for a fixed order among clashes; only the nodes holding some address need it (a pass
  // runs on every join, over every node).
  for (const n of objs.nodes.filter((x) => (x.attachments?.networks.length ?? 0) > 0).sort(byAge)) {
    for (const a of n.attachments?.networks ?? []) {
      const kept = a.networkId === ingress?.id && a.addresses.length === 1 && reserve(a.networkId, a.addresses[0], `node ${n.id}`);
      if (kept) nodeHasIngress.add(n.id);
    }
  }
  const ports = new NumberPool(1, 65535);
  const services = [...objs.services].sort(byAge);
  for (const s of services) {
    for (const p of s.spec?.endpoint?.ports ?? []) if (p.publishMode === PublishMode.PUBLISH_MODE_INGRESS && p.publishedPort > 0) ports.take(p.publishedPort);
  }
  for (const s of services) {
    for (const p of chosenPorts(s)) ports.take(p.publishedPort);
    for (const v of s.endpoint?.virtualIps ?? []) if (vipNetworks(s).includes(v.networkId)) reserve(v.networkId, v.addr, `service ${s.id}`);
  }

  // Phase 2: what is missing.
  const endpoints = new Map<string, ServiceEndpoint>();
  for (const s of services) {
    const e = planEndpoint(s, spaces, ports, o, networkById);
    endpoints.set(s.id, e);
    if (e.waiting) out.problems.push(`service ${s.spec?.annotations?.name ?? s.id}: ${e.waiting}`);
    if (!sameEndpoint(e.endpoint, s.endpoint) && e.endpoint) out.services.push({ ...s, endpoint: e.endpoint });
  }
  if (ingress) {
    const space = spaces.get(ingress.id)!;
    // Only nodes to write are sorted: in a settled swarm, none.
    for (const n of objs.nodes.filter((x) => !(nodeHasIngress.has(x.id) && x.attachments!.networks.length === 1)).sort(byAge)) {
      const kept = n.attachments?.networks.find((a) => a.networkId === ingress.id && nodeHasIngress.has(n.id));
      const ip = kept ? undefined : space.next(`node ${n.id}`);
      if (!kept && ip === undefined) {
        out.problems.push(`node ${n.id}: no free address left on the ingress network (${space.cidr}) for the routing mesh`);
        continue;
      }
      const attachment = kept ?? { networkId: ingress.id, addresses: [space.format(ip!)], aliases: [] };
      out.nodes.push({ ...n, attachments: { networks: [attachment] } });
    }
  }
  const services_ = new Map(services.map((s) => [s.id, s]));
  for (const t of objs.tasks.filter((x) => x.status?.state === TaskState.TASK_STATE_NEW && x.desiredState <= TaskState.TASK_STATE_RUNNING).sort(byAge)) {
    const next = planTask(t, services_.get(t.serviceId), endpoints.get(t.serviceId), ingress, spaces, networkById, now);
    if (next) out.tasks.push(next);
  }
  return out;
}

/** Gives each network without a VNI and subnet its own; returns the address space of every allocated network. */
function allocateNetworks(networks: Network[], o: AllocatorOptions, out: Allocation): Map<string, AddressSpace> {
  const vnis = new NumberPool(o.firstVni, MAX_VNI);
  const subnets = new SubnetPool(parseCidr(o.defaultPool), o.defaultPrefix);
  const spaces = new Map<string, AddressSpace>();
  const addSpace = (n: Network, subnet: Subnet, gateway: string) => spaces.set(n.id, new AddressSpace(subnet, parseIp(gateway)));
  for (const n of networks.filter(isAllocated)) {
    const cfg = n.ipam!.configs[0];
    const subnet = parseCidr(cfg.subnet);
    vnis.take(n.driverState!.vni);
    if (!subnets.take(subnet)) out.problems.push(`network ${netName(n, n.id)}: subnet ${cfg.subnet} overlaps another network's`);
    addSpace(n, subnet, cfg.gateway || formatIp(subnet.base + 1));
  }
  // Subnets asked for are reserved first, so the pool never hands one of them to another network.
  const asked = new Map<string, Subnet>();
  for (const n of networks) {
    if (isAllocated(n)) continue;
    const want = n.spec?.ipam?.configs[0]?.subnet;
    if (!want) continue;
    let subnet: Subnet;
    try {
      subnet = parseCidr(want);
    } catch (e) {
      out.problems.push(`network ${netName(n, n.id)}: ${(e as Error).message}`);
      continue;
    }
    const clash = subnets.clash(subnet);
    if (clash) out.problems.push(`network ${netName(n, n.id)}: subnet ${want} overlaps ${formatCidr(clash)} of another network: remove it and create it with another subnet`);
    else (subnets.take(subnet), asked.set(n.id, subnet));
  }
  for (const n of networks) {
    if (isAllocated(n) || (n.spec?.ipam?.configs[0]?.subnet && !asked.has(n.id))) continue;
    const subnet = asked.get(n.id) ?? subnets.next();
    const vni = vnis.next();
    if (!subnet || vni === undefined) {
      out.problems.push(`network ${netName(n, n.id)}: no free ${subnet ? "VNI" : `subnet left in ${o.defaultPool}`}: remove unused networks or give --subnet`);
      continue;
    }
    const gateway = n.spec?.ipam?.configs[0]?.gateway || formatIp(subnet.base + 1);
    const cidr = formatCidr(subnet);
    out.networks.push({ ...n, driverState: { name: "overlay", vni }, ipam: { driver: "default", configs: [{ subnet: cidr, gateway, range: "" }] } });
    addSpace(n, subnet, gateway);
  }
  return spaces;
}

/** The networks a service has a virtual IP on: all it is attached to, in vip mode. */
function vipNetworks(s: Service): string[] {
  if ((s.spec?.endpoint?.mode ?? EndpointMode.ENDPOINT_MODE_VIP) !== EndpointMode.ENDPOINT_MODE_VIP) return [];
  return (s.spec?.task?.networks ?? []).map((a) => a.target);
}

/** Ports of the stored endpoint the allocator chose (published without a number), still asked for. */
function chosenPorts(s: Service): PortConfig[] {
  const open = (s.spec?.endpoint?.ports ?? []).filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS && p.publishedPort === 0).map(portKey);
  const out: PortConfig[] = [];
  for (const p of s.endpoint?.ports ?? []) {
    const i = open.indexOf(portKey(p));
    if (i < 0 || p.publishedPort === 0) continue;
    open.splice(i, 1);
    out.push(p);
  }
  return out;
}

function planEndpoint(s: Service, spaces: Map<string, AddressSpace>, ports: NumberPool, o: AllocatorOptions, networks: Map<string, Network>): ServiceEndpoint {
  const spec = s.spec?.endpoint;
  const vipNets = vipNetworks(s);
  if (!spec && vipNets.length === 0) return { endpoint: s.endpoint };
  let waiting: string | undefined;
  const chosen = chosenPorts(s);
  const portsOut = (spec?.ports ?? []).map((p): PortConfig => {
    if (p.publishMode !== PublishMode.PUBLISH_MODE_INGRESS || p.publishedPort > 0) return { ...p };
    const i = chosen.findIndex((c) => portKey(c) === portKey(p));
    if (i >= 0) return { ...p, publishedPort: chosen.splice(i, 1)[0].publishedPort };
    let port: number | undefined;
    for (let n = o.portRange[0]; n <= o.portRange[1] && port === undefined; n++) if (ports.take(n)) port = n;
    if (port === undefined) waiting = `no free port left in ${o.portRange[0]}-${o.portRange[1]} for target port ${p.targetPort}: publish it with an explicit port`;
    return { ...p, publishedPort: port ?? 0 };
  });
  const virtualIps: EndpointVirtualIP[] = [];
  for (const id of vipNets) {
    const space = spaces.get(id);
    if (!space) {
      waiting = `network ${netName(networks.get(id), id)} ${networks.has(id) ? "is not allocated yet" : "does not exist"}`;
      continue;
    }
    const who = `service ${s.id}`;
    const kept = s.endpoint?.virtualIps.find((v) => v.networkId === id && space.holder(addressOf(v.addr) ?? -1) === who);
    if (kept) {
      virtualIps.push({ ...kept });
      continue;
    }
    const ip = space.next(who);
    if (ip === undefined) {
      waiting = `no free address left in network ${netName(networks.get(id), id)} (${space.cidr}) for the virtual IP`;
      continue;
    }
    virtualIps.push({ networkId: id, addr: space.format(ip) });
  }
  return { endpoint: { spec, ports: portsOut, virtualIps }, waiting };
}

/** The task with its addresses and PENDING, or still NEW with why it waits; undefined when nothing changes. */
function planTask(
  t: Task,
  service: Service | undefined,
  endpoint: ServiceEndpoint | undefined,
  ingress: Network | undefined,
  spaces: Map<string, AddressSpace>,
  networks: Map<string, Network>,
  now: number,
): Task | undefined {
  const wait = (why: string): Task | undefined => (t.status?.message === why ? undefined : { ...t, status: { ...t.status!, message: why } });
  if (endpoint?.waiting) return wait(`waiting for the service's endpoint: ${endpoint.waiting}`);
  const wanted: { id: string; aliases: string[] }[] = [];
  if (usesIngress(service)) {
    if (!ingress) return wait("waiting for the ingress network: ports are published through the routing mesh");
    wanted.push({ id: ingress.id, aliases: [] });
  }
  for (const a of t.spec?.networks ?? []) if (!wanted.some((w) => w.id === a.target)) wanted.push({ id: a.target, aliases: a.aliases });
  const attachments: NetworkAttachment[] = [];
  const taken: { space: AddressSpace; ip: number }[] = [];
  const who = `task ${t.id}`;
  let why: string | undefined;
  for (const w of wanted) {
    const space = spaces.get(w.id);
    if (!space) {
      why = `waiting for network ${netName(networks.get(w.id), w.id)}: it ${networks.has(w.id) ? "is not allocated yet" : "does not exist"}`;
      break;
    }
    const had = t.networks.find((a) => a.networkId === w.id)?.addresses.find((addr) => space.holder(addressOf(addr) ?? -1) === who);
    if (had) {
      attachments.push({ networkId: w.id, addresses: [had], aliases: w.aliases });
      continue;
    }
    const ip = space.next(who);
    if (ip === undefined) {
      why = `no free address left in network ${netName(networks.get(w.id), w.id)} (${space.cidr}): remove unused tasks or use a larger subnet`;
      break;
    }
    taken.push({ space, ip });
    attachments.push({ networkId: w.id, addresses: [space.format(ip)], aliases: w.aliases });
  }
  if (why) {
    for (const { space, ip } of taken) space.release(ip);
    return wait(why);
  }
  return {
    ...t,
    networks: attachments,
    endpoint: endpoint ? endpoint.endpoint : t.endpoint,
    status: { ...t.status!, state: TaskState.TASK_STATE_PENDING, timestamp: now, message: "pending task scheduling" },
  };
}
