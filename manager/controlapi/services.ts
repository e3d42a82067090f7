// Services as the Control API writes them: create, update (or roll back) and list, each a pure
// function of one store transaction that checks everything before it writes anything.
import {
  NetworkAttachmentConfig,
  NodeAvailability,
  NodeState,
  PortProtocol,
  PublishMode,
  type PortConfig,
  type Service,
  ServiceSpec,
  TaskState,
  UpdateState,
  type UpdateStatus,
} from "../../proto/gen/cluster.js";
import type { CreateServiceRequest, ListTasksRequest, ListTasksResponse, ServiceStatus, UpdateServiceRequest } from "../../proto/gen/swarm.js";
import { generateName } from "../../agent/engine/containers/naming.js";
import { parseConstraints, satisfies } from "../scheduler/constraint.js";
import { byName, byNodeId, byRunningOf, byServiceId, type ReadTx, type WriteTx } from "../store/types.js";
import { exists, invalid, notFound, outOfDate, precondition } from "./errors.js";
import { findNetwork, resolveNode, resolveService } from "./refs.js";
import { checkServiceSpec, enumName, replacesTasks, withDefaults } from "./spec.js";

export const serviceExists = (name: string) => `service ${name} already exists: pick another name or update it`;

/** Checks the spec, fills Swarm's defaults, and stores the service at spec version 1. Returns its id. */
export function createService(tx: WriteTx, req: CreateServiceRequest, named: (name: string) => void = () => {}): string {
  if (!req.spec) throw invalid("no service spec given: give at least an image");
  const spec = ServiceSpec.fromPartial(req.spec);
  spec.annotations ??= { name: "", labels: {} };
  // As docker does: a service created without a name gets one.
  spec.annotations.name ||= generateName((n) => tx.find("service", byName(n)).length > 0);
  checkServiceSpec(spec);
  const name = spec.annotations.name;
  named(name);
  if (tx.find("service", byName(name)).length > 0) throw exists(serviceExists(name));
  const stored = withDefaults(spec);
  attachNetworks(tx, stored);
  checkPublishedPorts(tx, stored, "");
  return tx.create("service", { id: "", specVersion: 1, spec: stored, previousSpec: undefined, updateStatus: undefined, endpoint: undefined });
}

/**
 * Replaces the spec of the service read at `req.version`, or with `rollback` swaps the previous
 * spec back in. The spec version (which makes tasks stale) moves only when tasks must change.
 */
export function updateService(tx: WriteTx, req: UpdateServiceRequest, now: number): void {
  const cur = resolveService(tx, req.ref);
  const name = cur.spec?.annotations?.name ?? cur.id;
  const had = cur.meta?.version ?? 0;
  if (req.version !== had) throw outOfDate(`service ${name} was changed since you read it (version ${had}, you had ${req.version}): read it again and retry`);
  const old = cur.spec ?? ServiceSpec.fromPartial({});
  let next: ServiceSpec;
  if (req.rollback) {
    if (!cur.previousSpec) throw precondition(`service ${name} has no previous spec to roll back to: it was never updated`);
    next = structuredClone(cur.previousSpec);
  } else {
    if (!req.spec) throw invalid(`no spec given for service ${name}: send the whole new spec`);
    next = ServiceSpec.fromPartial(req.spec);
    next.annotations ??= { name: "", labels: {} };
    next.annotations.name ||= name;
    if (next.annotations.name !== name) throw invalid(`service ${name} cannot be renamed to ${next.annotations.name}: create a new service with that name instead`);
    checkServiceSpec(next);
    if (next.mode?.$case !== old.mode?.$case) {
      throw invalid(`service ${name} is ${old.mode?.$case ?? "without a mode"} and cannot become ${next.mode?.$case}: remove it and create it again`);
    }
    next = withDefaults(next);
  }
  attachNetworks(tx, next);
  checkPublishedPorts(tx, next, cur.id);
  const replace = replacesTasks(old, next);
  tx.update("service", {
    ...cur,
    spec: next,
    previousSpec: old,
    specVersion: cur.specVersion + (replace ? 1 : 0),
    updateStatus: nextUpdateStatus(cur.updateStatus, req.rollback, replace, now),
  });
}

/**
 * What the updater (manager/orchestrator/updater.ts) should do next: roll back, roll out new
 * tasks, resume a paused update (any update does), or carry on as it was (a scale, a new policy).
 */
function nextUpdateStatus(cur: UpdateStatus | undefined, rollback: boolean, replace: boolean, now: number): UpdateStatus | undefined {
  if (rollback) return { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAt: now, completedAt: 0, message: "rollback requested" };
  if (replace) return { state: UpdateState.UPDATE_STATE_UPDATING, startedAt: now, completedAt: 0, message: "update in progress" };
  const paused = cur?.state === UpdateState.UPDATE_STATE_PAUSED || cur?.state === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED;
  // A fresh start time: the failures that paused it are not counted again.
  if (paused) return { state: UpdateState.UPDATE_STATE_UPDATING, startedAt: now, completedAt: 0, message: "update resumed" };
  return cur;
}

