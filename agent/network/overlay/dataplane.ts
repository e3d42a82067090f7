// A node's whole overlay data plane, as the agent drives it: the managers' pushes (apply), the
// worker's containers (attach, deactivate, detach, publishHost), and start-up (open). It owns
// the overlay devices (overlay.ts), the DNS server (dns/), and the load balancer and routing
// mesh (lb/), and keeps what it was told in one file so that a restarted agent, or a rebooted
// node, rebuilds the same kernel state before any manager answers. Calls run one at a time.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { NodeNetwork, type NetworkPeer, type PortConfig, type Task } from "../../../proto/gen/cluster.js";
import { writeFileAtomic } from "../../engine/store/atomic.js";
import { NameTable } from "../dns/records.js";
import { DnsServer } from "../dns/server.js";
import { hostResolvers, type Upstream } from "../dns/upstream.js";
import { clearMeshReturn, setMeshReturn } from "../lb/mesh.js";
import { nftBatch } from "../cmd.js";
import { renderTable, type HostPublish } from "../lb/rules.js";
import { removeTable, tableExists } from "../lb/table.js";
import { macOf } from "./mac.js";
import { bridgeName } from "./names.js";
import { Overlay, type OverlayNetwork, type OverlayState } from "./overlay.js";

export interface DataPlaneOptions {
  /** This node's underlay address: the local end of every VXLAN tunnel. */
  localIp: string;
  /** Where what the data plane was told is kept across restarts; none: kept in memory only. */
  stateFile?: string;
  /** Where names that are not the swarm's are forwarded: the host's resolvers unless given. */
  upstreams?: Upstream[];
  /** The nftables table it owns. */
  nftTable?: string;
  /** DNS port on each network's gateway (53; tests may move it). */
  dnsPort?: number;
  log?: (line: string) => void;
}

export interface AttachedInterface {
  networkId: string;
  ifName: string;
  /** CIDR. */
  address: string;
}

export interface TaskNetworking {
  interfaces: AttachedInterface[];
  /** For the container's resolv.conf: the node's DNS on each network of the task. */
  nameservers: string[];
}

interface Saved {
  overlay: OverlayState;
  views: unknown[];
  hostPorts: HostPublish[];
}

const bare = (cidr: string): string => cidr.split("/")[0];
const toOverlay = (n: NodeNetwork): OverlayNetwork => ({ id: n.networkId, vni: n.vni, subnet: n.subnet, bridgeAddress: n.bridgeAddress, ingress: n.ingress });

export class OverlayDataPlane {
  private readonly overlay: Overlay;
  private readonly views = new Map<string, NodeNetwork>();
  /** Networks in the managers' last push; the others stay only while a container here uses them. */
  private listed = new Set<string>();
  private readonly hostPorts = new Map<string, HostPublish>();
  /** Tasks deactivated before they stop: out of DNS answers and load-balancer targets. */
  private readonly drained = new Set<string>();
  private readonly names = new NameTable(this.drained);
  private readonly dns: DnsServer;
  private readonly table: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** The latest push not applied yet, and the queued call that will apply it. */
  private wanted?: NodeNetwork[];
  private applying?: Promise<void>;
  /** What was last loaded into the kernel, to skip work that would change nothing. */
  private lastTable = "";
  private readonly lastMesh = new Map<string, string>();

  private constructor(private readonly o: DataPlaneOptions) {
    const saved = o.stateFile && existsSync(o.stateFile) ? (JSON.parse(readFileSync(o.stateFile, "utf8")) as Saved) : undefined;
    this.overlay = new Overlay(o.localIp, saved?.overlay);
    for (const v of saved?.views ?? []) {
      const n = NodeNetwork.fromJSON(v);
      this.views.set(n.networkId, n);
      this.listed.add(n.networkId);
    }
    for (const h of saved?.hostPorts ?? []) this.hostPorts.set(h.taskId, h);
    this.table = o.nftTable ?? "shoal-overlay";
    this.dns = new DnsServer(this.names, { upstreams: o.upstreams ?? hostResolvers(), askerNetworks: (net, ip) => this.askerNetworks(net, ip), port: o.dnsPort, log: o.log });
  }

  /**
   * Loads what was kept and rebuilds the kernel state from it (devices, peers, containers' links,
   * rules, DNS). What fails is logged, not thrown: the agent starts anyway, and the next push
   * from the managers tries again.
   */
  static async open(o: DataPlaneOptions): Promise<OverlayDataPlane> {
    const dp = new OverlayDataPlane(o);
    await dp.serial(async () => {
      await dp.overlay.restore().catch((e: Error) => o.log?.(`overlay: ${e.message}`));
      await dp.converge().catch((e: Error) => o.log?.(`overlay: ${e.message}`));
    });
    return dp;
  }

