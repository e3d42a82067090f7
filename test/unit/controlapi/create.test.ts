import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  EndpointMode,
  Mount_Type,
  PortProtocol,
  PublishMode,
  RestartCondition,
  type ServiceSpec,
  UpdateFailureAction,
  UpdateOrder,
} from "../../../proto/gen/cluster.js";
import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG } from "../../../manager/controlapi/spec.js";
import { NOW, refused, setup, spec } from "./fixtures.js";

const MiB = 1024 * 1024;
const port = (publishedPort: number, o: { targetPort?: number; protocol?: PortProtocol; publishMode?: PublishMode } = {}) => ({
  name: "",
  protocol: o.protocol ?? PortProtocol.PORT_PROTOCOL_TCP,
  targetPort: o.targetPort ?? 80,
  publishedPort,
  publishMode: o.publishMode ?? PublishMode.PUBLISH_MODE_INGRESS,
});
const mount = (type: Mount_Type, source: string, target: string) => ({ type, source, target, readOnly: false });
const health = (test: string[], o: { intervalMs?: number; timeoutMs?: number } = {}) => ({ test, intervalMs: o.intervalMs ?? 0, timeoutMs: o.timeoutMs ?? 0, retries: 0, startPeriodMs: 0 });
const update = (o: Partial<typeof DEFAULT_UPDATE_CONFIG>) => ({ ...DEFAULT_UPDATE_CONFIG, ...o });

