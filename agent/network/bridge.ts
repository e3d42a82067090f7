// The daemon's default bridge network: one Linux bridge, one nftables table (outbound NAT and
// published ports), and per container a netns joined to the bridge by a veth pair.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeBinary } from "../engine/runtime/binary.js";
import { ipBatch, nftBatch, run } from "./cmd.js";
import { AddressPool } from "./ipam.js";
import { formatCidr, formatIp, gatewayOf, parseCidr, pickFree, type Subnet } from "./ipv4.js";
import { hostVethName, netnsName, type DaemonNames } from "./names.js";
import { checkHostPortFree, clashes, type PublishedPort } from "./ports.js";

export interface Endpoint {
  netnsPath: string;
  ip: string;
  gateway: string;
  prefix: number;
}

/** Where a fresh daemon looks for a free bridge subnet (the default daemon tries 172.30/16 first). */
function candidateSubnets(tag: string): Subnet[] {
  const out: Subnet[] = [];
  if (!tag) out.push(parseCidr("172.30.0.0/16"));
  const start = tag ? parseInt(tag.slice(0, 4), 16) % 256 : 0;
  for (let i = 0; i < 256; i++) out.push(parseCidr(`10.213.${(start + i) % 256}.0/24`));
  return out;
}

async function routedSubnets(exceptDev: string): Promise<Subnet[]> {
  const out = await run("ip", ["-4", "route", "show", "table", "all"]);
  const used: Subnet[] = [];
  for (const line of out.split("\n")) {
    const m = /^(?:local |broadcast )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?\s.*?dev (\S+)/.exec(line);
    if (!m || m[3] === exceptDev) continue;
    const prefix = Number(m[2] ?? 32);
    if (prefix >= 8) used.push(parseCidr(`${m[1]}/${Math.min(prefix, 30)}`));
  }
  return used;
}

export class BridgeNetwork {
  subnet!: Subnet;
  private pool!: AddressPool;
  /** Published ports by container id. */
  private published = new Map<string, PublishedPort[]>();
  private readonly dir: string;

  constructor(private readonly names: DaemonNames, dataRoot: string, private readonly subnetArg?: string) {
    this.dir = join(dataRoot, "network");
  }

  get bridge(): string {
    return this.names.bridge;
  }
  get gateway(): string {
    return formatIp(gatewayOf(this.subnet));
  }

  /** Creates (or re-adopts) the bridge and a fresh nftables table. */
  async setup(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const saved = join(this.dir, "bridge.json");
    const used = await routedSubnets(this.names.bridge);
    if (this.subnetArg) {
      this.subnet = parseCidr(this.subnetArg);
      if (used.some((u) => pickFree([this.subnet], [u]) === undefined))
        throw new Error(`--bridge-subnet ${this.subnetArg} overlaps a route on this host: pick another subnet`);
    } else if (existsSync(saved)) {
      this.subnet = parseCidr((JSON.parse(readFileSync(saved, "utf8")) as { subnet: string }).subnet);
    } else {
      const free = pickFree(candidateSubnets(this.names.tag), used);
      if (!free) throw new Error("no free subnet for the bridge: pass --bridge-subnet CIDR");
      this.subnet = free;
    }
    writeFileSync(saved, JSON.stringify({ subnet: formatCidr(this.subnet) }));
    this.pool = new AddressPool(this.subnet);
    rmSync(join(this.dir, "addresses.json"), { force: true }); // kept by daemons before 7 December; the records name the addresses

    const br = this.names.bridge;
    const gw = `${this.gateway}/${this.subnet.prefix}`;
    if (!existsSync(`/sys/class/net/${br}`)) {
      await ipBatch([`link add ${br} type bridge`, `addr add ${gw} dev ${br}`, `link set ${br} up`]);
    } else {
      await ipBatch([`addr replace ${gw} dev ${br}`, `link set ${br} up`]);
    }
    writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    // Lets the output-hook DNAT of 127.0.0.1:HOSTPORT be routed onto the bridge.
    writeFileSync(`/proc/sys/net/ipv4/conf/${br}/route_localnet`, "1");
    await this.writeTable();
    // The first `ip netns add` on a host turns /run/netns into a shared mount point; two at once
    // both do it, the second mount hiding the first's namespace. Done once here, before
    // containers start in parallel.
    const probe = `${this.names.netnsPrefix}init`;
    await ipBatch([...(existsSync(`/run/netns/${probe}`) ? [`netns del ${probe}`] : []), `netns add ${probe}`, `netns del ${probe}`]);
  }

  private async writeTable(): Promise<void> {
    const t = this.names.nftTable;
    const br = this.names.bridge;
    const sub = formatCidr(this.subnet);
    // Deleting first makes a restart after a crash start from a known table.
    await run("nft", ["delete", "table", "inet", t]).catch(() => undefined);
    await nftBatch(`table inet ${t} {
  map tcp_any { type inet_service : ipv4_addr . inet_service; }
  map udp_any { type inet_service : ipv4_addr . inet_service; }
  map tcp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  map udp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  chain ports {
    meta l4proto tcp dnat ip to ip daddr . tcp dport map @tcp_addr
    meta l4proto udp dnat ip to ip daddr . udp dport map @udp_addr
    meta l4proto tcp dnat ip to tcp dport map @tcp_any
    meta l4proto udp dnat ip to udp dport map @udp_any
  }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; fib daddr type local jump ports; }
  chain output { type nat hook output priority -100; policy accept; fib daddr type local jump ports; }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${sub} oifname != "${br}" masquerade
    ip saddr 127.0.0.0/8 oifname "${br}" masquerade
    ct status dnat ip saddr ${sub} oifname "${br}" masquerade
  }
}
`);
  }

