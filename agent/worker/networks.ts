// The worker's side of overlay networks: it opens the node's data plane, hands it the managers'
// pushes, joins each task's container to the task's networks when the engine makes its network
// namespace (the engine's network hook), and takes a task out of DNS and load balancing before
// its container is stopped.
import { join } from "node:path";
import type { NodeNetwork, Task } from "../../proto/gen/cluster.js";
import type { NetworkHook } from "../engine/containers/engine.js";
import type { ContainerRecord } from "../engine/containers/record.js";
import { OverlayDataPlane } from "../network/overlay/dataplane.js";
import { taskIdOf } from "./container-spec.js";

/** The IPv4 host of a cluster address "host:port": the local end of this node's tunnels. */
export function tunnelIp(addr: string): string | undefined {
  const host = addr.slice(0, addr.lastIndexOf(":"));
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : undefined;
}

export class TaskNetworks implements NetworkHook {
  private constructor(
    private readonly plane: OverlayDataPlane,
    private readonly taskOf: (taskId: string) => Task | undefined,
    private readonly log: (line: string) => void,
  ) {}

  /** Rebuilds the node's overlays from what it was last told (also after a reboot), before any manager answers. */
  static async open(o: { addr: string; stateDir: string; taskOf: (taskId: string) => Task | undefined; log: (line: string) => void }): Promise<TaskNetworks | undefined> {
    const localIp = tunnelIp(o.addr);
    if (!localIp) {
      o.log(`worker: overlay networks need an IPv4 address to advertise, not ${o.addr}: this node runs no task on an overlay network`);
      return undefined;
    }
    const plane = await OverlayDataPlane.open({ localIp, stateFile: join(o.stateDir, "overlay.json"), log: o.log });
    return new TaskNetworks(plane, o.taskOf, o.log);
  }

  /** The managers' push; a failure is logged and the next push tries again. */
  apply(networks: NodeNetwork[]): void {
    this.plane.apply(networks).catch((e: Error) => this.log(`worker: overlay networks: ${e.message}`));
  }

  async attach(rec: ContainerRecord, netnsPath: string): Promise<string[]> {
    const taskId = taskIdOf(rec.name);
    if (!taskId) return [];
    const task = this.taskOf(taskId);
    if (task) {
      if (task.networks.length === 0) return [];
      // The single-host bridge stays eth0, for outbound traffic; overlays follow it.
      return (await this.plane.attach(netnsPath, task, 1)).nameservers;
    }
    // Started again before the managers named the task (a reboot): the networks it had.
    try {
      return (await this.plane.reattach(taskId, netnsPath))?.nameservers ?? [];
    } catch (e) {
      this.log(`worker: task ${taskId}: ${(e as Error).message}`);
      return [];
    }
  }

  async detach(rec: ContainerRecord): Promise<void> {
    const taskId = taskIdOf(rec.name);
    if (taskId) await this.plane.detach(taskId).catch((e: Error) => this.log(`worker: task ${taskId}: ${e.message}`));
  }

  /**
   * Takes the task out of this node's DNS answers and load-balancer targets at once. Returns
   * whether it was on an overlay here (then other nodes need a moment to hear the same).
   */
  async takeOut(taskId: string): Promise<boolean> {
    if (!this.plane.attached(taskId)) return false;
    await this.plane.deactivate(taskId).catch((e: Error) => this.log(`worker: task ${taskId}: ${e.message}`));
    return true;
  }

  /** Drops what is attached for tasks whose containers are gone. */
  retain(taskIds: ReadonlySet<string>): Promise<void> {
    return this.plane.retain(taskIds).catch((e: Error) => this.log(`worker: overlay networks: ${e.message}`));
  }

  /** Daemon stopping: DNS stops, the kernel state stays for the containers that keep running. */
  close(): Promise<void> {
    return this.plane.close();
  }

  /** The node leaves the swarm: every overlay device, rule and table goes. */
  destroy(): Promise<void> {
    return this.plane.destroy();
  }
}
