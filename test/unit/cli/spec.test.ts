import { describe, expect, it } from "vitest";
import { EndpointMode, Mount_Type, PortProtocol, PublishMode, RestartCondition, UpdateFailureAction, UpdateOrder, type ServiceSpec } from "../../../proto/gen/cluster.js";
import { createServiceSpec, DEFAULT_UPDATE_CONFIG, updateServiceSpec, type CreateFlags, type UpdateFlags } from "../../../cli/cluster/spec.js";

const create = (f: CreateFlags = {}, image = "busybox:1", args: string[] = []) => createServiceSpec(image, args, { name: "web", ...f });

describe("service create → ServiceSpec", () => {
  it("starts from docker's defaults", () => {
    const s = create({}, "busybox:1", ["sleep", "1000"]);
    expect(s.annotations).toEqual({ name: "web", labels: {} });
    expect(s.mode).toEqual({ $case: "replicated", value: { replicas: 1 } });
    expect(s.task?.container?.image).toBe("busybox:1");
    expect(s.task?.container?.args).toEqual(["sleep", "1000"]);
    expect(s.task?.container?.command).toEqual([]);
    expect(s.update).toEqual({ parallelism: 1, delayMs: 0, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, monitorMs: 5000, maxFailureRatio: 0, order: UpdateOrder.UPDATE_ORDER_STOP_FIRST });
    expect(s.rollback).toEqual(DEFAULT_UPDATE_CONFIG);
    expect(s.endpoint).toEqual({ mode: EndpointMode.ENDPOINT_MODE_VIP, ports: [] });
    // No restart, resources or health flags: the cluster's defaults and the image's HEALTHCHECK apply.
    expect(s.task?.restart).toBeUndefined();
    expect(s.task?.resources).toBeUndefined();
    expect(s.task?.container?.healthcheck).toBeUndefined();
  });

  it("takes every flag", () => {
    const s = create({
      replicas: "6",
      env: ["A=1", "B=two"],
      label: ["tier=front", "beta"],
      workdir: "/app",
      user: "nobody",
      hostname: "h",
      entrypoint: "/bin/sh -c",
      mount: ["type=bind,source=/srv,target=/data,readonly"],
      publish: ["8080:80", "published=5353,target=53,protocol=udp,mode=host"],
      network: ["backend", "frontend"],
      endpointMode: "dnsrr",
      constraint: ["node.labels.zone==east", "node.role!=manager"],
      placementPref: ["spread=node.labels.rack"],
      replicasMaxPerNode: "2",
      reserveCpu: "0.5",
      reserveMemory: "64m",
      limitCpu: "1",
      limitMemory: "1g",
      restartCondition: "on-failure",
      restartMaxAttempts: "3",
      restartWindow: "1m",
      stopGracePeriod: "30s",
      healthCmd: "wget -q -O- localhost",
      healthInterval: "2s",
      healthTimeout: "1s",
      healthRetries: "3",
      healthStartPeriod: "5s",
      updateParallelism: "2",
      updateDelay: "1s",
      updateOrder: "start-first",
      updateFailureAction: "rollback",
      updateMonitor: "10s",
      updateMaxFailureRatio: "0.2",
      rollbackParallelism: "0",
      rollbackDelay: "500ms",
      rollbackOrder: "stop-first",
      rollbackFailureAction: "continue",
      rollbackMonitor: "2s",
      rollbackMaxFailureRatio: "0.5",
    });
    expect(s.mode).toEqual({ $case: "replicated", value: { replicas: 6 } });
    expect(s.annotations?.labels).toEqual({ tier: "front", beta: "" });
    expect(s.task?.container).toMatchObject({ env: ["A=1", "B=two"], dir: "/app", user: "nobody", hostname: "h", command: ["/bin/sh", "-c"], stopGracePeriodMs: 30_000 });
    expect(s.task?.container?.mounts).toEqual([{ type: Mount_Type.BIND, source: "/srv", target: "/data", readOnly: true }]);
    expect(s.task?.container?.healthcheck).toEqual({ test: ["CMD-SHELL", "wget -q -O- localhost"], intervalMs: 2000, timeoutMs: 1000, retries: 3, startPeriodMs: 5000 });
    expect(s.endpoint?.mode).toBe(EndpointMode.ENDPOINT_MODE_DNSRR);
    expect(s.endpoint?.ports).toEqual([
      { name: "", protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
      { name: "", protocol: PortProtocol.PORT_PROTOCOL_UDP, targetPort: 53, publishedPort: 5353, publishMode: PublishMode.PUBLISH_MODE_HOST },
    ]);
    expect(s.task?.networks).toEqual([{ target: "backend", aliases: [] }, { target: "frontend", aliases: [] }]);
    expect(s.task?.placement).toEqual({ constraints: ["node.labels.zone==east", "node.role!=manager"], preferences: [{ spread: { spreadDescriptor: "node.labels.rack" } }], maxReplicas: 2 });
    expect(s.task?.resources).toEqual({ reservations: { nanoCpus: 5e8, memoryBytes: 64 * 1024 ** 2 }, limits: { nanoCpus: 1e9, memoryBytes: 1024 ** 3 } });
    // The delay nobody gave keeps Swarm's 5 s.
    expect(s.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 5000, maxAttempts: 3, windowMs: 60_000 });
    expect(s.update).toEqual({ parallelism: 2, delayMs: 1000, order: UpdateOrder.UPDATE_ORDER_START_FIRST, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, monitorMs: 10_000, maxFailureRatio: 0.2 });
    expect(s.rollback).toEqual({ parallelism: 0, delayMs: 500, order: UpdateOrder.UPDATE_ORDER_STOP_FIRST, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE, monitorMs: 2000, maxFailureRatio: 0.5 });
  });

  it("global mode", () => {
    expect(create({ mode: "global" }).mode).toEqual({ $case: "global", value: {} });
  });

  it("--no-healthcheck turns the image's check off", () => {
    expect(create({ healthcheck: false }).task?.container?.healthcheck).toEqual({ test: ["NONE"], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0 });
  });

  it("health timings alone keep the image's test", () => {
    expect(create({ healthInterval: "3s" }).task?.container?.healthcheck).toEqual({ test: [], intervalMs: 3000, timeoutMs: 0, retries: 0, startPeriodMs: 0 });
  });

  it.each<[string, CreateFlags, string]>([
    ["negative replicas", { replicas: "-1" }, "invalid --replicas -1: use a whole number of at least 0"],
    ["fractional replicas", { replicas: "1.5" }, "invalid --replicas 1.5: use a whole number of at least 0"],
    ["replicas for a global service", { mode: "global", replicas: "3" }, "invalid --replicas: a global service runs one task per node"],
    ["max per node for a global service", { mode: "global", replicasMaxPerNode: "1" }, "invalid --replicas-max-per-node"],
    ["an unknown mode", { mode: "sometimes" }, "invalid --mode sometimes: use replicated or global"],
    ["a bad endpoint mode", { endpointMode: "rr" }, "invalid --endpoint-mode rr: use vip or dnsrr"],
    ["a bad env entry", { env: ["=x"] }, "invalid environment variable"],
    ["an empty label key", { label: ["=x"] }, "invalid --label =x: use KEY=VALUE"],
    ["a bad mount", { mount: ["type=bind,source=x,target=/y"] }, "invalid --mount"],
    ["a bad port", { publish: ["80:99999"] }, "invalid --publish 80:99999"],
    ["an empty network", { network: [""] }, "invalid --network"],
    ["a malformed constraint", { constraint: ["zone=east"] }, 'invalid --constraint "zone=east"'],
    ["a bad placement preference", { placementPref: ["pack=node.labels.x"] }, "invalid --placement-pref"],
    ["a bad max per node", { replicasMaxPerNode: "-2" }, "invalid --replicas-max-per-node -2"],
    ["a bad CPU reservation", { reserveCpu: "x" }, "invalid --reserve-cpu x"],
    ["a bad memory reservation", { reserveMemory: "lots" }, 'invalid size "lots" for --reserve-memory'],
    ["a bad CPU limit", { limitCpu: "-1" }, "invalid --limit-cpu -1"],
    ["a bad memory limit", { limitMemory: "1q" }, 'invalid size "1q" for --limit-memory'],
    ["a bad restart condition", { restartCondition: "always" }, "invalid --restart-condition always: use none, on-failure or any"],
    ["a bad restart delay", { restartDelay: "5" }, "invalid --restart-delay 5"],
    ["bad restart attempts", { restartMaxAttempts: "-3" }, "invalid --restart-max-attempts -3"],
    ["a bad restart window", { restartWindow: "1d" }, "invalid --restart-window 1d"],
    ["a bad grace period", { stopGracePeriod: "soon" }, "invalid --stop-grace-period soon"],
    ["a bad health interval", { healthInterval: "1" }, "invalid --health-interval 1"],
    ["a bad health timeout", { healthTimeout: "-1s" }, "invalid --health-timeout -1s"],
    ["bad health retries", { healthRetries: "x" }, "invalid --health-retries x"],
    ["a bad health start period", { healthStartPeriod: "x" }, "invalid --health-start-period x"],
    ["--no-healthcheck with a health flag", { healthcheck: false, healthCmd: "true" }, "--no-healthcheck conflicts with --health-* options"],
    ["a bad update parallelism", { updateParallelism: "-1" }, "invalid --update-parallelism -1"],
    ["a bad update delay", { updateDelay: "x" }, "invalid --update-delay x"],
    ["a bad update order", { updateOrder: "random" }, "invalid --update-order random: use stop-first or start-first"],
    ["a bad update failure action", { updateFailureAction: "retry" }, "invalid --update-failure-action retry: use pause, continue or rollback"],
    ["a bad update monitor", { updateMonitor: "x" }, "invalid --update-monitor x"],
    ["a bad update failure ratio", { updateMaxFailureRatio: "2" }, "invalid --update-max-failure-ratio 2"],
    ["a bad rollback parallelism", { rollbackParallelism: "x" }, "invalid --rollback-parallelism x"],
    ["a bad rollback delay", { rollbackDelay: "x" }, "invalid --rollback-delay x"],
    ["a bad rollback order", { rollbackOrder: "x" }, "invalid --rollback-order x"],
    ["rollback as a rollback's failure action", { rollbackFailureAction: "rollback" }, "invalid --rollback-failure-action rollback: use pause or continue"],
    ["a bad rollback monitor", { rollbackMonitor: "x" }, "invalid --rollback-monitor x"],
    ["a bad rollback failure ratio", { rollbackMaxFailureRatio: "-0.1" }, "invalid --rollback-max-failure-ratio -0.1"],
    ["an unbalanced entrypoint", { entrypoint: "sh -c 'x" }, "invalid --entrypoint"],
  ])("refuses %s in one line", (_, f, message) => {
    let err: Error | undefined;
    try {
      create(f);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toContain(message);
    expect(err?.message).not.toContain("\n");
    expect((err as { exitCode?: number }).exitCode).toBe(125);
  });

  it("refuses no image", () => {
    expect(() => createServiceSpec(" ", [], {})).toThrow("no image given");
  });
});

describe("service update → ServiceSpec", () => {
  const base = (): ServiceSpec =>
    createServiceSpec("busybox:1", ["sleep", "1000"], {
      name: "web",
      replicas: "3",
      env: ["A=1", "B=2"],
      label: ["tier=front"],
      mount: ["source=v1,target=/a", "source=v2,target=/b"],
      publish: ["8080:80", "9090:90"],
      network: ["backend"],
      constraint: ["node.role==worker"],
      placementPref: ["spread=node.labels.rack"],
      updateDelay: "2s",
      restartCondition: "none",
    });
  const update = (f: UpdateFlags, s = base()) => updateServiceSpec(s, f);

  it("changes only what the flags name", () => {
    const before = base();
    const after = update({ image: "busybox:2" });
    expect(after.task?.container?.image).toBe("busybox:2");
    after.task!.container!.image = "busybox:1";
    expect(after).toEqual(before);
  });

  it("does not touch the spec it was given", () => {
    const s = base();
    update({ image: "busybox:2", envAdd: ["C=3"], force: true }, s);
    expect(s).toEqual(base());
  });

  it("env: replaced by key in place, removed by key, new ones appended", () => {
    expect(update({ envAdd: ["B=20", "C=3"], envRm: ["A"] }).task?.container?.env).toEqual(["B=20", "C=3"]);
  });

  it("args, replicas and force", () => {
    const s = update({ args: "sh -c 'sleep 5'", replicas: "0", force: true });
    expect(s.task?.container?.args).toEqual(["sh", "-c", "sleep 5"]);
    expect(s.mode).toEqual({ $case: "replicated", value: { replicas: 0 } });
    expect(s.task?.forceUpdate).toBe(1);
    expect(update({ force: true }, s).task?.forceUpdate).toBe(2);
  });

  it("labels, mounts, networks, constraints, preferences", () => {
    const s = update({
      labelAdd: ["tier=back", "new=1"],
      labelRm: ["missing"],
      mountAdd: ["type=tmpfs,target=/b"],
      mountRm: ["/a"],
      networkAdd: ["frontend", "backend"],
      networkRm: ["backend"],
      constraintAdd: ["node.labels.zone==east", "node.role==worker"],
      constraintRm: ["node.role==worker"],
      placementPrefRm: ["spread=node.labels.rack"],
      placementPrefAdd: ["spread=node.labels.zone"],
    });
    expect(s.annotations?.labels).toEqual({ tier: "back", new: "1" });
    expect(s.task?.container?.mounts).toEqual([{ type: Mount_Type.TMPFS, source: "", target: "/b", readOnly: false }]);
    expect(s.task?.networks.map((n) => n.target)).toEqual(["frontend", "backend"]);
    expect(s.task?.placement?.constraints).toEqual(["node.labels.zone==east", "node.role==worker"]);
    expect(s.task?.placement?.preferences).toEqual([{ spread: { spreadDescriptor: "node.labels.zone" } }]);
  });

  it("published ports: removed by target port (and protocol), added once", () => {
    const s = update({ publishRm: ["80"], publishAdd: ["9090:90", "7070:70/udp"] });
    expect(s.endpoint?.ports.map((p) => [p.publishedPort, p.targetPort, p.protocol])).toEqual([
      [9090, 90, PortProtocol.PORT_PROTOCOL_TCP],
      [7070, 70, PortProtocol.PORT_PROTOCOL_UDP],
    ]);
    expect(update({ publishRm: ["80/udp"] }).endpoint?.ports).toHaveLength(2);
  });

  it("update, rollback, restart and health flags merge into what was there", () => {
    const s = update({ updateParallelism: "5", rollbackOrder: "start-first", restartMaxAttempts: "4", healthCmd: "true", healthRetries: "2" });
    expect(s.update).toMatchObject({ parallelism: 5, delayMs: 2000 });
    expect(s.rollback?.order).toBe(UpdateOrder.UPDATE_ORDER_START_FIRST);
    expect(s.task?.restart).toEqual({ condition: RestartCondition.RESTART_CONDITION_NONE, delayMs: 5000, maxAttempts: 4, windowMs: 0 });
    expect(s.task?.container?.healthcheck).toEqual({ test: ["CMD-SHELL", "true"], intervalMs: 0, timeoutMs: 0, retries: 2, startPeriodMs: 0 });
    expect(update({ healthInterval: "9s" }, s).task?.container?.healthcheck?.test).toEqual(["CMD-SHELL", "true"]);
    expect(update({ healthcheck: false }, s).task?.container?.healthcheck?.test).toEqual(["NONE"]);
  });

  it("a spec without update config gets docker's defaults under the flags", () => {
    const s = base();
    delete s.update;
    expect(update({ updateDelay: "3s" }, s).update).toEqual({ ...DEFAULT_UPDATE_CONFIG, delayMs: 3000 });
  });

  it.each<[string, UpdateFlags, string]>([
    ["an empty image", { image: "" }, "invalid --image"],
    ["negative replicas", { replicas: "-1" }, "invalid --replicas -1"],
    ["bad args", { args: "'x" }, "invalid --args"],
    ["a bad added mount", { mountAdd: ["target=rel"] }, "invalid --mount-add"],
    ["a bad added port", { publishAdd: ["x"] }, "invalid --publish-add x"],
    ["a bad removed port", { publishRm: ["0"] }, "invalid --publish-rm 0"],
    ["a bad added constraint", { constraintAdd: ["x"] }, 'invalid --constraint-add "x"'],
    ["a bad added preference", { placementPrefAdd: ["x"] }, "invalid --placement-pref-add x"],
    ["a bad update order", { updateOrder: "x" }, "invalid --update-order x"],
  ])("refuses %s", (_, f, message) => {
    expect(() => update(f)).toThrow(message);
  });

  it("refuses --replicas for a global service", () => {
    expect(() => update({ replicas: "2" }, createServiceSpec("busybox", [], { name: "g", mode: "global" }))).toThrow("a global service runs one task per node");
  });
});
