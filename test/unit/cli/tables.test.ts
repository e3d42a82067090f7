import { describe, expect, it } from "vitest";
import { NodeAvailability, NodeState, PortProtocol, PublishMode, Reachability, TaskState, type PortConfig } from "../../../proto/gen/cluster.js";
import { ServiceStatus, type ListTasksResponse, type LogLine } from "../../../proto/gen/swarm.js";
import { logPrefix, nodeTable, portsColumn, serviceTable, taskTable } from "../../../cli/cluster/tables.js";
import { NOW, node, service, task } from "./fixtures.js";

const lines = (s: string) => s.trimEnd().split("\n");

describe("node ls", () => {
  it("sorts by hostname, marks this node, says docker's words", () => {
    const out = nodeTable(
      [
        node("id10", "node-10", { manager: { reachability: Reachability.REACHABILITY_UNREACHABLE }, state: NodeState.NODE_STATE_DOWN }),
        node("id2", "node-2", { manager: { leader: true } }),
        node("id3", "node-3", { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN, state: NodeState.NODE_STATE_DISCONNECTED }),
        node("id1", "node-1", { manager: {}, availability: NodeAvailability.NODE_AVAILABILITY_PAUSE, state: NodeState.NODE_STATE_UNKNOWN }),
      ],
      "id2",
    );
    expect(lines(out)).toEqual([
      "ID      HOSTNAME   STATUS         AVAILABILITY   MANAGER STATUS   ENGINE VERSION",
      "id1     node-1     Unknown        Pause          Reachable        0.1.0",
      "id2 *   node-2     Ready          Active         Leader           0.1.0",
      "id3     node-3     Disconnected   Drain                           0.1.0",
      "id10    node-10    Down           Active         Unreachable      0.1.0",
    ]);
  });
});

const port = (publishedPort: number, targetPort: number, protocol = PortProtocol.PORT_PROTOCOL_TCP, publishMode = PublishMode.PUBLISH_MODE_INGRESS): PortConfig => ({ name: "", protocol, targetPort, publishedPort, publishMode });

describe("service ls", () => {
  it("shows running/desired, mode, short image and ingress ports, by name", () => {
    const web = service({ replicas: 6, image: "busybox:1@sha256:abcdef" });
    web.endpoint = { ports: [port(8080, 80)], virtualIps: [] };
    const api = service({ global: true });
    api.id = "api0123456789abcdefghijkl";
    api.spec!.annotations!.name = "api";
    const capped = service({ replicas: 4 });
    capped.id = "cap0123456789abcdefghijkl";
    capped.spec!.annotations!.name = "web-10";
    capped.spec!.task!.placement = { constraints: [], preferences: [], maxReplicas: 1 };
    const out = serviceTable([
      ServiceStatus.fromPartial({ service: capped, running: 2, desired: 4 }),
      ServiceStatus.fromPartial({ service: web, running: 6, desired: 6 }),
      ServiceStatus.fromPartial({ service: api, running: 1, desired: 5 }),
    ]);
    expect(lines(out)).toEqual([
      "ID             NAME     MODE         REPLICAS               IMAGE       PORTS",
      "api012345678   api      global       1/5                    busybox:1",
      "svc012345678   web      replicated   6/6                    busybox:1   *:8080->80/tcp",
      "cap012345678   web-10   replicated   2/4 (max 1 per node)   busybox:1",
    ]);
  });

  it("folds consecutive ports into ranges and leaves host-mode ports out", () => {
    const s = service();
    s.endpoint = {
      ports: [port(8081, 81), port(8080, 80), port(9000, 90), port(9001, 90), port(53, 53, PortProtocol.PORT_PROTOCOL_UDP), port(7000, 70, undefined, PublishMode.PUBLISH_MODE_HOST)],
      virtualIps: [],
    };
    expect(portsColumn(s)).toBe("*:8080-8081->80-81/tcp, *:9000-9001->90/tcp, *:53->53/udp");
  });

  it("falls back to the spec's published ports before the allocator ran", () => {
    const s = service();
    s.spec!.endpoint = { mode: 0, ports: [port(8080, 80), port(0, 81)] };
    expect(portsColumn(s)).toBe("*:8080->80/tcp");
  });
});

