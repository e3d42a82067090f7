// Autolock across the managers: what the cluster object asks for, and a manager's files following
// it (on, rotated, off), never before the store holds a cluster.
import { describe, expect, it } from "vitest";
import { followAutolock, wantedUnlockKey, withAutolock, type SealedFiles } from "../../../manager/ca/autolock.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import type { Cluster } from "../../../proto/gen/cluster.js";

const cluster = (): Cluster => ({ id: "c1", spec: { annotations: { name: "default", labels: {} } } });

class Files implements SealedFiles {
  unlockKey: string | undefined;
  readonly history: (string | undefined)[] = [];
  reseal(to: string | undefined): void {
    this.unlockKey = to;
    this.history.push(to);
  }
}

describe("the cluster's autolock", () => {
  it("wants a key only while on, and keeps its key when turned on again", () => {
    expect(wantedUnlockKey(cluster())).toBeUndefined();
    const on = withAutolock(cluster(), true);
    const key = wantedUnlockKey(on)!;
    expect(key).toMatch(/^SWMKEY-1-/);
    expect(wantedUnlockKey(withAutolock(on, true))).toBe(key);
    const off = withAutolock(on, false);
    expect(wantedUnlockKey(off)).toBeUndefined();
    expect(off.autolock).toBeUndefined();
    // A key left behind with autolock off asks for nothing.
    expect(wantedUnlockKey({ ...off, autolock: { unlockKey: key } })).toBeUndefined();
  });
});

describe("a manager following autolock", () => {
  it("reseals on, on rotation and off, and does nothing while the store has no cluster", async () => {
    const store = new MemoryStore();
    const files = new Files();
    const logs: string[] = [];
    const off = followAutolock(store, files, (l) => logs.push(l));
    expect(files.history).toEqual([]);
    await store.update((tx) => tx.create("cluster", withAutolock(cluster(), true)));
    const key = files.unlockKey!;
    expect(key).toMatch(/^SWMKEY-1-/);
    await store.update((tx) => {
      const c = tx.find("cluster")[0];
      tx.update("cluster", { ...c, autolock: { unlockKey: "SWMKEY-1-rotated" } });
    });
    expect(files.unlockKey).toBe("SWMKEY-1-rotated");
    await store.update((tx) => tx.update("cluster", withAutolock(tx.find("cluster")[0], false)));
    expect(files.history).toEqual([key, "SWMKEY-1-rotated", undefined]);
    expect(logs.join("\n")).not.toMatch(/SWMKEY/);
    off();
    await store.update((tx) => tx.update("cluster", withAutolock(tx.find("cluster")[0], true)));
    expect(files.history).toHaveLength(3);
  });

  it("keeps its files as they are when resealing fails, and says why", async () => {
    const store = new MemoryStore();
    await store.update((tx) => tx.create("cluster", withAutolock(cluster(), true)));
    const logs: string[] = [];
    const files: SealedFiles = { unlockKey: undefined, reseal: () => { throw new Error("disk full"); } };
    followAutolock(store, files, (l) => logs.push(l));
    expect(logs).toEqual(["ca: resealing this manager's keys: disk full"]);
  });
});
