// A service spec as the Control API accepts it: everything checked before anything is stored
// (on top of what the orchestrator and scheduler need, manager/orchestrator/spec.ts), Swarm's
// defaults filled in, and whether a change needs new tasks or only a new count of them.
import {
  EndpointMode,
  EndpointSpec,
  type HealthConfig,
  type Mount,
  Mount_Type,
  PortProtocol,
  PublishMode,
  type ResourceRequirements,
  RestartCondition,
  type RestartPolicy,
  type ServiceSpec,
  TaskSpec,
  type UpdateConfig,
  UpdateFailureAction,
  UpdateOrder,
} from "../../proto/gen/cluster.js";
import { parseReference } from "../../agent/engine/image/reference.js";
import { VolumeStore } from "../../agent/engine/volumes/store.js";
import { DEFAULT_RESTART_DELAY_MS } from "../orchestrator/restart.js";
import { SpecError, validateServiceSpec } from "../orchestrator/spec.js";

/** Swarm's update and rollback defaults: one task at a time, no delay, pause on failure, 5 s monitor. */
export const DEFAULT_UPDATE_CONFIG: Readonly<UpdateConfig> = {
  parallelism: 1,
  delayMs: 0,
  failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  monitorMs: 5_000,
  maxFailureRatio: 0,
  order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
};

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = {
  condition: RestartCondition.RESTART_CONDITION_ANY,
  delayMs: DEFAULT_RESTART_DELAY_MS,
  maxAttempts: 0,
  windowMs: 0,
};

/** A guard against a typo (or -1 read as 2^64-1) making the orchestrator create tasks without end. */
export const MAX_REPLICAS = 1_000_000;
/** The least memory a container can be limited to, as docker has it. */
export const MIN_MEMORY_LIMIT = 6 * 1024 * 1024;

/** Throws SpecError, ConstraintError or an invalid image reference error: one line each. */
export function checkServiceSpec(spec: ServiceSpec): void {
  validateServiceSpec(spec);
  const name = spec.annotations!.name;
  const task = spec.task!;
  try {
    parseReference(task.container!.image);
  } catch (err) {
    throw new SpecError(`service ${name}: ${(err as Error).message}`);
  }
  const bad = (what: string) => new SpecError(`service ${name}: ${what}`);
  if (spec.mode!.$case === "replicated") {
    const n = spec.mode!.value.replicas;
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_REPLICAS) throw bad(`replicas must be a whole number from 0 to ${MAX_REPLICAS}, not ${n}`);
  } else if ((task.placement?.maxReplicas ?? 0) !== 0) {
    throw bad("max replicas per node applies to replicated services only: drop it for a global service");
  }
  const c = task.container!;
  for (const e of c.env) if (e === "" || e.startsWith("=")) throw bad(`environment entry "${e}" has no name: write NAME=VALUE`);
  duration(bad, "stop grace period", c.stopGracePeriodMs);
  checkMounts(bad, c.mounts);
  if (c.healthcheck) checkHealth(bad, c.healthcheck);
  if (task.resources) checkResources(bad, task.resources);
  if (task.restart) checkRestart(bad, task.restart);
  count(bad, "max replicas per node", task.placement?.maxReplicas ?? 0);
  if (spec.update) checkUpdateConfig(bad, "update", spec.update);
  if (spec.rollback) checkUpdateConfig(bad, "rollback", spec.rollback);
  if (spec.endpoint) checkEndpoint(bad, spec.endpoint);
}

type Bad = (what: string) => SpecError;

function duration(bad: Bad, what: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) throw bad(`${what} ${ms} ms is not a duration: give 0 or more milliseconds`);
}

