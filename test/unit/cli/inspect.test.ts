import { describe, expect, it } from "vitest";
import { NodeState, Reachability, UpdateState } from "../../../proto/gen/cluster.js";
import { serviceJson, nodeJson } from "../../../cli/cluster/json.js";
import { binarySize, goTime, nodePretty, servicePretty } from "../../../cli/cluster/pretty.js";
import { createServiceSpec } from "../../../cli/cluster/spec.js";
import { NOW, node, service } from "./fixtures.js";

describe("node inspect", () => {
  it("--pretty in docker's layout", () => {
    const n = node("nodeid1", "m1", { manager: { leader: true } });
    n.spec!.annotations = { name: "", labels: { zone: "east" } };
    expect(nodePretty(n)).toBe(
      [
        "ID:\t\t\tnodeid1",
        "Labels:",
        " - zone=east",
        "Hostname:              \tm1",
        "Joined at:             \t2025-01-02 03:03:05 +0000 utc",
        "Status:",
        " State:\t\t\tReady",
        " Availability:         \tActive",
        " Address:\t\t10.0.0.1",
        "Manager Status:",
        " Address:\t\t10.0.0.1:2377",
        " Raft Status:\t\tReachable",
        " Leader:\t\tYes",
        "Platform:",
        " Operating System:\tlinux",
        " Architecture:\t\tx86_64",
        "Resources:",
        " CPUs:\t\t\t2",
        " Memory:\t\t2GiB",
        "Engine Version:\t\t0.1.0",
        "",
      ].join("\n"),
    );
  });

  it("JSON in docker's shape", () => {
    const n = node("nodeid2", "w1", { state: NodeState.NODE_STATE_DOWN });
    expect(nodeJson(n)).toEqual({
      ID: "nodeid2",
      Version: { Index: 7 },
      CreatedAt: "2025-01-02T03:03:05.000Z",
      UpdatedAt: "1970-01-01T00:00:00.000Z",
      Spec: { Labels: {}, Role: "worker", Availability: "active" },
      Description: { Hostname: "w1", Platform: { Architecture: "x86_64", OS: "linux" }, Resources: { NanoCPUs: 2e9, MemoryBytes: 2 * 1024 ** 3 }, Engine: { EngineVersion: "0.1.0" } },
      Status: { State: "down", Addr: "10.0.0.1" },
    });
    expect(nodeJson(node("m", "m", { manager: { reachability: Reachability.REACHABILITY_UNREACHABLE } })).ManagerStatus).toEqual({ Reachability: "unreachable", Addr: "10.0.0.1:2377" });
  });

  it("sizes and times as docker prints them", () => {
    expect(binarySize(2_098_000_000)).toBe("1.954GiB");
    expect(binarySize(20 * 1024 ** 2)).toBe("20MiB");
    expect(binarySize(512)).toBe("512B");
    expect(goTime(Date.UTC(2024, 4, 1, 10, 0, 0, 500))).toBe("2024-05-01 10:00:00.5 +0000 utc");
  });
});

describe("service inspect", () => {
  const full = () => {
    const s = service();
    s.spec = createServiceSpec("busybox:2", ["sleep", "1000"], {
      name: "web",
      replicas: "6",
      env: ["A=1"],
      label: ["tier=front"],
      mount: ["source=data,target=/data"],
      publish: ["8080:80"],
      network: ["backend"],
      constraint: ["node.role==worker"],
      placementPref: ["spread=node.labels.zone"],
      replicasMaxPerNode: "2",
      reserveMemory: "64m",
      limitCpu: "0.5",
      healthCmd: "true",
      healthInterval: "2s",
      updateDelay: "1s",
      updateMaxFailureRatio: "0.2",
      restartCondition: "on-failure",
    });
    s.updateStatus = { state: UpdateState.UPDATE_STATE_PAUSED, startedAt: NOW - 90_000, completedAt: 0, message: "update paused: 2 new task(s) failed" };
    return s;
  };

  it("--pretty in docker's layout", () => {
    expect(servicePretty(full(), NOW)).toBe(
      [
        "",
        "ID:\t\tsvc0123456789abcdefghijkl",
        "Name:\t\tweb",
        "Labels:",
        " tier=front",
        "Service Mode:\tReplicated",
        " Replicas:\t6",
        "UpdateStatus:",
        " State:\t\tpaused",
        " Started:\tAbout a minute ago",
        " Message:\tupdate paused: 2 new task(s) failed",
        "Placement:",
        " Constraints:\t[node.role==worker]",
        " Preferences:   [spread=node.labels.zone]",
        " Max Replicas Per Node:   2",
        "UpdateConfig:",
        " Parallelism:\t1",
        " Delay:\t\t1s",
        " On failure:\tpause",
        " Monitoring Period: 5s",
        " Max failure ratio: 0.2",
        " Update order:      stop-first",
        "RollbackConfig:",
        " Parallelism:\t1",
        " On failure:\tpause",
        " Monitoring Period: 5s",
        " Max failure ratio: 0",
        " Rollback order:    stop-first",
        "ContainerSpec:",
        " Image:\t\tbusybox:2",
        " Args:\t\tsleep 1000 ",
        " Env:\t\tA=1 ",
        "Mounts:",
        " Target:\t/data",
        "  Source:\tdata",
        "  ReadOnly:\tfalse",
        "  Type:\t\tvolume",
        "Resources:",
        " Reservations:",
        "  Memory:\t64MiB",
        " Limits:",
        "  CPU:\t\t0.5",
        "Networks: backend ",
        "Endpoint Mode:\tvip",
        "Ports:",
        " PublishedPort = 8080",
        "  Protocol = tcp",
        "  TargetPort = 80",
        "  PublishMode = ingress",
        " Healthcheck:",
        "  Interval = 2s",
        "  Retries = 0",
        "  StartPeriod =\t0s",
        "  Timeout =\t0s",
        "  Tests:",
        "\t Test = CMD-SHELL",
        "\t Test = true",
        "",
      ].join("\n"),
    );
  });

  it("JSON in docker's shape: field names, words, nanosecond durations", () => {
    const j = serviceJson(full()) as { Spec: Record<string, unknown>; UpdateStatus: unknown; Version: unknown };
    expect(j.Version).toEqual({ Index: 10 });
    expect(j.Spec.Mode).toEqual({ Replicated: { Replicas: 6 } });
    expect(j.Spec.UpdateConfig).toEqual({ Parallelism: 1, Delay: 1e9, FailureAction: "pause", Monitor: 5e9, MaxFailureRatio: 0.2, Order: "stop-first" });
    expect(j.Spec.EndpointSpec).toEqual({ Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress" }] });
    expect(j.Spec.TaskTemplate).toMatchObject({
      ContainerSpec: { Image: "busybox:2", Args: ["sleep", "1000"], Env: ["A=1"], Mounts: [{ Type: "volume", Source: "data", Target: "/data" }], Healthcheck: { Test: ["CMD-SHELL", "true"], Interval: 2e9 } },
      RestartPolicy: { Condition: "on-failure", Delay: 5e9, MaxAttempts: 0, Window: 0 },
      Placement: { Constraints: ["node.role==worker"], Preferences: [{ Spread: { SpreadDescriptor: "node.labels.zone" } }], MaxReplicas: 2 },
      Networks: [{ Target: "backend" }],
      ForceUpdate: 0,
    });
    expect(j.UpdateStatus).toEqual({ State: "paused", StartedAt: new Date(NOW - 90_000).toISOString(), Message: "update paused: 2 new task(s) failed" });
    expect(serviceJson(service({ global: true })).Spec).toMatchObject({ Mode: { Global: {} } });
  });
});