  /**
   * The managers' view of this node's networks (NodeNetwork, from NetworkViews.forNode): sets up
   * every network listed, with its peers, names and load balancing; removes those no longer
   * listed once no container here is attached to them.
   */
  apply(networks: NodeNetwork[]): Promise<void> {
    // Pushes that arrive while one is being applied are coalesced: only the latest view matters,
    // and a busy node must not fall behind the managers by a queue of stale ones.
    this.wanted = networks;
    this.applying ??= this.serial(async () => {
      this.applying = undefined;
      const networks = this.wanted!;
      this.wanted = undefined;
      this.listed = new Set(networks.map((n) => n.networkId));
      for (const n of networks) this.views.set(n.networkId, n);
      await this.dropUnused();
      // A task the managers no longer list needs no drain mark any more.
      const tasks = new Set(networks.flatMap((n) => n.services.flatMap((s) => s.tasks.map((t) => t.taskId))));
      for (const id of this.drained) if (!tasks.has(id)) this.drained.delete(id);
      await this.converge();
    });
    return this.applying;
  }

  /**
   * Attaches a container to each of the task's networks, in order, as eth{first}, eth{first+1}…
   * (first > 0 when the worker gives it another interface first). All or nothing.
   */
  attach(netnsPath: string, task: Task, first = 0): Promise<TaskNetworking> {
    return this.serial(async () => {
      const interfaces: AttachedInterface[] = [];
      try {
        for (const [i, a] of task.networks.entries()) {
          if (a.addresses.length === 0) throw new Error(`task ${task.id} has no address on network ${a.networkId}: it was not allocated`);
          const ifName = `eth${first + i}`;
          await this.overlay.attach(netnsPath, { networkId: a.networkId, taskId: task.id, ifName, address: a.addresses[0] });
          interfaces.push({ networkId: a.networkId, ifName, address: a.addresses[0] });
        }
      } catch (e) {
        await this.overlay.detach(task.id);
        throw e;
      }
      this.save();
      return { interfaces, nameservers: this.nameserversOf(task.id) };
    });
  }

  /**
   * Plugs the task's container, found in a new network namespace (its node rebooted, its
   * container started again before the managers were back), into the networks it had, at the
   * addresses it had. Undefined when this node never attached the task.
   */
  reattach(taskId: string, netnsPath: string): Promise<TaskNetworking | undefined> {
    return this.serial(async () => {
      const had = this.overlay.allAttachments().filter((a) => a.taskId === taskId);
      if (had.length === 0) return undefined;
      try {
        for (const a of had) await this.overlay.attach(netnsPath, { networkId: a.networkId, taskId, ifName: a.ifName, address: a.address });
      } catch (e) {
        await this.overlay.detach(taskId);
        throw e;
      }
      this.save();
      return { interfaces: had.map((a) => ({ networkId: a.networkId, ifName: a.ifName, address: a.address })), nameservers: this.nameserversOf(taskId) };
    });
  }

  /** Whether a container of the task is attached here. */
  attached(taskId: string): boolean {
    return this.overlay.allAttachments().some((a) => a.taskId === taskId);
  }

  /**
   * Takes the task out of its services now: DNS stops answering its addresses and no new
   * connection is sent to it, while it still runs. The worker calls this before stopping it.
   */
  deactivate(taskId: string): Promise<void> {
    return this.serial(async () => {
      this.drained.add(taskId);
      await this.applyRules();
    });
  }

  /** Undoes deactivate: the task serves again (a stop that was called off). */
  activate(taskId: string): Promise<void> {
    return this.serial(async () => {
      if (this.drained.delete(taskId)) await this.applyRules();
    });
  }

  /** Detaches the task's container from every network and drops its host-mode ports. */
  detach(taskId: string): Promise<void> {
    return this.serial(async () => {
      if (!this.attached(taskId) && !this.hostPorts.has(taskId)) return;
      await this.overlay.detach(taskId);
      this.hostPorts.delete(taskId);
      await this.dropUnused();
      await this.converge();
    });
  }

  /** Publishes the task's host-mode ports on this node, to its first overlay address. */
  publishHost(taskId: string, ports: PortConfig[]): Promise<void> {
    return this.serial(async () => {
      const a = this.overlay.allAttachments().find((x) => x.taskId === taskId);
      if (!a) throw new Error(`task ${taskId} is on no overlay network here: attach it before publishing its ports`);
      this.hostPorts.set(taskId, { taskId, ip: bare(a.address), ports });
      await this.applyRules();
      this.save();
    });
  }

  /** Detaches every task not in `taskIds` (containers that are gone while the agent was away). */
  retain(taskIds: ReadonlySet<string>): Promise<void> {
    return this.serial(async () => {
      for (const a of this.overlay.allAttachments()) if (!taskIds.has(a.taskId)) await this.overlay.detach(a.taskId);
      for (const id of this.hostPorts.keys()) if (!taskIds.has(id)) this.hostPorts.delete(id);
      await this.dropUnused();
      await this.converge();
    });
  }

