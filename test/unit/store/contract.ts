// The store contract as a reusable suite: every backend runs storeContract(makeStore).
import { describe, expect, it } from "vitest";
import { TaskState, type Service, type Task } from "../../../proto/gen/cluster.js";
import { ConflictError, NameConflictError, InvariantError } from "../../../manager/store/errors.js";
import { byName, byRunningOf, byServiceId, byIdPrefix, bySlot, byTaskState, type Store, type StoreEvent } from "../../../manager/store/types.js";

const service = (name: string): Service => ({
  id: "",
  spec: { annotations: { name, labels: {} }, mode: { $case: "replicated", value: { replicas: 1 } } },
  specVersion: 1,
});
const task = (serviceId: string, slot: number, state = TaskState.TASK_STATE_NEW): Task => ({
  id: "",
  serviceId,
  slot,
  nodeId: "",
  specVersion: 1,
  desiredState: TaskState.TASK_STATE_RUNNING,
  status: { state, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 },
  networks: [],
  assignedGenericResources: [],
});

export function storeContract(name: string, makeStore: () => Promise<Store> | Store): void {
  describe(`store contract: ${name}`, () => {
    it("counts a service's running tasks as they start, stop and go, also inside a transaction", async () => {
      const s = await makeStore();
      const sid = await s.update((tx) => tx.create("service", service("counted")));
      const ids = await s.update((tx) => [1, 2, 3].map((slot) => tx.create("task", task(sid, slot, TaskState.TASK_STATE_RUNNING))));
      await s.update((tx) => tx.create("task", task(sid, 4, TaskState.TASK_STATE_PENDING)));
      s.view((tx) => expect(tx.count("task", byRunningOf(sid))).toBe(3));
      await s.update((tx) => {
        const t = structuredClone(tx.get("task", ids[0])!);
        tx.update("task", { ...t, desiredState: TaskState.TASK_STATE_SHUTDOWN });
        tx.delete("task", ids[1]);
        // Reads see the transaction's own writes.
        expect(tx.count("task", byRunningOf(sid))).toBe(1);
        expect(tx.count("task", byServiceId(sid))).toBe(3);
      });
      s.view((tx) => {
        expect(tx.count("task", byRunningOf(sid))).toBe(1);
        expect(tx.find("task", byRunningOf(sid)).map((t) => t.slot)).toEqual([3]);
      });
    });

    it("creates, reads and finds by index inside a consistent view", async () => {
      const s = await makeStore();
      const sid = await s.update((tx) => tx.create("service", service("web")));
      await s.update((tx) => {
        tx.create("task", task(sid, 1));
        tx.create("task", task(sid, 2, TaskState.TASK_STATE_PENDING));
      });
      s.view((tx) => {
        expect(tx.get("service", sid)?.spec?.annotations?.name).toBe("web");
        expect(tx.find("service", byName("WEB")).map((x) => x.id)).toEqual([sid]);
        expect(tx.find("service", byIdPrefix(sid.slice(0, 4))).length).toBe(1);
        expect(tx.find("task", byServiceId(sid)).length).toBe(2);
        expect(tx.find("task", byTaskState(TaskState.TASK_STATE_PENDING)).map((t) => t.slot)).toEqual([2]);
        expect(tx.find("task", bySlot(sid, 2)).length).toBe(1);
        expect(tx.get("service", sid)?.meta?.version).toBeGreaterThan(0);
      });
    });

    it("refuses a stale update with ConflictError and writes nothing", async () => {
      const s = await makeStore();
      const sid = await s.update((tx) => tx.create("service", service("web")));
      const stale = structuredClone(s.view((tx) => tx.get("service", sid)!));
      await s.update((tx) => {
        const fresh = structuredClone(tx.get("service", sid)!);
        fresh.specVersion = 2;
        tx.update("service", fresh);
      });
      stale.specVersion = 3;
      const before = s.version;
      await expect(
        s.update((tx) => {
          tx.create("service", service("other"));
          tx.update("service", stale);
        }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(s.version).toBe(before);
      expect(s.view((tx) => tx.find("service", byName("other")).length)).toBe(0);
    });

    it("refuses a second object with the same name in one line", async () => {
      const s = await makeStore();
      await s.update((tx) => tx.create("service", service("web")));
      const err = await s.update((tx) => tx.create("service", service("Web"))).catch((e: Error) => e);
      expect(err).toBeInstanceOf(NameConflictError);
      expect(String((err as Error).message)).not.toContain("\n");
    });

    it("sees its own writes and rolls back entirely when the function throws", async () => {
      const s = await makeStore();
      const before = s.version;
      await expect(
        s.update((tx) => {
          const id = tx.create("service", service("web"));
          expect(tx.get("service", id)).toBeDefined();
          expect(tx.find("service", byName("web")).length).toBe(1);
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect(s.version).toBe(before);
      expect(s.view((tx) => tx.find("service").length)).toBe(0);
    });

    it("refuses a task state moving backward", async () => {
      const s = await makeStore();
      const sid = await s.update((tx) => tx.create("service", service("web")));
      const tid = await s.update((tx) => tx.create("task", task(sid, 1, TaskState.TASK_STATE_RUNNING)));
      await expect(
        s.update((tx) => {
          const t = structuredClone(tx.get("task", tid)!);
          t.status!.state = TaskState.TASK_STATE_PENDING;
          tx.update("task", t);
        }),
      ).rejects.toBeInstanceOf(InvariantError);
    });

    it("streams ordered events with old and new objects to watchers and listeners", async () => {
      const s = await makeStore();
      const w = s.watch({ kinds: ["service"] });
      const heard: StoreEvent[] = [];
      const off = s.subscribe((es) => heard.push(...es));
      const sid = await s.update((tx) => tx.create("service", service("web")));
      await s.update((tx) => {
        const x = structuredClone(tx.get("service", sid)!);
        x.specVersion = 2;
        tx.update("service", x);
      });
      await s.update((tx) => tx.delete("service", sid));
      off();
      const got: StoreEvent[] = [];
      for await (const e of w) {
        got.push(e);
        if (got.length === 3) w.close();
      }
      expect(got.map((e) => e.action)).toEqual(["create", "update", "delete"]);
      expect((got[1].old as Service).specVersion).toBe(1);
      expect((got[1].new as Service).specVersion).toBe(2);
      expect(got[0].version).toBeLessThan(got[1].version);
      expect(heard.length).toBe(3);
    });

    it("batches many small writes, dropping only a failed sub-transaction", async () => {
      const s = await makeStore();
      const sid = await s.update((tx) => tx.create("service", service("web")));
      let first = "";
      await s.batch(async (b) => {
        for (let i = 1; i <= 500; i++) {
          const id = await b.update((tx) => tx.create("task", task(sid, i)));
          first ||= id;
        }
        await expect(
          b.update((tx) => {
            tx.create("task", task(sid, 999));
            throw new Error("no");
          }),
        ).rejects.toThrow("no");
        // A later sub-transaction sees what earlier ones wrote, across change sets.
        await b.update((tx) => {
          const t = structuredClone(tx.get("task", first)!);
          t.status!.state = TaskState.TASK_STATE_PENDING;
          tx.update("task", t);
        });
      });
      const tasks = s.view((tx) => tx.find("task", byServiceId(sid)));
      expect(tasks.length).toBe(500);
      expect(tasks.some((t) => t.slot === 999)).toBe(false);
      expect(s.view((tx) => tx.get("task", first)!.status!.state)).toBe(TaskState.TASK_STATE_PENDING);
    });
  });
}
