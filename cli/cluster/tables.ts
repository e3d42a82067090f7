// The tables of `node ls`, `service ls` and `service ps`, with docker's columns, words and order,
// and the prefix `service logs` puts on each line.
import { NodeRole, PublishMode, TaskState, type Node, type PortConfig, type Service, type Task } from "../../proto/gen/cluster.js";
import type { ListTasksResponse, LogLine, ServiceStatus } from "../../proto/gen/swarm.js";
import { ago, table } from "../parse.js";
import {
  availabilityWord, ellipsis, naturalCompare, nodeStateWord, pretty, protocolWord, reachabilityWord, shortId, shortImage, taskStateWord,
} from "./words.js";

/** What docker's MANAGER STATUS column says: Leader, Reachable, Unreachable, or nothing for a worker. */
export function managerStatus(n: Node): string {
  const m = n.managerStatus;
  if (!m || n.spec?.role !== NodeRole.NODE_ROLE_MANAGER) return "";
  return m.leader ? "Leader" : pretty(reachabilityWord(m.reachability));
}

/** `node ls`: nodes by hostname, this node's id marked with " *". */
export function nodeTable(nodes: readonly Node[], selfId: string): string {
  const sorted = [...nodes].sort((a, b) => naturalCompare(a.description?.hostname ?? "", b.description?.hostname ?? ""));
  const rows = sorted.map((n) => [
    n.id === selfId ? `${n.id} *` : n.id,
    n.description?.hostname ?? "",
    pretty(nodeStateWord(n.status?.state ?? 0)),
    pretty(availabilityWord(n.spec?.availability ?? 0)),
    managerStatus(n),
    n.description?.engine?.engineVersion ?? "",
  ]);
  return table(["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"], rows);
}

export const serviceMode = (s: Service) => (s.spec?.mode?.$case === "global" ? "global" : "replicated");

/** "6/6", or "2/3 (max 1 per node)" when replicas per node are capped. */
export function replicasColumn(st: ServiceStatus): string {
  const max = st.service?.spec?.task?.placement?.maxReplicas ?? 0;
  const base = `${st.running}/${st.desired}`;
  return max > 0 && st.service && serviceMode(st.service) === "replicated" ? `${base} (max ${max} per node)` : base;
}

/**
 * Published ingress ports as docker lists them: "*:8080->80/tcp", consecutive ports folded into
 * ranges ("*:8080-8081->80-81/tcp").
 */
export function portsColumn(service: Service): string {
  const given = service.endpoint?.ports?.length ? service.endpoint.ports : (service.spec?.endpoint?.ports ?? []).filter((p) => p.publishedPort > 0);
  const ports = given.filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS).sort((a, b) => a.protocol - b.protocol || a.publishedPort - b.publishedPort);
  const out: string[] = [];
  let run: { p0: number; p1: number; t0: number; t1: number; protocol: number } | undefined;
  const flush = () => {
    if (!run) return;
    const span = (a: number, b: number) => (b > a ? `${a}-${b}` : `${a}`);
    out.push(`*:${span(run.p0, run.p1)}->${span(run.t0, run.t1)}/${protocolWord(run.protocol)}`);
  };
  for (const p of ports) {
    const extends_ = run && p.protocol === run.protocol && p.publishedPort === run.p1 + 1 && (p.targetPort === run.t1 + 1 || (run.t0 === run.t1 && p.targetPort === run.t1));
    if (run && extends_) {
      run.p1 = p.publishedPort;
      run.t1 = p.targetPort;
      continue;
    }
    flush();
    run = { p0: p.publishedPort, p1: p.publishedPort, t0: p.targetPort, t1: p.targetPort, protocol: p.protocol };
  }
  flush();
  return out.join(", ");
}

/** `service ls`: ID NAME MODE REPLICAS IMAGE PORTS, by name. */
export function serviceTable(services: readonly ServiceStatus[]): string {
  const sorted = [...services].sort((a, b) => naturalCompare(a.service?.spec?.annotations?.name ?? "", b.service?.spec?.annotations?.name ?? ""));
  const rows = sorted.map((st) => {
    const s = st.service!;
    return [shortId(s.id), s.spec?.annotations?.name ?? "", serviceMode(s), replicasColumn(st), shortImage(s.spec?.task?.container?.image ?? ""), portsColumn(s)];
  });
  return table(["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], rows);
}

/** "web.3" for a replicated task, "web.<node id>" for a global one. */
export function taskName(t: Task, serviceName: string): string {
  return `${serviceName}.${t.slot > 0 ? t.slot : t.nodeId}`;
}

export interface TaskTableOptions {
  noTrunc?: boolean;
  /** Unix ms the ages are counted to. */
  now: number;
}

/** Docker caps the ERROR column at 30 characters unless --no-trunc. */
const MAX_ERROR = 30;

function errorColumn(t: Task, noTrunc: boolean): string {
  const err = t.status?.err ?? "";
  if (err) return `"${noTrunc ? err : ellipsis(err, MAX_ERROR)}"`;
  // Why the scheduler could not place it: shown whole, since the reason is the point.
  const reason = t.status?.state === TaskState.TASK_STATE_PENDING ? (t.status.pendingReason ?? "") : "";
  return reason ? `"${reason}"` : "";
}

const portText = (p: PortConfig) => `*:${p.publishedPort}->${p.targetPort}/${protocolWord(p.protocol)}`;

/** Tasks with their names, sorted so each slot's newest comes first and its history follows. */
export function sortedTasks(res: ListTasksResponse): { task: Task; name: string; history: boolean }[] {
  const named = res.tasks.map((task) => ({ task, name: taskName(task, res.serviceNames[task.serviceId] ?? task.serviceId) }));
  named.sort((a, b) => naturalCompare(a.name, b.name) || (b.task.meta?.createdAt ?? 0) - (a.task.meta?.createdAt ?? 0));
  return named.map((x, i) => ({ ...x, history: i > 0 && named[i - 1].name === x.name }));
}

/** `service ps`: ID NAME IMAGE NODE DESIRED STATE CURRENT STATE ERROR PORTS, history rows as " \_ name". */
export function taskTable(res: ListTasksResponse, o: TaskTableOptions): string {
  const rows = sortedTasks(res).map(({ task: t, name, history }) => [
    o.noTrunc ? t.id : shortId(t.id),
    history ? ` \\_ ${name}` : name,
    o.noTrunc ? (t.spec?.container?.image ?? "") : shortImage(t.spec?.container?.image ?? ""),
    t.nodeId ? (res.nodeNames[t.nodeId] ?? t.nodeId) : "",
    pretty(taskStateWord(t.desiredState)),
    `${pretty(taskStateWord(t.status?.state ?? 0))} ${ago((t.status?.timestamp ?? 0) / 1000, o.now).toLowerCase()}`,
    errorColumn(t, !!o.noTrunc),
    (t.status?.portStatus?.ports ?? []).map(portText).join(","),
  ]);
  return table(["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"], rows);
}

export interface LogPrefixOptions {
  /** The service's replica count: slot numbers are padded to its width. */
  replicas: number;
  noTaskIds?: boolean;
  noTrunc?: boolean;
}

/** `web.1.<task id>@<node>    | `, as docker's `service logs` prefixes each line. */
export function logPrefix(l: LogLine, o: LogPrefixOptions): string {
  const id = o.noTaskIds ? "" : `.${o.noTrunc ? l.taskId : shortId(l.taskId)}`;
  const pad = " ".repeat(Math.max(0, String(o.replicas).length - String(l.slot).length));
  return `${l.serviceName}.${l.slot}${id}@${l.nodeName || l.nodeId}${pad}    | `;
}
