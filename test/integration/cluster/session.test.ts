// The agent's Session against a stand-in dispatcher on a real gRPC server (loopback): it keeps
// its heartbeats going while the leader pushes to it often, and hands each assignment message on
// as it came (the whole set, then changes).
import { Server, ServerCredentials, type ServerDuplexStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type Assignments, Session } from "../../../agent/session/session.js";
import { NodeRole, type Task, TaskState } from "../../../proto/gen/cluster.js";
import { type AgentMessage, DispatcherService, type ManagerMessage } from "../../../proto/gen/swarm.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function task(id: string): Task {
  return { id, serviceId: "s", slot: 1, nodeId: "n1", specVersion: 1, desiredState: TaskState.TASK_STATE_RUNNING, networks: [], assignedGenericResources: [] };
}

function message(m: Partial<ManagerMessage>): ManagerMessage {
  return { tasks: [], hasTasks: false, removed: [], managers: [], heartbeatPeriodMs: 200, role: NodeRole.NODE_ROLE_WORKER, raftMembers: [], networks: [], hasNetworks: false, ...m };
}

describe("agent session", () => {
  let server: Server | undefined;
  let session: Session | undefined;
  afterEach(async () => {
    session?.stop();
    await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
    server = session = undefined;
  });

  /** A dispatcher that runs `serve` on each session opened to it. */
  async function dispatcher(serve: (call: ServerDuplexStream<AgentMessage, ManagerMessage>) => void): Promise<string> {
    server = new Server();
    server.addService(DispatcherService, { session: serve } as unknown as UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) => server!.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return `127.0.0.1:${port}`;
  }

  function open(addr: string, onTasks: (a: Assignments) => void = () => undefined): Session {
    session = new Session({
      nodeId: "n1",
      addr: "127.0.0.1:1",
      description: () => ({ hostname: "n1" }),
      managers: [addr],
      onTasks,
      statuses: () => [],
    });
    session.start();
    return session;
  }

  it("keeps beating while the leader pushes to it more often than its period", async () => {
    let beats = 0;
    const addr = await dispatcher((call) => {
      // Every 40 ms, well inside the 200 ms between beats of a 200 ms period.
      const pushing = setInterval(() => call.write(message({ tasks: [task(`t${Date.now()}`)] })), 40);
      call.on("data", (m: AgentMessage) => {
        if (m.msg?.$case === "heartbeat") beats++;
      });
      call.on("cancelled", () => clearInterval(pushing));
      call.on("error", () => clearInterval(pushing));
      call.on("end", () => clearInterval(pushing));
    });
    open(addr);
    await sleep(1200);
    // One beat per period: about six in 1.2 s; none at all when each push restarted the timer.
    expect(beats).toBeGreaterThanOrEqual(4);
  });

  it("sends no beat while its reports show it alive, and beats again once they stop", async () => {
    const seen: { kind: string; at: number }[] = [];
    const addr = await dispatcher((call) => {
      call.write(message({}));
      call.on("data", (m: AgentMessage) => seen.push({ kind: m.msg?.$case ?? "", at: Date.now() }));
    });
    const s = open(addr);
    await sleep(300);
    // A report every 40 ms for a second, well inside the 200 ms between beats of a 200 ms period.
    const reporting = setInterval(() => s.report([{ taskId: `t${Date.now()}`, status: { state: TaskState.TASK_STATE_RUNNING, timestamp: Date.now(), message: "", err: "", pendingReason: "", restartNotBefore: 0 } }]), 40);
    const from = Date.now();
    await sleep(1000);
    clearInterval(reporting);
    const to = Date.now();
    await sleep(1000);
    const during = seen.filter((m) => m.at > from + 100 && m.at < to);
    expect(during.filter((m) => m.kind === "statuses").length).toBeGreaterThanOrEqual(10);
    expect(during.filter((m) => m.kind === "heartbeat").length).toBeLessThanOrEqual(2);
    expect(seen.filter((m) => m.kind === "heartbeat" && m.at > to + 100).length).toBeGreaterThanOrEqual(3);
    // Never silent for long: the dispatcher marks a node down after 5 periods (1 s here).
    const gaps = seen.slice(1).map((m, i) => m.at - seen[i].at);
    expect(Math.max(...gaps)).toBeLessThan(600);
  });

  it("moves on from a manager that takes the connection but never answers", async () => {
    // A frozen manager: its kernel completes the TCP handshake, its process says nothing.
    const held: Socket[] = [];
    const silent = createServer((sock) => held.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      let hellos = 0;
      const addr = await dispatcher((call) => {
        call.on("data", (m: AgentMessage) => {
          if (m.msg?.$case === "hello") hellos++;
        });
        call.write(message({}));
      });
      session = new Session({
        nodeId: "n1",
        addr: "127.0.0.1:1",
        description: () => ({ hostname: "n1" }),
        managers: [`127.0.0.1:${(silent.address() as AddressInfo).port}`, addr],
        onTasks: () => undefined,
        statuses: () => [],
      });
      session.start();
      for (let i = 0; i < 150 && session.manager() !== addr; i++) await sleep(100);
      expect(session.manager()).toBe(addr);
      expect(hellos).toBe(1);
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it("hands on the whole set first, then only what changed", async () => {
    const got: Assignments[] = [];
    const addr = await dispatcher((call) => {
      call.write(message({ hasTasks: true, tasks: [task("a"), task("b")] }));
      call.write(message({ tasks: [task("c")] }));
      call.write(message({ removed: ["a"] }));
      call.write(message({}));
    });
    open(addr, (a) => got.push(a));
    for (let i = 0; i < 100 && got.length < 3; i++) await sleep(20);
    await sleep(100);
    expect(got.map((a) => ({ full: a.full, tasks: a.tasks.map((t) => t.id), removed: a.removed }))).toEqual([
      { full: true, tasks: ["a", "b"], removed: [] },
      { full: false, tasks: ["c"], removed: [] },
      { full: false, tasks: [], removed: ["a"] },
    ]);
  });
});