describe("service ps", () => {
  const res = (tasks: ListTasksResponse["tasks"]): ListTasksResponse => ({ tasks, nodeNames: { node1: "w1", node2: "w2" }, serviceNames: { svc0123456789abcdefghijkl: "web" } });

  it("names tasks by slot, newest first with history indented, docker's states and ages", () => {
    const old = task(1, TaskState.TASK_STATE_FAILED, { desired: TaskState.TASK_STATE_SHUTDOWN, err: "task: non-zero exit (1): the process exited with a failure", at: NOW - 120_000, id: "old1xxxxxxxxxxxxxxxxxxxxx" });
    const cur = task(1, TaskState.TASK_STATE_RUNNING, { at: NOW - 3000, id: "cur1xxxxxxxxxxxxxxxxxxxxx", image: "busybox:1@sha256:ffff" });
    const ten = task(10, TaskState.TASK_STATE_RUNNING, { node: "node2", at: NOW - 500, id: "ten1xxxxxxxxxxxxxxxxxxxxx" });
    const two = task(2, TaskState.TASK_STATE_PENDING, { pendingReason: "no suitable node (insufficient memory on 5 nodes)", at: NOW - 2000, id: "two1xxxxxxxxxxxxxxxxxxxxx" });
    cur.status!.portStatus = { ports: [port(8080, 80, undefined, PublishMode.PUBLISH_MODE_HOST)] };
    expect(lines(taskTable(res([ten, old, two, cur]), { now: NOW }))).toEqual([
      'ID             NAME        IMAGE       NODE   DESIRED STATE   CURRENT STATE                    ERROR                                                 PORTS',
      'cur1xxxxxxxx   web.1       busybox:1   w1     Running         Running 3 seconds ago                                                                  *:8080->80/tcp',
      'old1xxxxxxxx    \\_ web.1   busybox:1   w1     Shutdown        Failed 2 minutes ago             "task: non-zero exit (1): the …"',
      'two1xxxxxxxx   web.2       busybox:1          Running         Pending 2 seconds ago            "no suitable node (insufficient memory on 5 nodes)"',
      'ten1xxxxxxxx   web.10      busybox:1   w2     Running         Running less than a second ago',
    ]);
  });

  it("--no-trunc shows whole ids, images and errors", () => {
    const t = task(1, TaskState.TASK_STATE_REJECTED, { desired: TaskState.TASK_STATE_SHUTDOWN, err: "x".repeat(40), image: "busybox:1@sha256:ffff", id: "abcdefghijklmnopqrstuvwxy" });
    const row = lines(taskTable(res([t]), { now: NOW, noTrunc: true }))[1];
    expect(row).toContain("abcdefghijklmnopqrstuvwxy");
    expect(row).toContain("busybox:1@sha256:ffff");
    expect(row).toContain(`"${"x".repeat(40)}"`);
    expect(row).toContain("Rejected 3 seconds ago");
  });

  it("names global tasks by node id", () => {
    const t = task(0, TaskState.TASK_STATE_RUNNING, { node: "node2" });
    expect(lines(taskTable(res([t]), { now: NOW }))[1]).toMatch(/^\S+\s+web\.node2\s+busybox:1\s+w2\s/);
  });
});

describe("service logs", () => {
  const line = (slot: number, o: Partial<LogLine> = {}): LogLine => ({ taskId: "abcdefghijklmnopqrstuvwxy", slot, nodeId: "node1", nodeName: "w1", serviceName: "web", stream: "stdout", line: Buffer.from("hi"), timeUnixMicro: 0, ...o });

  it("prefixes as docker: service.slot.task@node, slots padded to the replica count", () => {
    expect(logPrefix(line(1), { replicas: 12 })).toBe("web.1.abcdefghijkl@w1     | ");
    expect(logPrefix(line(12), { replicas: 12 })).toBe("web.12.abcdefghijkl@w1    | ");
    expect(logPrefix(line(3), { replicas: 3, noTaskIds: true })).toBe("web.3@w1    | ");
    expect(logPrefix(line(3), { replicas: 3, noTrunc: true })).toBe("web.3.abcdefghijklmnopqrstuvwxy@w1    | ");
    expect(logPrefix(line(0, { nodeName: "" }), { replicas: 0 })).toBe("web.0.abcdefghijkl@node1    | ");
  });
});
