// `service create` and `service update` flags → a ServiceSpec, as docker builds its own: create
// starts from docker's defaults, update changes only what its flags name in the spec it read.
import {
  EndpointMode, RestartCondition, UpdateFailureAction, UpdateOrder,
  type HealthConfig, type ServiceSpec, type TaskSpec, type UpdateConfig,
} from "../../proto/gen/cluster.js";
import { CliError } from "../errors.js";
import { parseEnv, parseSize } from "../parse.js";
import { parseDuration } from "./duration.js";
import { choice, constraint, cpus, keyValue, mount, network, placementPref, publish, ratio, wholeNumber, words } from "./flags.js";

/** The flags both commands share, as commander hands them over (values unparsed). */
export interface CommonFlags {
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  endpointMode?: string;
  replicas?: string;
  replicasMaxPerNode?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  limitCpu?: string;
  limitMemory?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  stopGracePeriod?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  /** false with --no-healthcheck */
  healthcheck?: boolean;
  updateParallelism?: string;
  updateDelay?: string;
  updateOrder?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackOrder?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
}

export interface CreateFlags extends CommonFlags {
  name?: string;
  mode?: string;
  env?: string[];
  label?: string[];
  mount?: string[];
  publish?: string[];
  network?: string[];
  constraint?: string[];
  placementPref?: string[];
}

export interface UpdateFlags extends CommonFlags {
  image?: string;
  args?: string;
  force?: boolean;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  mountAdd?: string[];
  mountRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  networkAdd?: string[];
  networkRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  placementPrefAdd?: string[];
  placementPrefRm?: string[];
}

/** Swarm's update and rollback defaults: one task at a time, pause on failure, watch each for 5 s. */
export const DEFAULT_UPDATE_CONFIG: Readonly<UpdateConfig> = {
  parallelism: 1,
  delayMs: 0,
  failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  monitorMs: 5000,
  maxFailureRatio: 0,
  order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
};

/** Swarm's restart policy when a flag sets only part of it. */
export const DEFAULT_RESTART_DELAY_MS = 5000;

const MODES = { replicated: "replicated", global: "global" } as const;
const ENDPOINT_MODES = { vip: EndpointMode.ENDPOINT_MODE_VIP, dnsrr: EndpointMode.ENDPOINT_MODE_DNSRR };
const RESTART_CONDITIONS = { none: RestartCondition.RESTART_CONDITION_NONE, "on-failure": RestartCondition.RESTART_CONDITION_ON_FAILURE, any: RestartCondition.RESTART_CONDITION_ANY };
const ORDERS = { "stop-first": UpdateOrder.UPDATE_ORDER_STOP_FIRST, "start-first": UpdateOrder.UPDATE_ORDER_START_FIRST };
const UPDATE_FAILURE = {
  pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
  rollback: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
};
const ROLLBACK_FAILURE = { pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE };

/** `service create [flags] IMAGE [COMMAND] [ARG...]`. */
export function createServiceSpec(image: string, args: readonly string[], f: CreateFlags): ServiceSpec {
  if (!image.trim()) throw new CliError("no image given: shoal service create [OPTIONS] IMAGE [COMMAND] [ARG...]", 125);
  const mode = choice(f.mode ?? "replicated", "--mode", MODES);
  const task = emptyTask();
  Object.assign(task.container!, { image, args: [...args], env: (f.env ?? []).map(parseEnv), mounts: (f.mount ?? []).map((m) => mount(m, "--mount")) });
  task.placement = {
    constraints: (f.constraint ?? []).map((c) => constraint(c, "--constraint")),
    preferences: (f.placementPref ?? []).map((p) => placementPref(p, "--placement-pref")),
    maxReplicas: 0,
  };
  task.networks = (f.network ?? []).map((n) => network(n, "--network"));
  const spec: ServiceSpec = {
    annotations: { name: f.name ?? "", labels: Object.fromEntries((f.label ?? []).map((l) => keyValue(l, "--label"))) },
    task,
    mode: mode === "global" ? { $case: "global", value: {} } : { $case: "replicated", value: { replicas: 1 } },
    update: { ...DEFAULT_UPDATE_CONFIG },
    rollback: { ...DEFAULT_UPDATE_CONFIG },
    endpoint: { mode: EndpointMode.ENDPOINT_MODE_VIP, ports: (f.publish ?? []).flatMap((p) => publish(p, "--publish")) },
  };
  applyCommon(spec, f);
  return spec;
}

