// A deterministic cluster for tests: the real store, orchestrator, allocator and scheduler
// decisions, and fake agents that move their tasks forward (or fail them) under a seeded RNG.
import { NodeAvailability, NodeState, type Node, type Service, type Task, TaskState, UpdateState } from "../../../proto/gen/cluster.js";
import { allocate } from "../../../manager/allocator/allocator.js";
import { commitChanges } from "../../../manager/orchestrator/changes.js";
import { decide as orchestrate } from "../../../manager/orchestrator/orchestrator.js";
import { commit as commitAssignments, decide as scheduleTasks } from "../../../manager/scheduler/scheduler.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { byNodeId, byServiceId } from "../../../manager/store/types.js";
import { replicasOf } from "../../../manager/orchestrator/replicated.js";

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const STEP_MS = 100;

// The agent's path to RUNNING, one stage per step.
const NEXT: Partial<Record<TaskState, TaskState>> = {
  [TaskState.TASK_STATE_ASSIGNED]: TaskState.TASK_STATE_ACCEPTED,
  [TaskState.TASK_STATE_ACCEPTED]: TaskState.TASK_STATE_PREPARING,
  [TaskState.TASK_STATE_PREPARING]: TaskState.TASK_STATE_READY,
  [TaskState.TASK_STATE_READY]: TaskState.TASK_STATE_STARTING,
  [TaskState.TASK_STATE_STARTING]: TaskState.TASK_STATE_RUNNING,
};

export class SimCluster {
  now = 1_000_000;
  private ids = 0;
  readonly store: MemoryStore;
  /** Chance per step that an agent moves a task one stage forward. */
  progress = 0.6;
  /** Chance per step that a running task crashes. */
  crash = 0;

  constructor(readonly random: () => number = rng(1)) {
    this.store = new MemoryStore({ now: () => this.now, newId: () => `id${String(++this.ids).padStart(6, "0")}` });
  }

  async addNode(n: Node): Promise<void> {
    await this.store.update((tx) => tx.create("node", n));
  }

  async addService(s: Service): Promise<void> {
    await this.store.update((tx) => tx.create("service", s));
  }

  async editNode(id: string, edit: (n: Node) => void): Promise<void> {
    await this.store.update((tx) => {
      const n = structuredClone(tx.get("node", id)!);
      edit(n);
      tx.update("node", n);
    });
  }

  async editService(id: string, edit: (s: Service) => void): Promise<void> {
    await this.store.update((tx) => {
      const s = structuredClone(tx.get("service", id)!);
      edit(s);
      tx.update("service", s);
    });
  }

  /** A spec change as the control API makes it: new version, previous spec kept, update started. */
  async updateSpec(id: string, edit: (s: Service) => void): Promise<void> {
    await this.editService(id, (s) => {
      s.previousSpec = structuredClone(s.spec);
      edit(s);
      s.specVersion++;
      s.updateStatus = { state: UpdateState.UPDATE_STATE_UPDATING, startedAt: this.now, completedAt: 0, message: "update in progress" };
    });
  }

  /** One round of every control loop and every agent, then time moves on. */
  async step(): Promise<void> {
    await commitChanges(this.store, this.store.view((tx) => orchestrate(tx, this.now)));
    await allocate(this.store, this.now);
    await commitAssignments(this.store, this.store.view(scheduleTasks), this.now);
    await this.agents();
    this.now += STEP_MS;
  }

  async run(steps: number): Promise<void> {
    for (let i = 0; i < steps; i++) await this.step();
  }

  private async agents(): Promise<void> {
    const nodes = this.store.view((tx) => tx.find("node")).filter((n) => n.status?.state === NodeState.NODE_STATE_READY);
    await this.store.batch(async (b) => {
      for (const n of nodes) {
        for (const t0 of this.store.view((tx) => tx.find("task", byNodeId(n.id)))) {
          const s = t0.status!.state;
          if (s > TaskState.TASK_STATE_RUNNING || s < TaskState.TASK_STATE_ASSIGNED) continue;
          let next: TaskState | undefined;
          let exitCode = 0;
          if (t0.desiredState > TaskState.TASK_STATE_RUNNING) next = TaskState.TASK_STATE_SHUTDOWN;
          else if (s === TaskState.TASK_STATE_RUNNING) {
            if (this.random() < this.crash) [next, exitCode] = [TaskState.TASK_STATE_FAILED, 1];
          } else if (s === TaskState.TASK_STATE_READY && t0.desiredState < TaskState.TASK_STATE_RUNNING) next = undefined;
          else if (this.random() < this.progress) next = NEXT[s];
          if (next === undefined) continue;
          const state = next;
          await b.update((tx) => {
            const t = tx.get("task", t0.id)!;
            tx.update("task", { ...t, status: { ...t.status!, state, timestamp: this.now, containerStatus: { containerId: t.id, pid: 1, exitCode, restarts: 0 } } });
          });
        }
      }
    });
  }

  tasksOf(serviceId: string): Task[] {
    return this.store.view((tx) => tx.find("task", byServiceId(serviceId)));
  }

  /** Running and meant to run, on a node that is up. */
  running(serviceId: string): Task[] {
    return this.store.view((tx) =>
      tx.find("task", byServiceId(serviceId)).filter(
        (t) => t.desiredState === TaskState.TASK_STATE_RUNNING && t.status?.state === TaskState.TASK_STATE_RUNNING && tx.get("node", t.nodeId)?.status?.state === NodeState.NODE_STATE_READY,
      ),
    );
  }

  /** Every replicated service runs exactly its replicas; every global one one task per ready, active, fitting node. */
  converged(): boolean {
    const services = this.store.view((tx) => tx.find("service"));
    const nodes = this.store.view((tx) => tx.find("node"));
    for (const s of services) {
      const running = this.running(s.id);
      if (s.spec?.mode?.$case === "global") {
        const eligible = nodes.filter((n) => n.status?.state === NodeState.NODE_STATE_READY && n.spec?.availability === NodeAvailability.NODE_AVAILABILITY_ACTIVE);
        if (running.length !== eligible.length || new Set(running.map((t) => t.nodeId)).size !== eligible.length) return false;
      } else if (running.length !== replicasOf(s)) return false;
      if (running.some((t) => t.specVersion !== s.specVersion)) return false;
    }
    return true;
  }

  /** One line per service: what runs against what is asked, for failure messages. */
  describe(): string {
    const lines: string[] = [];
    for (const s of this.store.view((tx) => tx.find("service"))) {
      const tasks = this.tasksOf(s.id).map((t) => `${t.slot || t.nodeId}:v${t.specVersion}:${TaskState[t.status!.state].slice(11)}/${TaskState[t.desiredState].slice(11)}@${t.nodeId}`);
      lines.push(`${s.id} v${s.specVersion} ${s.spec?.mode?.$case} ${replicasOf(s)} ${UpdateState[s.updateStatus?.state ?? 0]} [${tasks.join(" ")}]`);
    }
    const nodes = this.store.view((tx) => tx.find("node")).map((n) => `${n.id}:${NodeState[n.status!.state].slice(11)}/${NodeAvailability[n.spec!.availability].slice(18)}`);
    return `${lines.join(" | ")} | nodes ${nodes.join(" ")}`;
  }
}
