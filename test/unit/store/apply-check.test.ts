// A committed change set of task writes only is checked without a transaction (memory.ts
// checkTasks): it must refuse exactly what the general check refuses, apply nothing when it
// does, and hand a change set writing one task twice to the general check.
import { describe, expect, it } from "vitest";
import { StoreActionKind, type ChangeSet, type Task, TaskState } from "../../../proto/gen/cluster.js";
import { ConflictError, ExistsError, InvariantError, NotFoundError } from "../../../manager/store/errors.js";
import { MemoryStore } from "../../../manager/store/memory.js";

const task = (id: string, state: TaskState, version = 0): Task => ({
  id,
  serviceId: "svc",
  slot: 1,
  nodeId: "",
  specVersion: 0,
  desiredState: TaskState.TASK_STATE_RUNNING,
  networks: [],
  assignedGenericResources: [],
  status: { state, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
  meta: { version, createdAt: 0, updatedAt: 0 },
});
const write = (action: StoreActionKind, t: Task) => ({ action, target: { $case: "task" as const, value: structuredClone(t) } });
const cs = (...actions: ChangeSet["actions"]): ChangeSet => ({ actions, timestamp: 1 });
const { STORE_ACTION_CREATE: CREATE, STORE_ACTION_UPDATE: UPDATE, STORE_ACTION_REMOVE: REMOVE } = StoreActionKind;

describe("apply of committed task change sets", () => {
  function seeded(): { store: MemoryStore; version: number } {
    const store = new MemoryStore();
    const version = store.apply(cs(write(CREATE, task("a", TaskState.TASK_STATE_PENDING)), write(CREATE, task("b", TaskState.TASK_STATE_RUNNING))));
    return { store, version };
  }

  it.each([
    ["a create of a task that exists", () => write(CREATE, task("a", TaskState.TASK_STATE_PENDING)), ExistsError],
    ["an update at a version not the stored one", () => write(UPDATE, task("a", TaskState.TASK_STATE_RUNNING, 99)), ConflictError],
    ["an update of a task that does not exist", () => write(UPDATE, task("z", TaskState.TASK_STATE_RUNNING)), NotFoundError],
    ["a removal of a task that does not exist", () => write(REMOVE, task("z", TaskState.TASK_STATE_RUNNING)), NotFoundError],
    ["a state moving backward", (v: number) => write(UPDATE, task("b", TaskState.TASK_STATE_PENDING, v)), InvariantError],
  ])("refuses %s and applies none of the change set", (_what, bad, error) => {
    const { store, version } = seeded();
    const good = write(CREATE, task("c", TaskState.TASK_STATE_PENDING));
    expect(() => store.apply(cs(good, bad(version)))).toThrow(error);
    expect(store.version).toBe(version);
    expect(store.get("task", "c")).toBeUndefined();
  });

  it("applies updates and removals at the stored version", () => {
    const { store, version } = seeded();
    const next = store.apply(cs(write(UPDATE, task("a", TaskState.TASK_STATE_ASSIGNED, version)), write(REMOVE, task("b", TaskState.TASK_STATE_RUNNING, version))));
    expect(next).toBe(version + 1);
    expect((store.get("task", "a") as Task).status?.state).toBe(TaskState.TASK_STATE_ASSIGNED);
    expect(store.get("task", "b")).toBeUndefined();
  });

  it("checks a task written twice in one change set as a transaction would", () => {
    const { store, version } = seeded();
    // Removed, then created again: the general check allows it (an update of what lies below).
    expect(store.apply(cs(write(REMOVE, task("b", TaskState.TASK_STATE_RUNNING, version)), write(CREATE, task("b", TaskState.TASK_STATE_RUNNING))))).toBe(version + 1);
    // Created twice: refused.
    expect(() => store.apply(cs(write(CREATE, task("d", TaskState.TASK_STATE_PENDING)), write(CREATE, task("d", TaskState.TASK_STATE_PENDING))))).toThrow(ExistsError);
    expect(store.get("task", "d")).toBeUndefined();
  });
});
