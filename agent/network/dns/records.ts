// The names the agent's DNS answers, per network, from the services the managers pushed: a
// service name (or alias) answers its VIP in vip mode and its tasks' addresses in dnsrr mode,
// `tasks.NAME` answers the tasks' addresses, a task's own name its address. A container sees
// only the names of the networks it is on. Pure: no sockets.
import { EndpointMode, type ServiceRecord } from "../../../proto/gen/cluster.js";

/** Lower case without the trailing dot: DNS names compare case-insensitively. */
export const normalName = (name: string): string => name.toLowerCase().replace(/\.$/, "");

/** What one name stands for in one service: the service itself, its `tasks.` name, or one task. */
type Entry = { kind: "service" | "tasks"; service: ServiceRecord } | { kind: "task"; taskId: string; ip: string };

export class NameTable {
  /** Per network, every name to what it stands for: built when the network's services change, so a query costs one map look-up whatever the cluster's size. */
  private readonly byNetwork = new Map<string, Map<string, Entry[]>>();
  private turn = 0;

  /** `drained`: tasks taken out before they stop (deactivated), whose addresses are not answered any more. */
  constructor(private readonly drained: ReadonlySet<string> = new Set()) {}

  set(networkId: string, services: ServiceRecord[]): void {
    const index = new Map<string, Entry[]>();
    const add = (name: string, e: Entry) => {
      const list = index.get(name);
      if (list) list.push(e);
      else index.set(name, [e]);
    };
    for (const s of services) {
      const names = new Set([s.name, ...s.aliases].map(normalName));
      for (const n of names) add(n, { kind: "service", service: s });
      for (const n of names) if (!names.has(`tasks.${n}`)) add(`tasks.${n}`, { kind: "tasks", service: s });
      for (const t of s.tasks) {
        const n = t.name ? normalName(t.name) : "";
        if (n && !names.has(n) && !(n.startsWith("tasks.") && names.has(n.slice("tasks.".length)))) add(n, { kind: "task", taskId: t.taskId, ip: t.ip });
      }
    }
    this.byNetwork.set(networkId, index);
  }

  delete(networkId: string): void {
    this.byNetwork.delete(networkId);
  }

  /**
   * The addresses `name` stands for on the given networks (those the asker is on), or undefined
   * when it is no name of ours (then it is forwarded). A service with no task yet answers no address.
   */
  lookup(name: string, networks: readonly string[]): string[] | undefined {
    const q = normalName(name);
    let found = false;
    const out = new Set<string>();
    const live = (s: ServiceRecord) => {
      for (const t of s.tasks) if (!this.drained.has(t.taskId)) out.add(t.ip);
    };
    for (const id of networks) {
      for (const e of this.byNetwork.get(id)?.get(q) ?? []) {
        found = true;
        if (e.kind === "task") {
          if (!this.drained.has(e.taskId)) out.add(e.ip);
        } else if (e.kind === "service" && e.service.mode === EndpointMode.ENDPOINT_MODE_VIP && e.service.vip) out.add(e.service.vip);
        else live(e.service);
      }
    }
    if (!found) return undefined;
    // Rotated on every answer: clients that take the first address spread over the tasks.
    const list = [...out];
    const k = list.length > 1 ? this.turn++ % list.length : 0;
    return k === 0 ? list : [...list.slice(k), ...list.slice(0, k)];
  }
}
