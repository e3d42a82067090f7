// The overlay networks of one node: which exist here, which containers are attached, and where
// every other node's endpoints are. Every call is idempotent and brings the kernel to what is
// recorded, so the same calls rebuild everything after a reboot (kernel state gone, this state
// kept by the caller) or after someone deleted a device.
import { existsSync } from "node:fs";
import type { NetworkPeer } from "../../../proto/gen/cluster.js";
import { ipBatch } from "../cmd.js";
import { attachEndpoint, detachEndpoint } from "./endpoint.js";
import { ensureDevices, removeDevices } from "./devices.js";
import { bestEffort, bridgeBatch } from "./exec.js";
import { bridgeName, vxlanName } from "./names.js";
import { peerCommands } from "./peers.js";

export interface OverlayNetwork {
  id: string;
  vni: number;
  /** CIDR. */
  subnet: string;
  /** The node's address on the network, CIDR (see NodeNetwork.bridge_address). */
  bridgeAddress: string;
  ingress: boolean;
}

export interface Attachment {
  networkId: string;
  taskId: string;
  netnsPath: string;
  ifName: string;
  /** CIDR. */
  address: string;
}

/** What the caller keeps across restarts. */
export interface OverlayState {
  networks: OverlayNetwork[];
  peers: Record<string, NetworkPeer[]>;
  attachments: Attachment[];
}

const key = (networkId: string, taskId: string) => `${networkId}/${taskId}`;

export class Overlay {
  private readonly networks = new Map<string, OverlayNetwork>();
  /** Peers as last told, per network. */
  private readonly peers = new Map<string, NetworkPeer[]>();
  /** Peers as programmed in the kernel now, per network. */
  private readonly programmed = new Map<string, NetworkPeer[]>();
  private readonly attachments = new Map<string, Attachment>();

  constructor(
    private readonly localIp: string,
    saved?: OverlayState,
  ) {
    for (const n of saved?.networks ?? []) this.networks.set(n.id, n);
    for (const [id, p] of Object.entries(saved?.peers ?? {})) this.peers.set(id, p);
    for (const a of saved?.attachments ?? []) this.attachments.set(key(a.networkId, a.taskId), a);
  }

  state(): OverlayState {
    return { networks: [...this.networks.values()], peers: Object.fromEntries(this.peers), attachments: [...this.attachments.values()] };
  }

  network(id: string): OverlayNetwork | undefined {
    return this.networks.get(id);
  }

  allNetworks(): OverlayNetwork[] {
    return [...this.networks.values()];
  }

  allAttachments(): Attachment[] {
    return [...this.attachments.values()];
  }

  /**
   * Creates or repairs the network's devices; if they had to be made again, puts back its peers
   * and containers. Returns whether they were made again. Unchanged and present: only the peers
   * are brought up to date (no process is run when they are too).
   */
  async ensureNetwork(n: OverlayNetwork): Promise<boolean> {
    const prev = this.networks.get(n.id);
    const present = existsSync(`/sys/class/net/${bridgeName(n.vni)}`) && existsSync(`/sys/class/net/${vxlanName(n.vni)}`);
    if (prev && present && this.programmed.has(n.id) && JSON.stringify(prev) === JSON.stringify(n)) {
      await this.programPeers(n.id);
      return false;
    }
    if (prev && (prev.vni !== n.vni || prev.bridgeAddress !== n.bridgeAddress)) this.programmed.delete(n.id);
    const remade = await ensureDevices({ ...n, localIp: this.localIp });
    this.networks.set(n.id, n);
    if (remade || !prev) {
      this.programmed.delete(n.id);
      for (const a of this.attachments.values()) if (a.networkId === n.id && existsSync(a.netnsPath)) await this.plug(a);
    }
    await this.programPeers(n.id);
    return remade;
  }

  /** Replaces the network's peers (endpoints on other nodes): only the difference reaches the kernel. */
  async setPeers(networkId: string, peers: NetworkPeer[]): Promise<void> {
    this.peers.set(networkId, peers);
    if (this.networks.has(networkId)) await this.programPeers(networkId);
  }

  private async programPeers(networkId: string): Promise<void> {
    const n = this.networks.get(networkId)!;
    const want = this.peers.get(networkId) ?? [];
    const cmds = peerCommands(n.vni, this.programmed.get(networkId) ?? [], want);
    await bestEffort("ip", cmds.remove.ip);
    await bestEffort("bridge", cmds.remove.bridge);
    // Until both batches went through, the kernel's state is unknown: the next call redoes them all.
    this.programmed.delete(networkId);
    if (cmds.add.ip.length > 0) await ipBatch(cmds.add.ip);
    if (cmds.add.bridge.length > 0) await bridgeBatch(cmds.add.bridge);
    this.programmed.set(networkId, want);
  }

  /** Attaches a container (idempotent: an existing endpoint is repaired). */
  async attach(netnsPath: string, a: Omit<Attachment, "netnsPath">): Promise<void> {
    if (!this.networks.has(a.networkId)) throw new Error(`network ${a.networkId} is not set up on this node yet: the managers have not sent it`);
    const att = { ...a, netnsPath };
    await this.plug(att);
    this.attachments.set(key(a.networkId, a.taskId), att);
  }

  private async plug(a: Attachment): Promise<void> {
    const n = this.networks.get(a.networkId)!;
    await attachEndpoint({ ...a, vni: n.vni, gateway: n.bridgeAddress.split("/")[0] });
  }

  /** Detaches a task from one network, or from all of them. */
  async detach(taskId: string, networkId?: string): Promise<void> {
    for (const a of [...this.attachments.values()]) {
      if (a.taskId !== taskId || (networkId && a.networkId !== networkId)) continue;
      const n = this.networks.get(a.networkId);
      if (n) await detachEndpoint({ ...a, vni: n.vni });
      this.attachments.delete(key(a.networkId, a.taskId));
    }
  }

  /** Removes the network from this node, with whatever is still attached to it. */
  async removeNetwork(networkId: string): Promise<void> {
    const n = this.networks.get(networkId);
    for (const a of [...this.attachments.values()]) if (a.networkId === networkId) await this.detach(a.taskId, networkId);
    if (n) await removeDevices(n.vni);
    this.networks.delete(networkId);
    this.peers.delete(networkId);
    this.programmed.delete(networkId);
  }

  /**
   * Brings the kernel back to the recorded state from scratch: after a restart or a reboot.
   * A network that fails does not stop the others; the failures are thrown together at the end.
   */
  async restore(): Promise<void> {
    this.programmed.clear();
    const errors: string[] = [];
    for (const n of [...this.networks.values()]) {
      try {
        await ensureDevices({ ...n, localIp: this.localIp });
        for (const a of this.attachments.values()) if (a.networkId === n.id && existsSync(a.netnsPath)) await this.plug(a);
        await this.programPeers(n.id);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
  }
}
