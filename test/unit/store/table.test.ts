// A table builds each index on its first read (table.ts): one read late, after any mix of writes,
// must answer as one read from the start and kept up on every write.
import { describe, expect, it } from "vitest";
import { type Task, TaskState } from "../../../proto/gen/cluster.js";
import { KEPT_INDEXES } from "../../../manager/store/kinds.js";
import { Table } from "../../../manager/store/table.js";

const task = (id: string, serviceId: string, nodeId: string, state: TaskState): Task => ({
  id,
  serviceId,
  slot: 1,
  nodeId,
  specVersion: 0,
  desiredState: TaskState.TASK_STATE_RUNNING,
  networks: [],
  assignedGenericResources: [],
  status: { state, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
});

/** Seeded writes: creates, moves between nodes and states, removals. */
function writes(seed: number, n: number): ((t: Table) => void)[] {
  let s = seed;
  const rnd = (k: number) => ((s = (s * 1103515245 + 12345) % 2 ** 31), s % k);
  const states = [TaskState.TASK_STATE_NEW, TaskState.TASK_STATE_PENDING, TaskState.TASK_STATE_ASSIGNED, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_SHUTDOWN];
  const out: ((t: Table) => void)[] = [];
  for (let i = 0; i < n; i++) {
    const id = `t${rnd(40)}`;
    if (rnd(6) === 0) out.push((t) => t.remove(id));
    else {
      const o = task(id, `s${rnd(3)}`, rnd(3) === 0 ? "" : `n${rnd(4)}`, states[rnd(states.length)]);
      out.push((t) => void t.put(o));
    }
  }
  return out;
}

/** Every kept index's answer for every key the writes can make. */
function answers(t: Table): Record<string, string[]> {
  const keys = ["s0", "s1", "s2", "n0", "n1", "n2", "n3", String(TaskState.TASK_STATE_PENDING), "1"];
  const out: Record<string, string[]> = {};
  for (const index of KEPT_INDEXES.task) for (const k of keys) out[`${index}=${k}`] = t.lookup(index, k).map((o) => o.id).sort();
  return out;
}

describe("a table's indexes built on first read", () => {
  it("answer as indexes kept from the first write", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const ws = writes(seed, 200);
      const kept = new Table("task");
      answers(kept);
      for (const w of ws) w(kept);
      const cut = seed % ws.length;
      const late = new Table("task");
      for (const w of ws.slice(0, cut)) w(late);
      // One index built midway, the others only at the end.
      late.count("runningOf", "s0");
      for (const w of ws.slice(cut)) w(late);
      expect(answers(late)).toEqual(answers(kept));
      const never = new Table("task");
      for (const w of ws) w(never);
      expect(answers(never)).toEqual(answers(kept));
      expect(never.size).toBe(kept.size);
    }
  });

  it("an index never read is not needed by later writes and removals", () => {
    const t = new Table("task");
    t.put(task("a", "s0", "n0", TaskState.TASK_STATE_RUNNING));
    t.put(task("a", "s0", "n1", TaskState.TASK_STATE_RUNNING));
    expect(t.count("runningOf", "s0")).toBe(1);
    t.remove("a");
    expect(t.count("runningOf", "s0")).toBe(0);
    expect(t.lookup("nodeId", "n1")).toEqual([]);
    expect(t.get("a")).toBeUndefined();
  });
});
