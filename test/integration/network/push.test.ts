// What the dispatcher tells each agent of its overlay networks, through real managers and real
// agent sessions (no containers): the ingress network everywhere, a network only where its tasks
// are, a task's network before the task, a task told to stop dropped from every node's names and
// load balancing before it has stopped, and nothing sent again when nothing changed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeNetwork, TaskState, type Task } from "../../../proto/gen/cluster.js";
import type { TaskStatusUpdate } from "../../../proto/gen/swarm.js";
import { Session } from "../../../agent/session/session.js";
import { ManagerGroup } from "../../support/cluster/managers.js";
import { hold } from "../../support/cluster/sim-agent.js";

async function eventually(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not so within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An agent that runs what it is given at once, and stops what it is told to stop only when let. */
class NetAgent {
  readonly session: Session;
  networks: NodeNetwork[] = [];
  pushes = 0;
  tasks: Task[] = [];
  private readonly held = new Map<string, Task>();
  /** Tasks that arrived before their networks had. */
  readonly early: string[] = [];
  holdStops = false;
  private readonly reported = new Map<string, TaskState>();

  constructor(
    readonly nodeId: string,
    readonly ip: string,
    managers: string[],
  ) {
    this.session = new Session({
      nodeId,
      addr: `${ip}:2377`,
      description: () => ({ hostname: nodeId, platform: { architecture: "x86_64", os: "linux" }, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 }, engine: { engineVersion: "test", labels: {} } }),
      managers,
      onNetworks: (n) => {
        this.networks = n;
        this.pushes++;
      },
      onTasks: (a) => {
        hold(this.held, a);
        this.assign([...this.held.values()]);
      },
      statuses: () => [],
    });
    this.session.start();
  }

  network(name: string): NodeNetwork | undefined {
    return this.networks.find((n) => n.name === name);
  }

  assign(tasks: Task[]): void {
    this.tasks = tasks;
    const out: TaskStatusUpdate[] = [];
    for (const t of tasks) {
      if (!this.reported.has(t.id) && t.networks.some((a) => !this.networks.some((n) => n.networkId === a.networkId))) this.early.push(t.id);
      const want = t.desiredState <= TaskState.TASK_STATE_RUNNING ? TaskState.TASK_STATE_RUNNING : TaskState.TASK_STATE_SHUTDOWN;
      if ((this.reported.get(t.id) ?? 0) >= want || (want === TaskState.TASK_STATE_SHUTDOWN && this.holdStops)) continue;
      this.reported.set(t.id, want);
      out.push({ taskId: t.id, status: { state: want, timestamp: Date.now(), message: "", err: "", pendingReason: "", restartNotBefore: 0 } });
    }
    if (out.length > 0) this.session.report(out);
  }

  /** Reports the stops it held back. */
  release(): void {
    this.holdStops = false;
    this.assign(this.tasks);
  }
}

describe("overlay networks pushed to agents", () => {
  let g: ManagerGroup;
  const agents: NetAgent[] = [];
  let front = "";
  const serviceOn = (a: NetAgent, net: string, name: string) => a.network(net)?.services.find((s) => s.name === name);

  beforeAll(async () => {
    g = await ManagerGroup.start(1);
    await g.addNodes(["n1", "n2", "n3"]);
    const store = (await g.leader()).store;
    await store.update((tx) => {
      tx.create("network", { id: "", spec: { annotations: { name: "ingress", labels: {} }, driver: "overlay", ipam: { driver: "default", configs: [{ subnet: "10.0.0.0/16", gateway: "", range: "" }] }, attachable: false, ingress: true } });
      front = tx.create("network", { id: "", spec: { annotations: { name: "front", labels: {} }, driver: "overlay", attachable: false, ingress: false } });
    });
    for (const [i, id] of ["n1", "n2", "n3"].entries()) agents.push(new NetAgent(id, `192.0.2.${i + 1}`, g.addrs));
  });
  afterAll(async () => {
    for (const a of agents) a.session.stop();
    await g?.stop();
  });

  it("every node serves the ingress network; with no mesh task anywhere, no node is told of the others", async () => {
    await eventually("ingress everywhere", () => agents.every((a) => a.network("ingress")));
    const addrs = new Set<string>();
    for (const a of agents) {
      const ing = a.network("ingress")!;
      expect(ing.ingress).toBe(true);
      addrs.add(ing.bridgeAddress);
      // The other nodes' ingress addresses matter only to a node running a mesh task (the
      // replies' way back); a swarm of thousands would otherwise push each join to every node.
      expect(ing.peers).toEqual([]);
      expect(a.networks.map((n) => n.name)).toEqual(["ingress"]);
    }
    expect(addrs.size).toBe(3);
  });

  it("a network reaches only the nodes with its tasks, before the tasks; running tasks are named and balanced on it", async () => {
    const store = (await g.leader()).store;
    await store.update((tx) =>
      tx.create("service", {
        id: "",
        spec: {
          annotations: { name: "web", labels: {} },
          task: { container: { image: "busybox:1", command: [], args: [], env: [], dir: "", user: "", hostname: "", mounts: [], stopGracePeriodMs: 0, labels: {} }, networks: [{ target: front, aliases: [] }], forceUpdate: 0 },
          mode: { $case: "replicated", value: { replicas: 2 } },
        },
        specVersion: 1,
      }),
    );
    await eventually("2 tasks running, named on their nodes", () => agents.filter((a) => serviceOn(a, "front", "web")?.tasks.length === 2).length === 2);
    const withTasks = agents.filter((a) => a.tasks.length > 0);
    expect(withTasks).toHaveLength(2);
    expect(agents.find((a) => a.tasks.length === 0)!.network("front")).toBeUndefined();
    expect(agents.flatMap((a) => a.early)).toEqual([]);
    const [a, b] = withTasks;
    // Each node knows the other's task as a peer behind the other's address.
    const theirs = b.tasks[0].networks.find((n) => n.networkId === front)!.addresses[0].split("/")[0];
    expect(a.network("front")!.peers).toContainEqual(expect.objectContaining({ nodeIp: b.ip, ip: theirs, node: false }));
    expect(serviceOn(a, "front", "web")!.vip).toMatch(/^10\.\d+\.\d+\.\d+$/);
  });

  it("a task told to stop leaves every node's names and load balancing before it has stopped", async () => {
    const store = (await g.leader()).store;
    for (const a of agents) a.holdStops = true;
    await store.update((tx) => {
      const s = tx.find("service")[0];
      tx.update("service", { ...s, spec: { ...s.spec!, mode: { $case: "replicated", value: { replicas: 1 } } } });
    });
    await eventually("one task told to stop", () => agents.some((a) => a.tasks.some((t) => t.desiredState > TaskState.TASK_STATE_RUNNING)));
    await eventually("every node with the network lists one task", () => agents.filter((a) => a.network("front")).every((a) => serviceOn(a, "front", "web")!.tasks.length === 1));
    const stopping = store.view((tx) => tx.find("task").find((t) => t.desiredState > TaskState.TASK_STATE_RUNNING)!);
    expect(stopping.status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    for (const a of agents) a.release();
    await eventually("the stopped task's node lets the network go", () => agents.filter((a) => a.network("front")).length === 1);
  });

  it("nothing is sent again while nothing changes", async () => {
    const before = agents.map((a) => a.pushes);
    await new Promise((r) => setTimeout(r, 1500)); // three heartbeat periods
    expect(agents.map((a) => a.pushes)).toEqual(before);
  });
});
