// The names the agent's DNS answers, per network, from the services the managers pushed: a
// service name (or alias) answers its VIP in vip mode and its tasks' addresses in dnsrr mode,
// `tasks.NAME` answers the tasks' addresses, a task's own name its address. A container sees
// only the names of the networks it is on. Pure: no sockets.
import { EndpointMode, type ServiceRecord } from "../../../proto/gen/cluster.js";

/** Lower case without the trailing dot: DNS names compare case-insensitively. */
export const normalName = (name: string): string => name.toLowerCase().replace(/\.$/, "");

export class NameTable {
  private readonly byNetwork = new Map<string, ServiceRecord[]>();
  private turn = 0;

  /** `drained`: tasks taken out before they stop (deactivated), whose addresses are not answered any more. */
  constructor(private readonly drained: ReadonlySet<string> = new Set()) {}

  set(networkId: string, services: ServiceRecord[]): void {
    this.byNetwork.set(networkId, services);
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
    const tasksOf = q.startsWith("tasks.") ? q.slice("tasks.".length) : undefined;
    let found = false;
    const out = new Set<string>();
    for (const id of networks) {
      for (const s of this.byNetwork.get(id) ?? []) {
        const names = [s.name, ...s.aliases].map(normalName);
        const live = s.tasks.filter((t) => !this.drained.has(t.taskId));
        if (names.includes(q)) {
          found = true;
          if (s.mode === EndpointMode.ENDPOINT_MODE_VIP && s.vip) out.add(s.vip);
          else for (const t of live) out.add(t.ip);
        } else if (tasksOf !== undefined && names.includes(tasksOf)) {
          found = true;
          for (const t of live) out.add(t.ip);
        } else {
          for (const t of live) {
            if (t.name && normalName(t.name) === q) {
              found = true;
              out.add(t.ip);
            }
          }
        }
      }
    }
    if (!found) return undefined;
    // Rotated on every answer: clients that take the first address spread over the tasks.
    const list = [...out];
    const k = list.length > 1 ? this.turn++ % list.length : 0;
    return [...list.slice(k), ...list.slice(0, k)];
  }
}
