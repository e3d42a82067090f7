// How containers look to users: docker-shaped inspect JSON and the rows of `ps`.
import type { ContainerSummary } from "../../../proto/gen/engine.js";
import type { ContainerRecord } from "./record.js";

/** "3 seconds", "About a minute", "5 minutes", "2 hours", "3 days" (docker's wording). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "Less than a second";
  if (s < 60) return `${s} second${s === 1 ? "" : "s"}`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const st = rec.state;
  switch (st.status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(st.startedAt))}`;
    case "restarting":
      return `Restarting (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    case "exited":
      return st.finishedAt ? `Exited (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago` : "Created";
    case "created":
      return "Created";
    default:
      return "Dead";
  }
}

export function summaryOf(rec: ContainerRecord): ContainerSummary {
  return {
    id: rec.id,
    name: rec.name,
    image: rec.image,
    command: rec.process.args.join(" "),
    createdUnix: Math.floor(Date.parse(rec.created) / 1000),
    state: rec.state.status,
    status: statusText(rec),
    ports: rec.state.status === "running" ? rec.config.ports : [],
  };
}

export function inspectOf(rec: ContainerRecord, logPath: string, volumeMountpoint: (name: string) => string): object {
  const c = rec.config;
  const st = rec.state;
  const zero = "0001-01-01T00:00:00Z";
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of c.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    (ports[key] ??= []).push({ HostIp: p.hostIp || "0.0.0.0", HostPort: String(p.hostPort) });
  }
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.process.args[0],
    Args: rec.process.args.slice(1),
    State: {
      Status: st.status,
      Running: st.status === "running",
      Paused: false,
      Restarting: st.status === "restarting",
      OOMKilled: st.oomKilled,
      Dead: st.status === "dead",
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt || zero,
      FinishedAt: st.finishedAt || zero,
    },
    Image: rec.imageId,
    LogPath: logPath,
    Name: `/${rec.name}`,
    RestartCount: rec.restartCount,
    Config: {
      Hostname: rec.process.hostname,
      User: rec.process.user,
      Env: rec.process.env,
      Cmd: c.cmd.length ? c.cmd : null,
      Entrypoint: c.entrypointSet ? c.entrypoint : null,
      Image: rec.image,
      WorkingDir: rec.process.cwd,
      StopSignal: c.stopSignal || "SIGTERM",
      StopTimeout: c.stopTimeout >= 0 ? c.stopTimeout : 10,
      ExposedPorts: Object.fromEntries(Object.keys(ports).map((k) => [k, {}])),
    },
    HostConfig: {
      NetworkMode: c.networkMode,
      PortBindings: ports,
      RestartPolicy: { Name: c.restartPolicy?.name ?? "no", MaximumRetryCount: c.restartPolicy?.maximumRetryCount ?? 0 },
      AutoRemove: c.autoRemove,
      Binds: c.mounts.map((m) => `${m.source}:${m.destination}${m.readOnly ? ":ro" : ""}`),
      Memory: c.memoryBytes,
      NanoCpus: c.nanoCpus,
      PidsLimit: c.pidsLimit || null,
    },
    Mounts: c.mounts.map((m) => ({
      Type: m.type,
      Name: m.type === "volume" ? m.source : undefined,
      Source: m.type === "volume" ? volumeMountpoint(m.source) : m.source,
      Destination: m.destination,
      RW: !m.readOnly,
      Mode: m.readOnly ? "ro" : "",
    })),
    NetworkSettings: {
      IPAddress: rec.network?.ip ?? "",
      IPPrefixLen: rec.network?.prefix ?? 0,
      Gateway: rec.network?.gateway ?? "",
      Ports: st.status === "running" ? ports : {},
      SandboxKey: rec.network?.netnsPath ?? "",
    },
  };
}