type Edit = (s: ServiceSpec) => void;
const INVALID: [string, Edit, string][] = [
  ["a bad name", (s) => (s.annotations!.name = "-web"), 'invalid service name "-web": use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit'],
  ["no image", (s) => (s.task!.container!.image = ""), "service web has no image: give one, e.g. busybox"],
  ["a malformed image reference", (s) => (s.task!.container!.image = "busybox::1"), 'service web: invalid image reference "busybox::1": name component "busybox:" may hold only lowercase letters, digits and single separators (. _ __ -)'],
  ["an upper-case image name", (s) => (s.task!.container!.image = "BusyBox"), 'service web: invalid image reference "BusyBox": repository name must be lowercase'],
  ["no mode", (s) => (s.mode = undefined), "service web has no mode: use replicated or global"],
  ["negative replicas", (s) => (s.mode = { $case: "replicated", value: { replicas: -1 } }), "service web: replicas must be a whole number from 0 to 1000000, not -1"],
  ["-1 read as an unsigned 64-bit number", (s) => (s.mode = { $case: "replicated", value: { replicas: 2 ** 64 - 1 } }), "service web: replicas must be a whole number from 0 to 1000000, not 18446744073709552000"],
  ["max replicas per node on a global service", (s) => ((s.mode = { $case: "global", value: {} }), (s.task!.placement = { constraints: [], preferences: [], maxReplicas: 2 })), "service web: max replicas per node applies to replicated services only: drop it for a global service"],
  ["a malformed constraint", (s) => (s.task!.placement = { constraints: ["node.labels.zone=east"], preferences: [], maxReplicas: 0 }), 'invalid constraint "node.labels.zone=east": write KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east'],
  ["an unknown constraint key", (s) => (s.task!.placement = { constraints: ["node.colour==red"], preferences: [], maxReplicas: 0 }), 'invalid constraint "node.colour==red": unknown key "node.colour"; use node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME or engine.labels.NAME'],
  ["a bad placement preference", (s) => (s.task!.placement = { constraints: [], preferences: [{ spread: { spreadDescriptor: "zone" } }], maxReplicas: 0 }), 'invalid placement preference "spread=zone": spread over node.labels.NAME or engine.labels.NAME'],
  ["an environment entry without a name", (s) => (s.task!.container!.env = ["=x"]), 'service web: environment entry "=x" has no name: write NAME=VALUE'],
  ["a relative bind mount source", (s) => (s.task!.container!.mounts = [mount(Mount_Type.BIND, "data", "/data")]), 'service web: bind mount source "data" must be an absolute path on the node, e.g. /srv/data'],
  ["a relative mount target", (s) => (s.task!.container!.mounts = [mount(Mount_Type.VOLUME, "data", "data")]), 'service web: mount target "data" must be an absolute path inside the container, other than /'],
  ["a mount over /", (s) => (s.task!.container!.mounts = [mount(Mount_Type.VOLUME, "data", "/")]), 'service web: mount target "/" must be an absolute path inside the container, other than /'],
  ["a bad volume name", (s) => (s.task!.container!.mounts = [mount(Mount_Type.VOLUME, "-data", "/data")]), 'service web: invalid volume name "-data": use letters, digits, _ . - (starting with a letter or digit)'],
  ["a tmpfs mount with a source", (s) => (s.task!.container!.mounts = [mount(Mount_Type.TMPFS, "x", "/tmp")]), 'service web: a tmpfs mount has no source: drop "x" from the mount at /tmp'],
  ["two mounts at one target", (s) => (s.task!.container!.mounts = [mount(Mount_Type.VOLUME, "a", "/data"), mount(Mount_Type.BIND, "/srv", "/data")]), "service web: two mounts at /data: mount each target once"],
  ["an unknown mount type", (s) => (s.task!.container!.mounts = [mount(7 as Mount_Type, "a", "/data")]), "service web: unknown mount type 7: use bind, volume, tmpfs"],
  ["a negative stop grace period", (s) => (s.task!.container!.stopGracePeriodMs = -1), "service web: stop grace period -1 ms is not a duration: give 0 or more milliseconds"],
  ["a memory reservation above the limit", (s) => (s.task!.resources = { limits: { nanoCpus: 0, memoryBytes: 256 * MiB }, reservations: { nanoCpus: 0, memoryBytes: 512 * MiB } }), "service web: reserves 512.0 MiB of memory but is limited to 256.0 MiB: reserve at most the limit"],
  ["a CPU reservation above the limit", (s) => (s.task!.resources = { limits: { nanoCpus: 1e9, memoryBytes: 0 }, reservations: { nanoCpus: 2e9, memoryBytes: 0 } }), "service web: reserves 2 CPUs but is limited to 1: reserve at most the limit"],
  ["a memory limit below 6 MiB", (s) => (s.task!.resources = { limits: { nanoCpus: 0, memoryBytes: 1024 }, reservations: undefined }), "service web: memory limit 1024 bytes is below the 6 MiB a container needs: limit it to 6 MiB or more"],
  ["a negative reservation", (s) => (s.task!.resources = { limits: undefined, reservations: { nanoCpus: -5, memoryBytes: 0 } }), "service web: CPU reservation (nano CPUs) must be a whole number of 0 or more, not -5"],
  ["an unknown restart condition", (s) => (s.task!.restart = { ...DEFAULT_RESTART_POLICY, condition: 9 as RestartCondition }), "service web: unknown restart condition 9: use any, on-failure, none"],
  ["a negative restart delay", (s) => (s.task!.restart = { ...DEFAULT_RESTART_POLICY, delayMs: -1000 }), "service web: restart delay -1000 ms is not a duration: give 0 or more milliseconds"],
  ["an update failure ratio above 1", (s) => (s.update = update({ maxFailureRatio: 1.5 })), "service web: max failure ratio must be between 0 and 1"],
  ["a rollback failure ratio below 0", (s) => (s.rollback = update({ maxFailureRatio: -0.5 })), "service web: rollback max failure ratio -0.5 must be between 0 and 1"],
  ["an unknown update failure action", (s) => (s.update = update({ failureAction: 5 as UpdateFailureAction })), "service web: unknown update failure action 5: use pause, continue, rollback"],
  ["an unknown update order", (s) => (s.update = update({ order: 3 as UpdateOrder })), "service web: unknown update order 3: use stop-first, start-first"],
  ["a negative update monitor", (s) => (s.update = update({ monitorMs: -1 })), "service web: update monitor period -1 ms is not a duration: give 0 or more milliseconds"],
  ["a rollback that would roll back", (s) => (s.rollback = update({ failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK })), "service web: a failing rollback cannot roll back: its failure action is pause or continue"],
  ["a health check test of unknown form", (s) => (s.task!.container!.healthcheck = health(["curl", "-f", "localhost"])), 'service web: health check test ["curl","-f","localhost"] is not NONE, CMD with a command and its arguments, or CMD-SHELL with one shell command'],
  ["a CMD health check without a command", (s) => (s.task!.container!.healthcheck = health(["CMD"])), 'service web: health check test ["CMD"] is not NONE, CMD with a command and its arguments, or CMD-SHELL with one shell command'],
  ["a CMD-SHELL health check with two commands", (s) => (s.task!.container!.healthcheck = health(["CMD-SHELL", "a", "b"])), 'service web: health check test ["CMD-SHELL","a","b"] is not NONE, CMD with a command and its arguments, or CMD-SHELL with one shell command'],
  ["a negative health check interval", (s) => (s.task!.container!.healthcheck = health(["CMD", "true"], { intervalMs: -1 })), "service web: health check interval -1 ms is not a duration: give 0 or more milliseconds"],
  ["a negative health check timeout", (s) => (s.task!.container!.healthcheck = health(["CMD", "true"], { timeoutMs: -2 })), "service web: health check timeout -2 ms is not a duration: give 0 or more milliseconds"],
  ["a target port out of range", (s) => (s.endpoint = { mode: 0, ports: [port(8080, { targetPort: 0 })] }), "service web: target port 0 is out of range 1-65535"],
  ["a published port out of range", (s) => (s.endpoint = { mode: 0, ports: [port(70000)] }), "service web: published port 70000 is out of range 1-65535"],
  ["a port published twice", (s) => (s.endpoint = { mode: 0, ports: [port(8080), port(8080, { targetPort: 81 })] }), "service web publishes port 8080 twice: publish each port once"],
  ["an unknown protocol", (s) => (s.endpoint = { mode: 0, ports: [port(8080, { protocol: 4 as PortProtocol })] }), "service web: unknown port protocol 4: use tcp, udp, sctp"],
  ["an ingress port with dnsrr", (s) => (s.endpoint = { mode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [port(8080)] }), "service web: port 80 is published through the routing mesh, which needs a virtual IP: use the vip endpoint mode, or publish it with mode=host"],
];