/** `service update [flags] SERVICE`: the spec read from the cluster, changed as the flags say. */
export function updateServiceSpec(current: ServiceSpec, f: UpdateFlags): ServiceSpec {
  const spec = structuredClone(current);
  const task = (spec.task ??= emptyTask());
  const c = (task.container ??= emptyTask().container!);
  if (f.image !== undefined) {
    if (!f.image.trim()) throw new CliError("invalid --image: give an image, e.g. busybox:1", 125);
    c.image = f.image;
  }
  if (f.args !== undefined) c.args = words(f.args, "--args");
  c.env = updateEnv(c.env, (f.envAdd ?? []).map(parseEnv), f.envRm ?? []);

  const labels = (spec.annotations ??= { name: "", labels: {} }).labels;
  for (const l of f.labelAdd ?? []) {
    const [k, v] = keyValue(l, "--label-add");
    labels[k] = v;
  }
  for (const k of f.labelRm ?? []) delete labels[k];

  const mountsAdded = (f.mountAdd ?? []).map((m) => mount(m, "--mount-add"));
  const mountRm = new Set([...(f.mountRm ?? []), ...mountsAdded.map((m) => m.target)]);
  c.mounts = [...c.mounts.filter((m) => !mountRm.has(m.target)), ...mountsAdded];

  const p = (task.placement ??= { constraints: [], preferences: [], maxReplicas: 0 });
  const cRm = new Set(f.constraintRm ?? []);
  p.constraints = unique([...p.constraints.filter((x) => !cRm.has(x)), ...(f.constraintAdd ?? []).map((x) => constraint(x, "--constraint-add"))]);
  const prefRm = new Set((f.placementPrefRm ?? []).map((x) => placementPref(x, "--placement-pref-rm").spread!.spreadDescriptor));
  p.preferences = [...p.preferences.filter((x) => !prefRm.has(x.spread?.spreadDescriptor ?? "")), ...(f.placementPrefAdd ?? []).map((x) => placementPref(x, "--placement-pref-add"))];

  const netRm = new Set(f.networkRm ?? []);
  task.networks = task.networks.filter((n) => !netRm.has(n.target));
  for (const n of (f.networkAdd ?? []).map((x) => network(x, "--network-add"))) if (!task.networks.some((o) => o.target === n.target)) task.networks.push(n);

  const ep = (spec.endpoint ??= { mode: EndpointMode.ENDPOINT_MODE_VIP, ports: [] });
  const portKey = (x: { publishedPort: number; targetPort: number; protocol: number; publishMode: number }) => `${x.publishedPort}:${x.targetPort}/${x.protocol}/${x.publishMode}`;
  const removed = (f.publishRm ?? []).flatMap((x) => publish(x, "--publish-rm"));
  ep.ports = ep.ports.filter((x) => !removed.some((r) => r.targetPort === x.targetPort && r.protocol === x.protocol && r.publishMode === x.publishMode));
  for (const x of (f.publishAdd ?? []).flatMap((v) => publish(v, "--publish-add"))) if (!ep.ports.some((o) => portKey(o) === portKey(x))) ep.ports.push(x);

  if (f.force) task.forceUpdate = (task.forceUpdate ?? 0) + 1;
  applyCommon(spec, f);
  return spec;
}

/** What create and update set the same way. */
function applyCommon(spec: ServiceSpec, f: CommonFlags): void {
  const task = spec.task!;
  const c = task.container!;
  if (f.workdir !== undefined) c.dir = f.workdir;
  if (f.user !== undefined) c.user = f.user;
  if (f.hostname !== undefined) c.hostname = f.hostname;
  if (f.entrypoint !== undefined) c.command = words(f.entrypoint, "--entrypoint");
  if (f.stopGracePeriod !== undefined) c.stopGracePeriodMs = parseDuration(f.stopGracePeriod, "--stop-grace-period");
  if (f.endpointMode !== undefined) spec.endpoint!.mode = choice(f.endpointMode, "--endpoint-mode", ENDPOINT_MODES);

  if (f.replicas !== undefined) {
    const n = wholeNumber(f.replicas, "--replicas");
    if (spec.mode?.$case !== "replicated") throw new CliError("invalid --replicas: a global service runs one task per node; --replicas is for replicated services", 125);
    spec.mode.value.replicas = n;
  }
  if (f.replicasMaxPerNode !== undefined) {
    const n = wholeNumber(f.replicasMaxPerNode, "--replicas-max-per-node");
    if (spec.mode?.$case !== "replicated") throw new CliError("invalid --replicas-max-per-node: a global service runs one task per node already", 125);
    (task.placement ??= { constraints: [], preferences: [], maxReplicas: 0 }).maxReplicas = n;
  }

  applyResources(task, f);
  applyRestart(task, f);
  c.healthcheck = health(c.healthcheck, f);
  spec.update = updateConfig(spec.update, f, "update", UPDATE_FAILURE);
  spec.rollback = updateConfig(spec.rollback, f, "rollback", ROLLBACK_FAILURE);
}

