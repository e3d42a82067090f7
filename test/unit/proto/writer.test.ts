// The reused writer gives the bytes a fresh one gives, message after message, and a message that
// fails halfway leaves nothing for the next one.
import { describe, expect, it } from "vitest";
import { Task } from "../../../proto/gen/cluster.js";
import { ManagerMessage } from "../../../proto/gen/swarm.js";
import { encodeShared, serializeShared } from "../../../proto/writer.js";
import { newTask } from "../../support/store/tasks.js";

const push = (n: number) => ManagerMessage.fromPartial({ tasks: Array.from({ length: n }, (_, i) => newTask(i + 1, `task${i}`)), managers: ["10.0.0.1:2377"], heartbeatPeriodMs: 250 });

describe("encoding into the shared writer", () => {
  it("gives the same bytes as a fresh writer, large and small messages in turn", () => {
    for (const n of [0, 1, 300, 2, 5000, 1, 0]) {
      const m = push(n);
      const fresh = ManagerMessage.encode(m).finish();
      expect(Buffer.from(encodeShared(ManagerMessage, m)).equals(Buffer.from(fresh))).toBe(true);
      expect(serializeShared(ManagerMessage, m).equals(Buffer.from(fresh))).toBe(true);
      expect(ManagerMessage.decode(serializeShared(ManagerMessage, m)).tasks).toHaveLength(n);
    }
  });

  it("returns bytes that the next encoding does not overwrite", () => {
    const a = encodeShared(ManagerMessage, push(3));
    const copy = Buffer.from(a);
    encodeShared(ManagerMessage, push(4));
    expect(Buffer.from(a).equals(copy)).toBe(true);
  });

  it("leaves nothing of a message that failed halfway in the next one", () => {
    const bad = { ...newTask(1, "bad"), slot: -1 }; // uint64 refuses a negative slot after the id is written
    expect(() => encodeShared(Task, bad)).toThrow();
    const good = newTask(2, "good");
    expect(Buffer.from(encodeShared(Task, good)).equals(Buffer.from(Task.encode(good).finish()))).toBe(true);
  });
});