  /** Removes the table, and the bridge when nothing is attached to it any more. */
  async teardown(removeBridge: boolean): Promise<void> {
    await run("nft", ["delete", "table", "inet", this.names.nftTable]).catch(() => undefined);
    if (removeBridge) await run("ip", ["link", "del", this.names.bridge]).catch(() => undefined);
  }

  /** Throws a user-facing error if a port is taken by another container or a host socket. */
  async checkPorts(containerId: string, ports: PublishedPort[]): Promise<void> {
    for (const p of ports) {
      for (const [owner, theirs] of this.published) {
        if (owner !== containerId && theirs.some((q) => clashes(p, q)))
          throw new Error(`port ${p.hostIp || "0.0.0.0"}:${p.hostPort}/${p.protocol} is already published by container ${owner.slice(0, 12)}: pick another host port`);
      }
      await checkHostPortFree(p);
    }
  }

  /** Gives the container a netns on the bridge, an address and its published ports. */
  async attach(containerId: string, ports: PublishedPort[]): Promise<Endpoint> {
    const ns = netnsName(this.names, containerId);
    const veth = hostVethName(this.names, containerId);
    const ip = this.pool.allocate(containerId);
    try {
      // The runtime's spawner does it over rtnetlink in one child (native/src/netlink.c): the
      // netns, the veth on the bridge with eth0 inside, its address and default route, lo up;
      // a stale host end (a detach the kernel has not finished) removed first. Two `ip -batch`
      // runs cost a start ~8 ms.
      await run("@bridge-attach", [ns, veth, this.names.bridge, `${ip}/${this.subnet.prefix}`, this.gateway]);
      await this.publish(containerId, ip, ports);
    } catch (err) {
      await this.detach(containerId);
      throw err;
    }
    return { netnsPath: `/run/netns/${ns}`, ip, gateway: this.gateway, prefix: this.subnet.prefix };
  }

  /** Re-installs the published ports of a container that kept running while the daemon was away. */
  async readopt(containerId: string, ip: string, ports: PublishedPort[]): Promise<void> {
    if (!this.pool.claim(containerId, ip)) console.error(`shoal daemon: container ${containerId.slice(0, 12)}'s address ${ip} is held by another: it keeps it, the pool does not`);
    await this.publish(containerId, ip, ports);
  }

  private async publish(containerId: string, ip: string, ports: PublishedPort[]): Promise<void> {
    if (ports.length === 0) return;
    this.published.set(containerId, ports);
    await nftBatch(ports.map((p) => `add element inet ${this.names.nftTable} ${elementOf(p, ip)}`).join("\n") + "\n");
  }

  /** Removes everything attach made; safe to call on a half-made or already removed endpoint. */
  async detach(containerId: string): Promise<void> {
    const ports = this.published.get(containerId) ?? [];
    this.published.delete(containerId);
    if (ports.length > 0) {
      await nftBatch(ports.map((p) => `delete element inet ${this.names.nftTable} ${elementKey(p)}`).join("\n") + "\n").catch(() => undefined);
    }
    const ns = netnsName(this.names, containerId);
    const veth = hostVethName(this.names, containerId);
    // Deleting the netns is enough: once its last process is gone the kernel destroys eth0 and
    // with it the host end, without the ~25 ms a synchronous `link del` waits. A host end left
    // without a netns is only an attach that failed half-way (it still holds its address); one
    // whose netns was just deleted is the kernel's to remove (a second detach, as --rm's removal
    // after the exit's, must not wait on a `link del` of its own for it).
    if (existsSync(`/run/netns/${ns}`)) await run(runtimeBinary(), ["netns-delete", `/run/netns/${ns}`]).catch(() => undefined);
    else if (this.pool.holds(containerId) && existsSync(`/sys/class/net/${veth}`)) await run("ip", ["link", "del", veth]).catch(() => undefined);
    this.pool.release(containerId);
  }

  /** Forgets addresses of containers that are gone. */
  retain(containerIds: Set<string>): void {
    this.pool.retain(containerIds);
  }
}

const mapOf = (p: PublishedPort) => `${p.protocol}_${p.hostIp ? "addr" : "any"}`;
const keyOf = (p: PublishedPort) => (p.hostIp ? `${p.hostIp} . ${p.hostPort}` : `${p.hostPort}`);
const elementOf = (p: PublishedPort, ip: string) => `${mapOf(p)} { ${keyOf(p)} : ${ip} . ${p.containerPort} }`;
const elementKey = (p: PublishedPort) => `${mapOf(p)} { ${keyOf(p)} }`;
