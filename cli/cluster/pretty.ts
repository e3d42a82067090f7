// `node inspect --pretty` and `service inspect --pretty`: docker's human-readable layouts.
import { NodeRole, UpdateState, type Node, type Service } from "../../proto/gen/cluster.js";
import { ago } from "../parse.js";
import { formatDuration } from "./duration.js";
import {
  availabilityWord, endpointModeWord, failureActionWord, mountTypeWord, nodeStateWord, orderWord, pretty, protocolWord, publishModeWord, reachabilityWord, updateStateWord,
} from "./words.js";

/** Bytes in binary units with 4 significant digits, as docker's BytesSize: "1.954GiB", "20MiB". */
export function binarySize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** A unix ms time as Go prints a time.Time, lower-cased as docker's PrettyPrint leaves it: "2024-05-01 10:00:00.5 +0000 utc". */
export function goTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const frac = d.getUTCMilliseconds() ? `.${p(d.getUTCMilliseconds(), 3).replace(/0+$/, "")}` : "";
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${frac} +0000 utc`;
}

/** A float32 from the wire (0.2 arrives as 0.20000000298…) printed as Go prints it. */
const float32 = (x: number) => String(Number(x.toPrecision(6)));

const labelLines = (labels: Record<string, string> | undefined, bullet: string) =>
  Object.entries(labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${bullet}${k}${v ? `=${v}` : ""}`);

export function nodePretty(n: Node): string {
  const out = [`ID:\t\t\t${n.id}`];
  if (n.spec?.annotations?.name) out.push(`Name:\t\t\t${n.spec.annotations.name}`);
  const labels = labelLines(n.spec?.annotations?.labels, " - ");
  if (labels.length) out.push("Labels:", ...labels);
  out.push(`Hostname:              \t${n.description?.hostname ?? ""}`);
  out.push(`Joined at:             \t${goTime(n.meta?.createdAt ?? 0)}`);
  out.push("Status:", ` State:\t\t\t${pretty(nodeStateWord(n.status?.state ?? 0))}`);
  if (n.status?.message) out.push(` Message:              \t${pretty(n.status.message)}`);
  out.push(` Availability:         \t${pretty(availabilityWord(n.spec?.availability ?? 0))}`);
  if (n.status?.addr) out.push(` Address:\t\t${n.status.addr}`);
  const m = n.managerStatus;
  if (m && n.spec?.role === NodeRole.NODE_ROLE_MANAGER) {
    out.push("Manager Status:", ` Address:\t\t${m.addr}`, ` Raft Status:\t\t${pretty(reachabilityWord(m.reachability))}`, ` Leader:\t\t${m.leader ? "Yes" : "No"}`);
  }
  const d = n.description;
  out.push("Platform:", ` Operating System:\t${d?.platform?.os ?? ""}`, ` Architecture:\t\t${d?.platform?.architecture ?? ""}`);
  out.push("Resources:", ` CPUs:\t\t\t${(d?.resources?.nanoCpus ?? 0) / 1e9}`, ` Memory:\t\t${binarySize(d?.resources?.memoryBytes ?? 0)}`);
  out.push(`Engine Version:\t\t${d?.engine?.engineVersion ?? ""}`);
  const engineLabels = labelLines(d?.engine?.labels, " - ");
  if (engineLabels.length) out.push("Engine Labels:", ...engineLabels);
  return out.join("\n") + "\n";
}

/** Go prints a []string as "[a b]". */
const goList = (xs: readonly string[]) => `[${xs.join(" ")}]`;

