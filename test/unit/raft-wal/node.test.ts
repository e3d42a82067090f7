// The member driver with the real core, one voter: persistence order, apply, snapshots and restart.
import { afterEach, describe, expect, it, vi } from "vitest";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftNode } from "../../../manager/raft/node.js";
import { encodePut, KvStore } from "../../support/raft/kv-store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function member(dir: string, kv: KvStore): RaftNode {
  return new RaftNode({
    id: 1,
    dataDir: dir,
    stateMachine: kv,
    self: { raftAddress: "127.0.0.1:0" },
    initialMembers: new Map([[1, { raftAddress: "127.0.0.1:0" }]]),
    snapshotInterval: 10,
    snapshotCatchUpEntries: 3,
    log: () => {},
  });
}

describe("RaftNode driver", () => {
  it("applies proposals, snapshots on schedule, and recovers the same state after restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shoal-node-"));
    dirs.push(dir);
    const kv = new KvStore();
    const n = member(dir, kv);
    await n.start();
    await n.waitForLeader();
    const results = await Promise.all(Array.from({ length: 35 }, (_, i) => n.propose(encodePut(`k${i}`, Buffer.from(`v${i}`)))));
    expect(new Set(results).size).toBe(35); // each resolved with its own entry's index
    await n.linearizableRead();
    expect(kv.data.get("k34")!.toString()).toBe("v34");
    // Snapshot files are written off the Ready loop: wait for the one due by now.
    await vi.waitFor(() => expect(n.status().snapshotIndex).toBeGreaterThanOrEqual(30));
    await n.stop();
    expect(readdirSync(join(dir, "snap")).length).toBeLessThanOrEqual(2);

    const again = new KvStore();
    const n2 = member(dir, again);
    await n2.start();
    await n2.waitForLeader();
    await n2.propose(encodePut("after", Buffer.from("restart")));
    expect(again.data.size).toBe(36);
    expect(again.data.get("k0")!.toString()).toBe("v0");
    await n2.stop();
    await expect(n2.propose(Buffer.from("x"))).rejects.toThrow(/stopped/);
  });
});
