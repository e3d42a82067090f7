// What etcd-backed managers tell agents about each other: every manager the swarm has, not only
// those campaigning this second; and never "the leader is here" from one that does not lead.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { NodeAvailability, NodeRole, NodeState, type Node } from "../../../proto/gen/cluster.js";
import { Manager } from "../../../manager/cluster/manager.js";
import { etcdHarness, until } from "./harness.js";

const h = etcdHarness();
const started: Manager[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (let i = 0; i < 3; i++) h.cluster.pause(i, false);
  await Promise.all(started.splice(0).map((m) => m.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function managers(n: number): Promise<Manager[]> {
  const prefix = h.freshPrefix();
  const dir = mkdtempSync(join(tmpdir(), "shoal-etcd-managers-"));
  dirs.push(dir);
  const ms = Array.from({ length: n }, (_, i) => new Manager({ nodeId: `m${i + 1}`, raftId: 0, dataDir: join(dir, `m${i + 1}`), addr: `10.0.3.${i + 1}:2377`, server: new Server(), etcd: { endpoints: h.cluster.endpoints, prefix }, log: () => undefined }));
  started.push(...ms);
  await Promise.all(ms.map((m) => m.start()));
  return ms;
}

const managerNode = (id: string, addr: string): Node => ({
  id,
  spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
  status: { state: NodeState.NODE_STATE_READY, message: "", addr },
  managerStatus: { raftId: 0, addr, leader: false, reachability: 0 },
  membership: 1,
});

describe("etcd-backed managers", () => {
  it("name every manager of the swarm to agents, also one not campaigning right now", async () => {
    const ms = await managers(2);
    await until(() => ms.some((m) => m.isLeader()), "a manager leads");
    const leader = ms.find((m) => m.isLeader())!;
    const other = ms.find((m) => m !== leader)!;
    await leader.store.update((tx) => {
      for (const m of ms) tx.create("node", managerNode(`node-${m.addr.split(".")[3].split(":")[0]}`, m.addr));
    });
    // The other manager's lease is gone (a busy host missed its keepalives, or it restarts): it
    // is still a manager of this swarm, and agents given only the leader would ask nobody else.
    await other.stop();
    await until(() => leader.etcd!.managerAddrs().length === 1, "the leader sees one campaigning manager");
    expect(leader.managerAddrs()).toEqual([leader.addr, other.addr]);
  });

  it("a leader cut off from etcd does not name itself the leader once it stops leading", async () => {
    const ms = await managers(2);
    await until(() => ms.some((m) => m.isLeader()), "a manager leads");
    const leader = ms.find((m) => m.isLeader())!;
    expect(leader.leaderAddr()).toBe(leader.addr);
    for (let i = 0; i < 3; i++) h.cluster.pause(i);
    await until(() => !leader.isLeader(), "the leader stops leading when etcd does not answer");
    // Its last view of the election still has its own key first: that is not a leader to send agents to.
    expect(leader.leaderAddr()).toBeUndefined();
    for (let i = 0; i < 3; i++) h.cluster.pause(i, false);
    await until(() => ms.some((m) => m.isLeader()), "a manager leads once etcd answers", 30_000);
  });
});