function count(bad: Bad, what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${what} must be a whole number of 0 or more, not ${n}`);
}

function known(bad: Bad, what: string, e: Enum, v: number): void {
  if (v < 0 || !(v in e)) throw bad(`unknown ${what} ${v}: use ${enumNames(e).map(([, n]) => n).join(", ")}`);
}

type Enum = Record<string, string | number>;

/** An enum's values as users write them: PORT_PROTOCOL_TCP is "tcp", UPDATE_ORDER_STOP_FIRST "stop-first". */
function enumNames(e: Enum): [number, string][] {
  const keys = Object.keys(e).filter((k) => Number.isNaN(Number(k)) && k !== "UNRECOGNIZED");
  let prefix = keys[0] ?? "";
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf("_") + 1);
  return keys.map((k) => [e[k] as number, k.slice(prefix.length).toLowerCase().replace(/_/g, "-")]);
}

/** How a user writes one enum value ("tcp"), or its number when it has no name. */
export function enumName(e: Enum, v: number): string {
  return enumNames(e).find(([n]) => n === v)?.[1] ?? String(v);
}

function checkMounts(bad: Bad, mounts: readonly Mount[]): void {
  const targets = new Set<string>();
  for (const m of mounts) {
    known(bad, "mount type", Mount_Type, m.type);
    if (!m.target.startsWith("/") || m.target.replace(/\/+$/, "") === "") throw bad(`mount target "${m.target}" must be an absolute path inside the container, other than /`);
    if (targets.has(m.target)) throw bad(`two mounts at ${m.target}: mount each target once`);
    targets.add(m.target);
    if (m.type === Mount_Type.BIND && !m.source.startsWith("/")) throw bad(`bind mount source "${m.source}" must be an absolute path on the node, e.g. /srv/data`);
    if (m.type === Mount_Type.VOLUME && m.source !== "" && !VolumeStore.validName(m.source)) throw bad(`invalid volume name "${m.source}": use letters, digits, _ . - (starting with a letter or digit)`);
    if (m.type === Mount_Type.TMPFS && m.source !== "") throw bad(`a tmpfs mount has no source: drop "${m.source}" from the mount at ${m.target}`);
  }
}

function checkHealth(bad: Bad, h: HealthConfig): void {
  const [form, ...rest] = h.test;
  const ok =
    h.test.length === 0 || // the image's own health check
    (form === "NONE" && rest.length === 0) ||
    (form === "CMD" && rest.length > 0 && rest[0] !== "") ||
    (form === "CMD-SHELL" && rest.length === 1 && rest[0] !== "");
  if (!ok) throw bad(`health check test ${JSON.stringify(h.test)} is not NONE, CMD with a command and its arguments, or CMD-SHELL with one shell command`);
  duration(bad, "health check interval", h.intervalMs);
  duration(bad, "health check timeout", h.timeoutMs);
  duration(bad, "health check start period", h.startPeriodMs);
  count(bad, "health check retries", h.retries);
}

const MiB = 1024 * 1024;

function checkResources(bad: Bad, r: ResourceRequirements): void {
  const lim = { nanoCpus: r.limits?.nanoCpus ?? 0, memoryBytes: r.limits?.memoryBytes ?? 0 };
  const res = { nanoCpus: r.reservations?.nanoCpus ?? 0, memoryBytes: r.reservations?.memoryBytes ?? 0 };
  count(bad, "CPU limit (nano CPUs)", lim.nanoCpus);
  count(bad, "memory limit (bytes)", lim.memoryBytes);
  count(bad, "CPU reservation (nano CPUs)", res.nanoCpus);
  count(bad, "memory reservation (bytes)", res.memoryBytes);
  if (lim.memoryBytes > 0 && lim.memoryBytes < MIN_MEMORY_LIMIT) throw bad(`memory limit ${lim.memoryBytes} bytes is below the 6 MiB a container needs: limit it to 6 MiB or more`);
  if (lim.nanoCpus > 0 && res.nanoCpus > lim.nanoCpus) throw bad(`reserves ${res.nanoCpus / 1e9} CPUs but is limited to ${lim.nanoCpus / 1e9}: reserve at most the limit`);
  if (lim.memoryBytes > 0 && res.memoryBytes > lim.memoryBytes) throw bad(`reserves ${(res.memoryBytes / MiB).toFixed(1)} MiB of memory but is limited to ${(lim.memoryBytes / MiB).toFixed(1)} MiB: reserve at most the limit`);
}

function checkRestart(bad: Bad, r: RestartPolicy): void {
  known(bad, "restart condition", RestartCondition, r.condition);
  duration(bad, "restart delay", r.delayMs);
  duration(bad, "restart window", r.windowMs);
  count(bad, "restart max attempts", r.maxAttempts);
}

function checkUpdateConfig(bad: Bad, which: "update" | "rollback", u: UpdateConfig): void {
  count(bad, `${which} parallelism`, u.parallelism);
  duration(bad, `${which} delay`, u.delayMs);
  duration(bad, `${which} monitor period`, u.monitorMs);
  known(bad, `${which} failure action`, UpdateFailureAction, u.failureAction);
  known(bad, `${which} order`, UpdateOrder, u.order);
  if (!(u.maxFailureRatio >= 0 && u.maxFailureRatio <= 1)) throw bad(`${which} max failure ratio ${u.maxFailureRatio} must be between 0 and 1`);
  if (which === "rollback" && u.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK) throw bad("a failing rollback cannot roll back: its failure action is pause or continue");
}

function checkEndpoint(bad: Bad, e: EndpointSpec): void {
  known(bad, "endpoint mode", EndpointMode, e.mode);
  for (const p of e.ports) {
    known(bad, "port protocol", PortProtocol, p.protocol);
    known(bad, "publish mode", PublishMode, p.publishMode);
    if (e.mode === EndpointMode.ENDPOINT_MODE_DNSRR && p.publishMode === PublishMode.PUBLISH_MODE_INGRESS) {
      throw bad(`port ${p.targetPort} is published through the routing mesh, which needs a virtual IP: use the vip endpoint mode, or publish it with mode=host`);
    }
  }
}

/** The spec as stored: Swarm's restart, update and rollback defaults where none were given. */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const out = structuredClone(spec);
  out.update ??= { ...DEFAULT_UPDATE_CONFIG };
  out.rollback ??= { ...DEFAULT_UPDATE_CONFIG };
  if (out.task) out.task.restart ??= { ...DEFAULT_RESTART_POLICY };
  return out;
}

/**
 * Whether going from `old` to `next` needs new tasks: the task template or the endpoint changed.
 * A new replica count, update policy or label does not (scaling keeps the tasks it can).
 */
export function replacesTasks(old: ServiceSpec, next: ServiceSpec): boolean {
  const task = (s: ServiceSpec) => canonical(TaskSpec.toJSON(TaskSpec.fromPartial(s.task ?? {})));
  const endpoint = (s: ServiceSpec) => canonical(EndpointSpec.toJSON(EndpointSpec.fromPartial(s.endpoint ?? {})));
  return task(old) !== task(next) || endpoint(old) !== endpoint(next);
}

/** JSON with sorted keys where an empty message or list counts as absent, as proto3 reads them. */
function canonical(v: unknown): string {
  const prune = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.length === 0 ? undefined : x.map((e) => prune(e) ?? null);
    if (x === null || typeof x !== "object") return x;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(x).sort()) {
      const p = prune((x as Record<string, unknown>)[k]);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  };
  return JSON.stringify(prune(v) ?? {});
}