  /** The node's DNS address on each of the task's networks that serves names (not ingress). */
  nameserversOf(taskId: string): string[] {
    return this.overlay
      .allAttachments()
      .filter((a) => a.taskId === taskId && !this.overlay.network(a.networkId)?.ingress)
      .map((a) => bare(this.overlay.network(a.networkId)!.bridgeAddress));
  }

  /** Stops serving DNS; the kernel state stays, so containers keep their networks while the agent restarts. */
  close(): Promise<void> {
    return this.serial(() => this.dns.closeAll());
  }

  /** Removes everything: every network, container link, rule and table, and the kept state. */
  destroy(): Promise<void> {
    return this.serial(async () => {
      await this.dns.closeAll();
      for (const n of this.overlay.allNetworks()) {
        if (n.ingress) await clearMeshReturn(bridgeName(n.vni));
        await this.overlay.removeNetwork(n.id);
      }
      await removeTable(this.table);
      this.lastTable = "";
      this.lastMesh.clear();
      this.views.clear();
      this.hostPorts.clear();
      if (this.o.stateFile) rmSync(this.o.stateFile, { force: true });
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Removes the networks the managers no longer list and no container here uses. */
  private async dropUnused(): Promise<void> {
    const used = new Set(this.overlay.allAttachments().map((a) => a.networkId));
    for (const id of [...this.views.keys()]) if (!this.listed.has(id) && !used.has(id)) await this.dropNetwork(id);
  }

  private async dropNetwork(id: string): Promise<void> {
    const n = this.overlay.network(id);
    if (n?.ingress) await clearMeshReturn(bridgeName(n.vni));
    this.lastMesh.delete(id);
    await this.dns.close(id);
    this.names.delete(id);
    await this.overlay.removeNetwork(id);
    this.views.delete(id);
  }

  /** Brings devices, peers, names, DNS sockets, mesh rules and the table to the views. One failing network does not stop the others. */
  private async converge(): Promise<void> {
    const errors: string[] = [];
    for (const n of this.views.values()) {
      try {
        const remade = await this.overlay.ensureNetwork(toOverlay(n));
        // The VIPs are peers too, so that the VXLAN device answers containers' ARP for them.
        const vips = n.services.filter((s) => s.vip).map((s): NetworkPeer => ({ nodeIp: "", ip: s.vip, mac: macOf(s.vip), node: false }));
        await this.overlay.setPeers(n.networkId, [...n.peers, ...vips]);
        if (n.ingress) {
          const nodes = n.peers.filter((p) => p.node).map((p) => p.ip);
          // Made again, the bridge lost the routes hanging on it.
          if (remade || this.lastMesh.get(n.networkId) !== nodes.join()) {
            this.lastMesh.delete(n.networkId);
            await setMeshReturn(bridgeName(n.vni), nodes);
            this.lastMesh.set(n.networkId, nodes.join());
          }
        } else {
          this.names.set(n.networkId, n.services);
          // A socket bound to an address that vanished with its bridge is bound afresh.
          if (remade) await this.dns.close(n.networkId);
          await this.dns.listen(n.networkId, bare(n.bridgeAddress));
        }
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    await this.applyRules();
    this.save();
    if (errors.length > 0) throw new Error(errors.join("; "));
  }

  private async applyRules(): Promise<void> {
    const networks = [...this.views.values()].filter((n) => this.overlay.network(n.networkId));
    const ingress = networks.filter((n) => n.ingress);
    const ingressTasks = [
      ...ingress.flatMap((n) => n.peers.filter((p) => !p.node).map((p) => ({ nodeIp: p.nodeIp, taskIp: p.ip }))),
      ...this.overlay.allAttachments().filter((a) => ingress.some((n) => n.networkId === a.networkId)).map((a) => ({ nodeIp: this.o.localIp, taskIp: bare(a.address) })),
    ].sort((a, b) => (a.taskIp < b.taskIp ? -1 : 1));
    const script = renderTable({ table: this.table, networks: networks.map((n) => ({ vni: n.vni, ingress: n.ingress, services: n.services })), hostPorts: [...this.hostPorts.values()], drained: this.drained, ingressTasks });
    if (script === this.lastTable && (await tableExists(this.table))) return;
    this.lastTable = "";
    await nftBatch(script);
    this.lastTable = script;
  }

  /** Networks of the container at `ip` on `networkId`: the names it may resolve. */
  private askerNetworks(networkId: string, ip: string): string[] {
    const all = this.overlay.allAttachments();
    const asker = all.find((a) => a.networkId === networkId && bare(a.address) === ip);
    if (!asker) return [networkId];
    return all.filter((a) => a.taskId === asker.taskId).map((a) => a.networkId);
  }

  private save(): void {
    if (!this.o.stateFile) return;
    const saved: Saved = { overlay: this.overlay.state(), views: [...this.views.values()].map((v) => NodeNetwork.toJSON(v)), hostPorts: [...this.hostPorts.values()] };
    writeFileAtomic(this.o.stateFile, JSON.stringify(saved));
  }
}