function applyResources(task: TaskSpec, f: CommonFlags): void {
  if ([f.reserveCpu, f.reserveMemory, f.limitCpu, f.limitMemory].every((v) => v === undefined)) return;
  const r = (task.resources ??= {});
  const reservations = (r.reservations ??= { nanoCpus: 0, memoryBytes: 0 });
  const limits = (r.limits ??= { nanoCpus: 0, memoryBytes: 0 });
  if (f.reserveCpu !== undefined) reservations.nanoCpus = cpus(f.reserveCpu, "--reserve-cpu");
  if (f.reserveMemory !== undefined) reservations.memoryBytes = parseSize(f.reserveMemory, "--reserve-memory");
  if (f.limitCpu !== undefined) limits.nanoCpus = cpus(f.limitCpu, "--limit-cpu");
  if (f.limitMemory !== undefined) limits.memoryBytes = parseSize(f.limitMemory, "--limit-memory");
}

function applyRestart(task: TaskSpec, f: CommonFlags): void {
  if ([f.restartCondition, f.restartDelay, f.restartMaxAttempts, f.restartWindow].every((v) => v === undefined)) return;
  const r = (task.restart ??= { condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: DEFAULT_RESTART_DELAY_MS, maxAttempts: 0, windowMs: 0 });
  if (f.restartCondition !== undefined) r.condition = choice(f.restartCondition, "--restart-condition", RESTART_CONDITIONS);
  if (f.restartDelay !== undefined) r.delayMs = parseDuration(f.restartDelay, "--restart-delay");
  if (f.restartMaxAttempts !== undefined) r.maxAttempts = wholeNumber(f.restartMaxAttempts, "--restart-max-attempts");
  if (f.restartWindow !== undefined) r.windowMs = parseDuration(f.restartWindow, "--restart-window");
}

function health(current: HealthConfig | undefined, f: CommonFlags): HealthConfig | undefined {
  const given = [f.healthCmd, f.healthInterval, f.healthTimeout, f.healthRetries, f.healthStartPeriod].some((v) => v !== undefined);
  if (f.healthcheck === false) {
    if (given) throw new CliError("--no-healthcheck conflicts with --health-* options: give one or the other", 125);
    return { test: ["NONE"], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
  }
  if (!given) return current;
  // Without --health-cmd the image's own HEALTHCHECK runs, with these timings.
  const h: HealthConfig = current ? { ...current, test: [...current.test] } : { test: [], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 };
  if (f.healthCmd !== undefined) h.test = f.healthCmd.trim() ? ["CMD-SHELL", f.healthCmd] : [];
  if (f.healthInterval !== undefined) h.intervalMs = parseDuration(f.healthInterval, "--health-interval");
  if (f.healthTimeout !== undefined) h.timeoutMs = parseDuration(f.healthTimeout, "--health-timeout");
  if (f.healthRetries !== undefined) h.retries = wholeNumber(f.healthRetries, "--health-retries");
  if (f.healthStartPeriod !== undefined) h.startPeriodMs = parseDuration(f.healthStartPeriod, "--health-start-period");
  return h;
}

function updateConfig(current: UpdateConfig | undefined, f: CommonFlags, kind: "update" | "rollback", failure: Record<string, UpdateFailureAction>): UpdateConfig {
  const u = { ...(current ?? DEFAULT_UPDATE_CONFIG) };
  const get = (name: "Parallelism" | "Delay" | "Order" | "FailureAction" | "Monitor" | "MaxFailureRatio") => f[`${kind}${name}`];
  const flag = (name: string) => `--${kind}-${name}`;
  if (get("Parallelism") !== undefined) u.parallelism = wholeNumber(get("Parallelism")!, flag("parallelism"));
  if (get("Delay") !== undefined) u.delayMs = parseDuration(get("Delay")!, flag("delay"));
  if (get("Order") !== undefined) u.order = choice(get("Order")!, flag("order"), ORDERS);
  if (get("FailureAction") !== undefined) u.failureAction = choice(get("FailureAction")!, flag("failure-action"), failure);
  if (get("Monitor") !== undefined) u.monitorMs = parseDuration(get("Monitor")!, flag("monitor"));
  if (get("MaxFailureRatio") !== undefined) u.maxFailureRatio = ratio(get("MaxFailureRatio")!, flag("max-failure-ratio"));
  return u;
}

/** `KEY=VALUE` entries: removed by key, then added or replaced by key, in place. */
function updateEnv(env: readonly string[], add: readonly string[], rm: readonly string[]): string[] {
  const key = (e: string) => e.split("=")[0];
  const gone = new Set(rm.map(key));
  const out = env.filter((e) => !gone.has(key(e)));
  for (const e of add) {
    const i = out.findIndex((o) => key(o) === key(e));
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

const unique = (xs: string[]) => [...new Set(xs)];

function emptyTask(): TaskSpec {
  return {
    container: { image: "", command: [], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} },
    networks: [],
    forceUpdate: 0,
  };
}