export function servicePretty(s: Service, now: number): string {
  const spec = s.spec;
  const task = spec?.task;
  const c = task?.container;
  const out = ["", `ID:\t\t${s.id}`, `Name:\t\t${spec?.annotations?.name ?? ""}`];
  const labels = labelLines(spec?.annotations?.labels, " ");
  if (labels.length) out.push("Labels:", ...labels);
  if (spec?.mode?.$case === "global") out.push("Service Mode:\tGlobal");
  else out.push("Service Mode:\tReplicated", ` Replicas:\t${spec?.mode?.value.replicas ?? 0}`);

  const us = s.updateStatus;
  if (us && us.state !== UpdateState.UPDATE_STATE_UNKNOWN) {
    out.push("UpdateStatus:", ` State:\t\t${updateStateWord(us.state)}`);
    if (us.startedAt) out.push(` Started:\t${ago(us.startedAt / 1000, now)}`);
    if (us.state === UpdateState.UPDATE_STATE_COMPLETED && us.completedAt) out.push(` Completed:\t${ago(us.completedAt / 1000, now)}`);
    out.push(` Message:\t${us.message}`);
  }

  out.push("Placement:");
  const pl = task?.placement;
  if (pl?.constraints.length) out.push(` Constraints:\t${goList(pl.constraints)}`);
  if (pl?.preferences.length) out.push(` Preferences:   ${goList(pl.preferences.map((p) => `spread=${p.spread?.spreadDescriptor ?? ""}`))}`);
  if (pl?.maxReplicas) out.push(` Max Replicas Per Node:   ${pl.maxReplicas}`);

  for (const [title, cfg, orderTitle] of [["UpdateConfig", spec?.update, "Update order:      "], ["RollbackConfig", spec?.rollback, "Rollback order:    "]] as const) {
    if (!cfg) continue;
    out.push(`${title}:`, ` Parallelism:\t${cfg.parallelism}`);
    if (cfg.delayMs > 0) out.push(` Delay:\t\t${formatDuration(cfg.delayMs)}`);
    out.push(` On failure:\t${failureActionWord(cfg.failureAction)}`);
    if (cfg.monitorMs > 0) out.push(` Monitoring Period: ${formatDuration(cfg.monitorMs)}`);
    out.push(` Max failure ratio: ${float32(cfg.maxFailureRatio)}`, ` ${orderTitle}${orderWord(cfg.order)}`);
  }

  out.push("ContainerSpec:", ` Image:\t\t${c?.image ?? ""}`);
  if (c?.args.length) out.push(` Args:\t\t${c.args.map((a) => `${a} `).join("")}`);
  if (c?.env.length) out.push(` Env:\t\t${c.env.map((e) => `${e} `).join("")}`);
  if (c?.dir) out.push(` Dir:\t\t${c.dir}`);
  if (c?.user) out.push(` User: ${c.user}`);
  if (c?.mounts.length) {
    out.push("Mounts:");
    for (const m of c.mounts) out.push(` Target:\t${m.target}`, `  Source:\t${m.source}`, `  ReadOnly:\t${m.readOnly}`, `  Type:\t\t${mountTypeWord(m.type)}`);
  }

  const r = task?.resources;
  const reserved = r?.reservations && (r.reservations.nanoCpus > 0 || r.reservations.memoryBytes > 0);
  const limited = r?.limits && (r.limits.nanoCpus > 0 || r.limits.memoryBytes > 0);
  if (reserved || limited) {
    out.push("Resources:");
    for (const [title, x] of [[" Reservations:", reserved ? r!.reservations : undefined], [" Limits:", limited ? r!.limits : undefined]] as const) {
      if (!x) continue;
      out.push(title);
      if (x.nanoCpus > 0) out.push(`  CPU:\t\t${x.nanoCpus / 1e9}`);
      if (x.memoryBytes > 0) out.push(`  Memory:\t${binarySize(x.memoryBytes)}`);
    }
  }
  if (task?.networks.length) out.push(`Networks:${task.networks.map((n) => ` ${n.target}`).join("")} `);
  out.push(`Endpoint Mode:\t${spec?.endpoint ? endpointModeWord(spec.endpoint.mode) : ""}`);
  const ports = s.endpoint?.ports?.length ? s.endpoint.ports : (spec?.endpoint?.ports ?? []);
  if (ports.length) {
    out.push("Ports:");
    for (const p of ports) {
      out.push(` PublishedPort = ${p.publishedPort}`, `  Protocol = ${protocolWord(p.protocol)}`, `  TargetPort = ${p.targetPort}`, `  PublishMode = ${publishModeWord(p.publishMode)}`);
    }
  }
  const h = c?.healthcheck;
  if (h) {
    out.push(" Healthcheck:", `  Interval = ${formatDuration(h.intervalMs)}`, `  Retries = ${h.retries}`, `  StartPeriod =\t${formatDuration(h.startPeriodMs)}`, `  Timeout =\t${formatDuration(h.timeoutMs)}`);
    if (h.test.length) out.push("  Tests:", ...h.test.map((t) => `\t Test = ${t}`));
  }
  return out.join("\n") + "\n";
}
