// Three (or more) real kv-server processes on loopback. Needs a build: npx tsc -p tsconfig.json.
import { afterEach, describe, expect, it } from "vitest";
import { Cluster, sleep, type Member } from "../../support/raft/cluster.js";

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

/** Writes distinct keys with `concurrency` in flight until stopped; remembers every acknowledged one. */
function writer(c: Cluster, prefix: string, concurrency = 8) {
  const acked = new Map<string, string>();
  let n = 0;
  let stop = false;
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stop) {
      const key = `${prefix}${n++}`;
      const value = `v-${key}`;
      try {
        await c.client.put(key, value, 15_000);
        acked.set(key, value);
      } catch {
        // not acknowledged: the key may or may not exist, and either is fine
      }
    }
  });
  return {
    acked,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

function expectAllAcked(data: Record<string, string>, acked: Map<string, string>): void {
  const missing = [...acked].filter(([k, v]) => data[k] !== v).map(([k]) => k);
  expect(missing).toEqual([]);
}

async function leaderMember(c: Cluster): Promise<Member> {
  return c.member(await c.waitForLeader());
}


describe("Raft cluster of real processes", () => {
  it("loses no acknowledged write when the leader is killed -9, and converges after restart", async () => {
    cluster = await Cluster.start({ size: 3 });
    const w = writer(cluster, "k");
    await sleep(1000);
    const leader = await leaderMember(cluster);
    await leader.kill("SIGKILL");
    await sleep(1500);
    expect(await cluster.waitForLeader()).not.toBe(leader.id);
    leader.start();
    await sleep(1000);
    await w.stop();
    expect(w.acked.size).toBeGreaterThan(50);
    const data = await cluster.waitConverged();
    expectAllAcked(data, w.acked);
  });

  it("a leader stopped gracefully hands leadership to a caught-up member first", async () => {
    cluster = await Cluster.start({ size: 3 });
    const w = writer(cluster, "g");
    await sleep(500);
    const leader = await leaderMember(cluster);
    const term = (await cluster.status(leader))!.term;
    await leader.kill("SIGTERM");
    expect(await leader.exit).toBe(0);
    const next = cluster.member(await cluster.waitForLeader());
    expect(next.id).not.toBe(leader.id);
    expect((await cluster.status(next))!.term).toBe(term + 1);
    expect(leader.log).toContain(`handed leadership to member ${next.id} before stopping`);
    await sleep(300);
    await w.stop();
    leader.start();
    expectAllAcked(await cluster.waitConverged(), w.acked);
  });

  it("catches a member up by snapshot after it missed several snapshots", async () => {
    cluster = await Cluster.start({ size: 3, args: ["--snapshot-interval", "50", "--catch-up-entries", "10"] });
    const leaderId = await cluster.waitForLeader();
    const lagging = cluster.members.find((m) => m.id !== leaderId)!;
    await lagging.kill("SIGKILL");
    const w = writer(cluster, "s");
    while (w.acked.size < 400) await sleep(50);
    await w.stop();
    lagging.start();
    const data = await cluster.waitConverged();
    expectAllAcked(data, w.acked);
    // Its /status is given a few tries: just caught up, on a busy machine, it can take over 1 s to answer.
    let st = await cluster.status(lagging);
    for (let i = 0; !st && i < 20; i++) st = (await sleep(250), await cluster.status(lagging));
    expect(st!.snapshotsReceived).toBeGreaterThanOrEqual(1);
  });

  it("keeps every acknowledged write while members are added and removed", async () => {
    cluster = await Cluster.start({ size: 3 });
    const w = writer(cluster, "m");
    await sleep(500);
    const existing = cluster.memberList();
    const fresh = await cluster.newMember();
    fresh.start(undefined, existing); // joins empty and waits for the leader
    const leader = await leaderMember(cluster);
    const add = await cluster.atLeader("POST", `/members/${fresh.id}?raft=${fresh.raft}&client=${fresh.client}`);
    expect(add.code, add.body).toBe(200);
    const victim = cluster.members.find((m) => m.id !== leader.id && m.id !== fresh.id)!;
    const rm = await cluster.atLeader("DELETE", `/members/${victim.id}`);
    expect(rm.code, rm.body).toBe(200);
    await sleep(1000);
    await victim.kill("SIGTERM");
    await sleep(500);
    await w.stop();
    const data = await cluster.waitConverged();
    expectAllAcked(data, w.acked);
    const st = await cluster.status(fresh);
    expect(st!.members[fresh.id]!.voter).toBe(true);
    expect(st!.members[victim.id]).toBeUndefined();
  });

});