describe("CreateService refuses a bad spec before writing anything", () => {
  it.each(INVALID)("%s", async (_, edit, message) => {
    const { store, api } = await setup();
    await refused(store, () => api.createService({ spec: spec("web", edit) }), status.INVALID_ARGUMENT, message);
  });

  it("no spec at all", async () => {
    const { store, api } = await setup();
    await refused(store, () => api.createService({}), status.INVALID_ARGUMENT, "no service spec given: give at least an image");
  });

  it("a name already taken, in any case", async () => {
    const { store, api } = await setup();
    await api.createService({ spec: spec("web") });
    await refused(store, () => api.createService({ spec: spec("WEB") }), status.ALREADY_EXISTS, "service WEB already exists: pick another name or update it");
  });

  it("a port another service publishes through the routing mesh", async () => {
    const { store, api } = await setup();
    await api.createService({ spec: spec("web", (s) => (s.endpoint = { mode: 0, ports: [port(9000)] })) });
    await refused(store, () => api.createService({ spec: spec("p2", (s) => (s.endpoint = { mode: 0, ports: [port(9000, { targetPort: 8080 })] })) }), status.ALREADY_EXISTS, "port 9000/tcp is already published by service web: publish another port, or remove it from web first");
  });

  it("a port the allocator chose for another service", async () => {
    const { store, api } = await setup();
    const web = await api.createService({ spec: spec("web", (s) => (s.endpoint = { mode: 0, ports: [port(0)] })) });
    await store.update((tx) => tx.update("service", { ...web, endpoint: { spec: web.spec!.endpoint, ports: [port(30001)], virtualIps: [] } }));
    await refused(store, () => api.createService({ spec: spec("p2", (s) => (s.endpoint = { mode: 0, ports: [port(30001)] })) }), status.ALREADY_EXISTS, /^port 30001\/tcp is already published by service web/);
  });

  it("a network that does not exist, the ingress network, or one network twice", async () => {
    const { store, api } = await setup();
    await store.update((tx) => {
      tx.create("network", { id: "net1", spec: { annotations: { name: "backend", labels: {} }, driver: "overlay", attachable: false, ingress: false } });
      tx.create("network", { id: "net2", spec: { annotations: { name: "ingress", labels: {} }, driver: "overlay", attachable: false, ingress: true } });
    });
    const on = (...targets: string[]) => spec("web", (s) => (s.task!.networks = targets.map((target) => ({ target, aliases: [] }))));
    await refused(store, () => api.createService({ spec: on("front") }), status.NOT_FOUND, "service web: no such network: front; create it first with shoal network create front");
    await refused(store, () => api.createService({ spec: on("ingress") }), status.INVALID_ARGUMENT, "service web: ingress is the routing mesh's network: publish ports instead of attaching to it");
    await refused(store, () => api.createService({ spec: on("backend", "net1") }), status.INVALID_ARGUMENT, "service web attaches to network backend twice: attach it once");
  });
});

