// A simulated agent: a real Session to the managers, no containers. It reports each assigned task
// RUNNING at once (and SHUTDOWN when told to stop), as a fast worker would. Benches and control
// plane tests use it to exercise the dispatcher without an engine.
import { NodeRole, TaskState, type Task } from "../../../proto/gen/cluster.js";
import type { TaskStatusUpdate } from "../../../proto/gen/swarm.js";
import { type Assignments, Session } from "../../../agent/session/session.js";

/** Folds one assignment message into the tasks a node holds. */
export function hold(held: Map<string, Task>, a: Assignments): void {
  if (a.full) held.clear();
  for (const t of a.tasks) held.set(t.id, t);
  for (const id of a.removed) held.delete(id);
}

export class SimAgent {
  readonly session: Session;
  private readonly known = new Map<string, TaskStatusUpdate>();
  private readonly assigned = new Map<string, Task>();
  /** Assignment messages received. */
  messages = 0;

  constructor(
    readonly nodeId: string,
    managers: string[],
    opts: { hostname?: string; log?: (l: string) => void } = {},
  ) {
    this.session = new Session({
      nodeId,
      addr: `127.0.0.1:1`,
      description: () => ({ hostname: opts.hostname ?? nodeId, platform: { architecture: "x86_64", os: "linux" }, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 }, engine: { engineVersion: "sim", labels: {} } }),
      managers,
      onTasks: (tasks) => this.assign(tasks),
      statuses: () => [...this.known.values()],
      onRole: (_r: NodeRole) => undefined,
      log: opts.log,
    });
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The tasks the managers gave this node. */
  get tasks(): Task[] {
    return [...this.assigned.values()];
  }

  /** Only what changed is looked at, as a fast worker would. */
  private assign(a: Assignments): void {
    this.messages++;
    hold(this.assigned, a);
    const out: TaskStatusUpdate[] = [];
    const now = Date.now();
    for (const t of a.tasks) {
      const want = t.desiredState <= TaskState.TASK_STATE_RUNNING ? TaskState.TASK_STATE_RUNNING : TaskState.TASK_STATE_SHUTDOWN;
      if (t.desiredState === TaskState.TASK_STATE_READY) continue;
      const had = this.known.get(t.id)?.status?.state ?? t.status?.state ?? 0;
      if (had >= want) continue;
      const u: TaskStatusUpdate = { taskId: t.id, status: { state: want, timestamp: now, message: want === TaskState.TASK_STATE_RUNNING ? "started" : "shut down", err: "", pendingReason: "", restartNotBefore: 0 } };
      this.known.set(t.id, u);
      out.push(u);
    }
    if (out.length > 0) this.session.report(out);
  }
}
