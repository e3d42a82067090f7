// A store with networks, services, nodes and tasks for allocator tests, and one allocator pass at
// a time: the real store, the real allocator, the orchestrator's own task builder.
import { EndpointMode, PublishMode, TaskState, type Network, type PortConfig, type Task } from "../../../proto/gen/cluster.js";
import { allocate } from "../../../manager/allocator/allocator.js";
import { ingressNetworkSpec } from "../../../manager/allocator/networks.js";
import type { AllocatorOptions } from "../../../manager/allocator/plan.js";
import { newTask } from "../../../manager/orchestrator/changes.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { node, service } from "../scheduler/fixtures.js";

export interface ServiceOptions {
  replicas?: number;
  networks?: string[];
  aliases?: string[];
  dnsrr?: boolean;
  /** Routing-mesh ports: [published, target]; published 0 lets the allocator choose. */
  mesh?: [number, number][];
}

export class AllocCluster {
  now = 1_000_000;
  private ids = 0;
  readonly store: MemoryStore;
  readonly log: string[] = [];

  constructor(
    private readonly opts: Partial<AllocatorOptions> = {},
    store?: MemoryStore,
  ) {
    this.store = store ?? new MemoryStore({ now: () => this.now, newId: () => `id${String(++this.ids).padStart(6, "0")}` });
  }

  async pass(): Promise<number> {
    this.now += 10;
    return allocate(this.store, this.now, { ...this.opts, log: (l) => this.log.push(l) });
  }

  async network(name: string, subnet = ""): Promise<string> {
    const n: Network = {
      id: "",
      spec: { annotations: { name, labels: {} }, driver: "overlay", ipam: subnet ? { driver: "default", configs: [{ subnet, gateway: "", range: "" }] } : undefined, attachable: false, ingress: false },
      driverState: undefined,
      ipam: undefined,
    };
    this.now++;
    return this.store.update((tx) => tx.create("network", n));
  }

  async ingress(subnet?: string): Promise<string> {
    this.now++;
    return this.store.update((tx) => tx.create("network", { id: "", spec: ingressNetworkSpec(subnet), driverState: undefined, ipam: undefined }));
  }

  async node(id: string, addr = ""): Promise<void> {
    const n = node(id);
    n.status!.addr = addr;
    this.now++;
    await this.store.update((tx) => tx.create("node", n));
  }

  async service(name: string, o: ServiceOptions = {}): Promise<string> {
    const s = service("", { replicas: o.replicas ?? 1 });
    s.spec!.annotations!.name = name;
    s.spec!.task!.networks = (o.networks ?? []).map((target) => ({ target, aliases: o.aliases ?? [] }));
    const ports: PortConfig[] = (o.mesh ?? []).map(([published, target]) => ({ name: "", protocol: 0, targetPort: target, publishedPort: published, publishMode: PublishMode.PUBLISH_MODE_INGRESS }));
    if (o.dnsrr || ports.length > 0) s.spec!.endpoint = { mode: o.dnsrr ? EndpointMode.ENDPOINT_MODE_DNSRR : EndpointMode.ENDPOINT_MODE_VIP, ports };
    this.now++;
    return this.store.update((tx) => tx.create("service", s));
  }

  /** A new task for a slot, as the orchestrator makes it (from the service as stored now). */
  async task(serviceId: string, slot: number): Promise<string> {
    this.now++;
    return this.store.update((tx) => tx.create("task", newTask(tx.get("service", serviceId)!, slot, "", this.now)));
  }

  /** Moves a task forward to `state` (and onto a node), as the scheduler and agent would. */
  async advance(id: string, state: TaskState, nodeId?: string): Promise<void> {
    await this.store.update((tx) => {
      const t = structuredClone(tx.get("task", id)!);
      t.status!.state = state;
      if (nodeId) t.nodeId = nodeId;
      tx.update("task", t);
    });
  }

  async remove(kind: "task" | "service" | "network" | "node", id: string): Promise<void> {
    await this.store.update((tx) => tx.delete(kind, id));
  }

  get<K extends "task" | "service" | "network" | "node">(kind: K, id: string) {
    return this.store.view((tx) => tx.get(kind, id))!;
  }

  tasks(): Task[] {
    return this.store.view((tx) => tx.find("task"));
  }
}

export const addressOf = (t: Task, networkId: string): string | undefined => t.networks.find((a) => a.networkId === networkId)?.addresses[0];