describe("CreateService stores a good spec", () => {
  it("at spec version 1, with Swarm's update, rollback and restart defaults", async () => {
    const { store, api } = await setup();
    const s = await api.createService({ spec: spec("web", (s) => (s.mode = { $case: "replicated", value: { replicas: 3 } })) });
    expect(s.id).not.toBe("");
    expect(s.meta?.version).toBe(store.version);
    expect(s.specVersion).toBe(1);
    expect(s.previousSpec).toBeUndefined();
    expect(s.updateStatus).toBeUndefined();
    expect(s.spec?.update).toEqual({ parallelism: 1, delayMs: 0, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, monitorMs: 5000, maxFailureRatio: 0, order: UpdateOrder.UPDATE_ORDER_STOP_FIRST });
    expect(s.spec?.rollback).toEqual(s.spec?.update);
    expect(s.spec?.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 5000, maxAttempts: 0, windowMs: 0 });
    expect(await api.getService({ ref: "web" })).toEqual(s);
  });

  it("keeps the policies it is given, zeros included", async () => {
    const { api } = await setup();
    const given = update({ parallelism: 0, monitorMs: 0, order: UpdateOrder.UPDATE_ORDER_START_FIRST, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, maxFailureRatio: 0.25 });
    const s = await api.createService({ spec: spec("web", (s) => ((s.update = given), (s.task!.restart = { condition: RestartCondition.RESTART_CONDITION_NONE, delayMs: 0, maxAttempts: 0, windowMs: 0 }))) });
    expect(s.spec?.update).toEqual(given);
    expect(s.spec?.task?.restart?.delayMs).toBe(0);
  });

  it("names a service created without a name, as docker does", async () => {
    const { api } = await setup();
    const s = await api.createService({ spec: spec("") });
    expect(s.spec?.annotations?.name).toMatch(/^[a-z]+_[a-z]+\d*$/);
  });

  it("accepts everything a full spec may hold", async () => {
    const { store, api } = await setup();
    await store.update((tx) => tx.create("network", { id: "net1", spec: { annotations: { name: "backend", labels: {} }, driver: "overlay", attachable: false, ingress: false } }));
    const s = await api.createService({
      spec: spec("web", (s) => {
        s.task!.container!.image = "127.0.0.1:5000/team/app:v2";
        s.task!.container!.env = ["A=1", "B"];
        s.task!.container!.mounts = [mount(Mount_Type.BIND, "/srv/data", "/data"), mount(Mount_Type.VOLUME, "", "/cache"), mount(Mount_Type.TMPFS, "", "/tmp")];
        s.task!.container!.healthcheck = health(["CMD-SHELL", "wget -q -O- localhost"], { intervalMs: 1000, timeoutMs: 500 });
        s.task!.resources = { limits: { nanoCpus: 2e9, memoryBytes: 512 * MiB }, reservations: { nanoCpus: 1e9, memoryBytes: 512 * MiB } };
        s.task!.placement = { constraints: ["node.role==worker", "node.labels.zone!=west"], preferences: [{ spread: { spreadDescriptor: "node.labels.zone" } }], maxReplicas: 2 };
        s.task!.networks = [{ target: "backend", aliases: ["api"] }];
        s.endpoint = { mode: 0, ports: [port(8080), port(8080, { protocol: PortProtocol.PORT_PROTOCOL_UDP }), port(8081, { publishMode: PublishMode.PUBLISH_MODE_HOST }), port(0)] };
      }),
    });
    // Networks are stored by id, as the orchestrator and agents look them up.
    expect(s.spec?.task?.networks).toEqual([{ target: "net1", aliases: ["api"] }]);
  });

  it("lets another service publish the same port in host mode, or another protocol", async () => {
    const { api } = await setup();
    await api.createService({ spec: spec("web", (s) => (s.endpoint = { mode: 0, ports: [port(9000)] })) });
    await api.createService({ spec: spec("dns", (s) => (s.endpoint = { mode: 0, ports: [port(9000, { protocol: PortProtocol.PORT_PROTOCOL_UDP })] })) });
    await api.createService({ spec: spec("local", (s) => (s.endpoint = { mode: 0, ports: [port(9000, { publishMode: PublishMode.PUBLISH_MODE_HOST })] })) });
    expect((await api.listServices()).services.map((x) => x.service!.spec!.annotations!.name)).toEqual(["dns", "local", "web"]);
  });

  it("frees a published port when its service is removed", async () => {
    const { api } = await setup();
    await api.createService({ spec: spec("web", (s) => (s.endpoint = { mode: 0, ports: [port(9000)] })) });
    await api.removeService({ ref: "web" });
    const s = await api.createService({ spec: spec("p2", (s) => (s.endpoint = { mode: 0, ports: [port(9000)] })) });
    expect(s.meta?.createdAt).toBe(NOW);
  });
});
