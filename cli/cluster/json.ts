// `node inspect` and `service inspect` JSON in docker's shape (its field names, lower-case enum
// words, RFC 3339 times, durations in nanoseconds), so jq filters written for docker still work.
import { NodeRole, UpdateState, type EndpointSpec, type Node, type PortConfig, type Service, type ServiceSpec, type UpdateConfig } from "../../proto/gen/cluster.js";
import {
  availabilityWord, endpointModeWord, failureActionWord, mountTypeWord, nodeStateWord, orderWord, protocolWord, publishModeWord, reachabilityWord,
  restartConditionWord, roleWord, updateStateWord,
} from "./words.js";

type Json = Record<string, unknown>;

const time = (ms: number | undefined) => new Date(ms ?? 0).toISOString();
const ns = (ms: number) => ms * 1e6;
/** Drops what docker leaves out when empty (omitempty). */
function compact(o: Json): Json {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0)));
}

const port = (p: PortConfig) => compact({ Name: p.name, Protocol: protocolWord(p.protocol), TargetPort: p.targetPort, PublishedPort: p.publishedPort, PublishMode: publishModeWord(p.publishMode) });

const updateConfig = (u: UpdateConfig | undefined) =>
  u && {
    Parallelism: u.parallelism,
    Delay: ns(u.delayMs),
    FailureAction: failureActionWord(u.failureAction),
    Monitor: ns(u.monitorMs),
    MaxFailureRatio: Number(u.maxFailureRatio.toPrecision(6)),
    Order: orderWord(u.order),
  };

const endpointSpec = (e: EndpointSpec | undefined) => e && compact({ Mode: endpointModeWord(e.mode), Ports: e.ports.map(port) });

export function serviceSpecJson(spec: ServiceSpec): Json {
  const t = spec.task;
  const c = t?.container;
  const h = c?.healthcheck;
  const r = t?.resources;
  const res = (x: { nanoCpus: number; memoryBytes: number } | undefined) => x && compact({ NanoCPUs: x.nanoCpus || undefined, MemoryBytes: x.memoryBytes || undefined });
  return compact({
    Name: spec.annotations?.name,
    Labels: spec.annotations?.labels ?? {},
    TaskTemplate: compact({
      ContainerSpec: c && compact({
        Image: c.image,
        Labels: Object.keys(c.labels).length ? c.labels : undefined,
        Command: c.command,
        Args: c.args,
        Hostname: c.hostname,
        Env: c.env,
        Dir: c.dir,
        User: c.user,
        Mounts: c.mounts.map((m) => compact({ Type: mountTypeWord(m.type), Source: m.source, Target: m.target, ReadOnly: m.readOnly || undefined })),
        StopGracePeriod: c.stopGracePeriodMs ? ns(c.stopGracePeriodMs) : undefined,
        Healthcheck: h && compact({ Test: h.test, Interval: ns(h.intervalMs) || undefined, Timeout: ns(h.timeoutMs) || undefined, StartPeriod: ns(h.startPeriodMs) || undefined, Retries: h.retries || undefined }),
      }),
      Resources: r ? compact({ Limits: res(r.limits), Reservations: res(r.reservations) }) : {},
      RestartPolicy: t?.restart && { Condition: restartConditionWord(t.restart.condition), Delay: ns(t.restart.delayMs), MaxAttempts: t.restart.maxAttempts, Window: ns(t.restart.windowMs) },
      Placement: t?.placement
        ? compact({
            Constraints: t.placement.constraints,
            Preferences: t.placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread?.spreadDescriptor ?? "" } })),
            MaxReplicas: t.placement.maxReplicas || undefined,
          })
        : {},
      Networks: t?.networks.map((n) => compact({ Target: n.target, Aliases: n.aliases })),
      ForceUpdate: t?.forceUpdate ?? 0,
    }),
    Mode: spec.mode?.$case === "global" ? { Global: {} } : { Replicated: { Replicas: spec.mode?.value.replicas ?? 0 } },
    UpdateConfig: updateConfig(spec.update),
    RollbackConfig: updateConfig(spec.rollback),
    EndpointSpec: endpointSpec(spec.endpoint),
  });
}

export function serviceJson(s: Service): Json {
  const us = s.updateStatus;
  return compact({
    ID: s.id,
    Version: { Index: s.meta?.version ?? 0 },
    CreatedAt: time(s.meta?.createdAt),
    UpdatedAt: time(s.meta?.updatedAt),
    Spec: s.spec ? serviceSpecJson(s.spec) : {},
    PreviousSpec: s.previousSpec && serviceSpecJson(s.previousSpec),
    Endpoint: compact({
      Spec: endpointSpec(s.endpoint?.spec ?? s.spec?.endpoint) ?? {},
      Ports: s.endpoint?.ports.map(port),
      VirtualIPs: s.endpoint?.virtualIps.map((v) => ({ NetworkID: v.networkId, Addr: v.addr })),
    }),
    UpdateStatus:
      us && us.state !== UpdateState.UPDATE_STATE_UNKNOWN
        ? compact({ State: updateStateWord(us.state), StartedAt: us.startedAt ? time(us.startedAt) : undefined, CompletedAt: us.completedAt ? time(us.completedAt) : undefined, Message: us.message })
        : undefined,
  });
}

export function nodeJson(n: Node): Json {
  const d = n.description;
  const m = n.managerStatus;
  return compact({
    ID: n.id,
    Version: { Index: n.meta?.version ?? 0 },
    CreatedAt: time(n.meta?.createdAt),
    UpdatedAt: time(n.meta?.updatedAt),
    Spec: compact({ Name: n.spec?.annotations?.name, Labels: n.spec?.annotations?.labels ?? {}, Role: roleWord(n.spec?.role ?? 0), Availability: availabilityWord(n.spec?.availability ?? 0) }),
    Description: compact({
      Hostname: d?.hostname,
      Platform: { Architecture: d?.platform?.architecture ?? "", OS: d?.platform?.os ?? "" },
      Resources: { NanoCPUs: d?.resources?.nanoCpus ?? 0, MemoryBytes: d?.resources?.memoryBytes ?? 0 },
      Engine: compact({ EngineVersion: d?.engine?.engineVersion, Labels: d?.engine?.labels && Object.keys(d.engine.labels).length ? d.engine.labels : undefined }),
    }),
    Status: compact({ State: nodeStateWord(n.status?.state ?? 0), Message: n.status?.message, Addr: n.status?.addr }),
    ManagerStatus: m && n.spec?.role === NodeRole.NODE_ROLE_MANAGER ? { Leader: m.leader || undefined, Reachability: reachabilityWord(m.reachability), Addr: m.addr } : undefined,
  });
}