/** Names the spec's networks by id (as stored), refusing unknown, ingress and repeated ones. */
function attachNetworks(tx: ReadTx, spec: ServiceSpec): void {
  const name = spec.annotations!.name;
  const seen = new Set<string>();
  spec.task!.networks = spec.task!.networks.map((a): NetworkAttachmentConfig => {
    const net = findNetwork(tx, a.target);
    if (!net) throw notFound(`service ${name}: no such network: ${a.target}; create it first with shoal network create ${a.target}`);
    const netName = net.spec?.annotations?.name || net.id;
    if (net.spec?.ingress) throw invalid(`service ${name}: ${netName} is the routing mesh's network: publish ports instead of attaching to it`);
    if (seen.has(net.id)) throw invalid(`service ${name} attaches to network ${netName} twice: attach it once`);
    seen.add(net.id);
    return { ...a, target: net.id };
  });
}

const ingress = (p: PortConfig) => (p.publishMode ?? PublishMode.PUBLISH_MODE_INGRESS) === PublishMode.PUBLISH_MODE_INGRESS && (p.publishedPort ?? 0) > 0;
const portKey = (p: PortConfig) => `${p.publishedPort}/${enumName(PortProtocol, p.protocol)}`;

/** Whether the spec publishes a port number through the routing mesh (which other services may not). */
export function publishesPorts(spec: ServiceSpec | undefined): boolean {
  return (spec?.endpoint?.ports ?? []).some(ingress);
}

/** A port published through the routing mesh answers on every node: only one service may have it. */
function checkPublishedPorts(tx: ReadTx, spec: ServiceSpec, self: string): void {
  const wanted = new Set((spec.endpoint?.ports ?? []).filter(ingress).map(portKey));
  if (wanted.size === 0) return;
  for (const s of tx.find("service")) {
    if (s.id === self) continue;
    // The allocator's choices for ports published without a number count as well.
    for (const p of [...(s.spec?.endpoint?.ports ?? []), ...(s.endpoint?.ports ?? [])]) {
      if (!ingress(p) || !wanted.has(portKey(p))) continue;
      const other = s.spec?.annotations?.name ?? s.id;
      throw exists(`port ${portKey(p)} is already published by service ${other}: publish another port, or remove it from ${other} first`);
    }
  }
}

/** Each service with its running tasks and how many it should have. */
export function listServices(tx: ReadTx): ServiceStatus[] {
  const services = tx.find("service").sort((a, b) => (a.spec?.annotations?.name ?? "").localeCompare(b.spec?.annotations?.name ?? ""));
  return services.map((service) => ({
    service,
    running: tx.count("task", byRunningOf(service.id)),
    desired: desiredTasks(tx, service),
  }));
}

/** Replicated: the replicas asked for. Global: the nodes that may hold its task (ready, not drained, constraints met). */
export function desiredTasks(tx: ReadTx, s: Service): number {
  const mode = s.spec?.mode;
  if (mode?.$case === "replicated") return mode.value.replicas;
  if (mode?.$case !== "global") return 0;
  let constraints;
  try {
    constraints = parseConstraints(s.spec?.task?.placement?.constraints ?? []);
  } catch {
    return 0; // a stored bad constraint matches no node, as the orchestrator reads it
  }
  return tx
    .find("node")
    .filter((n) => n.status?.state === NodeState.NODE_STATE_READY && n.spec?.availability !== NodeAvailability.NODE_AVAILABILITY_DRAIN && satisfies(n, constraints))
    .length;
}

/** Tasks of a service, of a node, of both, or all; with the names `service ps` prints. */
export function listTasks(tx: ReadTx, req: ListTasksRequest): ListTasksResponse {
  const service = req.service ? resolveService(tx, req.service) : undefined;
  const node = req.node ? resolveNode(tx, req.node) : undefined;
  let tasks = service ? tx.find("task", byServiceId(service.id)) : node ? tx.find("task", byNodeId(node.id)) : tx.find("task");
  if (service && node) tasks = tasks.filter((t) => t.nodeId === node.id);
  const nodeNames: Record<string, string> = {};
  const serviceNames: Record<string, string> = {};
  for (const t of tasks) {
    if (t.nodeId && !(t.nodeId in nodeNames)) {
      const n = tx.get("node", t.nodeId);
      if (n) nodeNames[t.nodeId] = n.description?.hostname || n.spec?.annotations?.name || n.id;
    }
    if (!(t.serviceId in serviceNames)) {
      const s = tx.get("service", t.serviceId);
      if (s) serviceNames[t.serviceId] = s.spec?.annotations?.name ?? s.id;
    }
  }
  return { tasks, nodeNames, serviceNames };
}
