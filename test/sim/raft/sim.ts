// A deterministic simulation of a Raft cluster under faults: message loss, duplication,
// reordering and delay, symmetric and one-way partitions, crashes that lose unsynced writes,
// restarts, membership changes and snapshots. One seed decides everything, so a failure
// replays exactly with `npm run soak -- raft --seed N`.
import { ConfChangeType, MessageType, type Message } from "../../../proto/gen/raft.js";
import { Role, type ReadState } from "../../../manager/raft/core/index.js";
import { Invariants } from "./invariants.js";
import { checkLinearizable, type Op } from "./linearizability.js";
import { SimMember, type SimConfig } from "./member.js";
import { Prng } from "./prng.js";

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  rounds: number;
  messages: number;
  ops: number;
  committed: number;
  leaders: number;
}

interface InFlight {
  at: number;
  msg: Message;
}

interface PendingOp {
  op: Op;
  member: number;
  incarnation: number;
  id: string;
  deadline: number;
  readIndex?: number;
}

const KEYS = ["x", "y", "z"];
const MAX_OPS_PER_KEY = 40;
/** Fault-free rounds at the end, per tick of election timeout: room for several elections (split votes happen). */
const CALM_ROUNDS_PER_ELECTION_TICK = 12;

export function replayCommand(seed: number): string {
  return `npm run build:ts && npm run soak -- raft --seed ${seed}   (or: SIM_SEED=${seed} npx vitest run test/unit/raft/sim.test.ts)`;
}

export function runSeed(seed: number, rounds = 400): SimResult {
  const rng = new Prng(seed);
  const size = rng.pick([3, 3, 5]);
  const cfg: SimConfig = {
    electionTick: rng.pick([10, 10, 20]),
    heartbeatTick: rng.pick([1, 1, 3]),
    maxSizePerMsg: rng.pick([64, 256, 4096]),
    maxInflightMsgs: rng.pick([1, 4, 64]),
    snapshotEvery: rng.int(5, 40),
    keepAfterSnapshot: rng.int(0, 10),
  };
  let loss = rng.pick([0, 0.02, 0.1]);
  let dup = rng.pick([0, 0.02, 0.05]);
  const maxDelay = rng.pick([0, 1, 3]);
  let crashRate = rng.pick([0, 0.003, 0.01]);
  let partitionRate = rng.pick([0, 0.01, 0.03]);
  // How often a Ready's writes stay in flight across steps (a slow fsync), and how often a
  // transport reports a disconnect that did not happen.
  const slowDiskRate = rng.pick([0, 0.3, 0.7]);
  let spuriousDisconnectRate = rng.pick([0, 0.002, 0.01]);
  let memberRate = rng.pick([0, 0.01, 0.02]);
  const clients = rng.int(2, 4);

  const inv = new Invariants();
  const members = new Map<number, SimMember>();
  let net: InFlight[] = [];
  let now = 0;
  let messages = 0;
  const history: Op[] = [];
  const pending = new Map<string, PendingOp>();
  const clientBusy = new Set<number>();
  let opSeq = 0;
  const opsPerKey = new Map<string, number>();
  const blocked = new Set<string>(); // "from>to"
  let healAt = -1;
  const removed = new Set<number>();
  const snapReports: [number, number][] = [];
  let nextId = size + 1;
  const spareIds = [size + 1, size + 2];

  const hooks = {
    send: (msgs: Message[]) => {
      for (const msg of msgs) {
        if (rng.chance(loss)) {
          // The transport notices a failed snapshot stream and says so.
          if (msg.type === MessageType.MSG_SNAP) snapReports.push([msg.from, msg.to]);
          continue;
        }
        net.push({ at: now + rng.int(0, maxDelay), msg });
        if (rng.chance(dup)) net.push({ at: now + rng.int(0, maxDelay + 2), msg });
      }
    },
    onApply: (m: SimMember, e: { index: number; term: number; type: number; data: Buffer }) => {
      inv.onApply(m, e as never);
      if (e.data.length === 0 || e.type !== 0) return;
      const id = e.data.toString().split("|")[0]!;
      const p = pending.get(id);
      if (p && p.member === m.id && p.incarnation === m.incarnation) complete(p);
    },
    onReadState: (m: SimMember, rs: ReadState) => {
      const p = pending.get(Buffer.from(rs.context).toString());
      if (p && p.member === m.id && p.incarnation === m.incarnation && p.readIndex === undefined) p.readIndex = rs.index;
    },
  };

  const complete = (p: PendingOp) => {
    p.op.end = now;
    if (p.op.kind === "get") p.op.value = members.get(p.member)!.kv.get(p.op.key);
    history.push(p.op);
    pending.delete(p.id);
    clientBusy.delete(p.op.client);
  };
  const abandon = (p: PendingOp) => {
    // A put's fate is unknown (it may still commit); a get had no effect and is forgotten.
    if (p.op.kind === "put") history.push(p.op);
    pending.delete(p.id);
    clientBusy.delete(p.op.client);
  };

  const voters = Array.from({ length: size }, (_, i) => i + 1);
  for (const id of voters) members.set(id, new SimMember(id, cfg, rng, hooks, { voters, learners: [] }));

  const crashMidway = () => rng.chance(crashRate / 4);
  const slowDisk = () => rng.chance(slowDiskRate);
  // The cheap invariants run after every step, so a commit that was wrong only for a moment is caught.
  const checkNow = () => inv.check([...members.values()], false);
  const processAll = () => {
    checkNow();
    for (const m of members.values()) {
      if (!m.alive) continue;
      // Power cuts favour the moment a write is in flight: what it held is then only partly on disk.
      if (m.writing && rng.chance(crashRate * 2)) {
        crash(m);
        continue;
      }
      if (m.writing && rng.chance(0.5)) m.completeWrite();
      m.process(crashMidway, slowDisk);
    }
  };
  // A crashed process's connections break: its peers' transports usually notice at once.
  const crash = (m: SimMember) => {
    m.crash();
    for (const o of members.values()) if (o.alive && rng.chance(0.8)) o.node.reportDisconnected(m.id);
  };
  const leader = (): SimMember | undefined => {
    let best: SimMember | undefined;
    for (const m of members.values()) if (m.alive && m.node.raft.role === Role.Leader && (!best || m.node.raft.term > best.node.raft.term)) best = m;
    return best;
  };

  const leaders = new Set<string>();
  try {
    const calmRounds = CALM_ROUNDS_PER_ELECTION_TICK * cfg.electionTick;
    const calm = rounds + calmRounds;
    for (now = 0; now < calm; now++) {
      if (now === rounds) {
        // Liveness: once faults stop, the cluster must elect a leader and catch everyone up.
        loss = dup = crashRate = partitionRate = memberRate = spuriousDisconnectRate = 0;
        blocked.clear();
        for (const m of members.values()) if (!m.alive) m.start();
      }
      // Faults.
      if (rng.chance(crashRate)) {
        const m = rng.pick([...members.values()].filter((x) => x.alive));
        if (m) crash(m);
      }
      if (rng.chance(spuriousDisconnectRate)) {
        const m = rng.pick([...members.values()].filter((x) => x.alive));
        if (m) m.node.reportDisconnected(rng.pick([...members.keys()]));
      }
      for (const m of members.values()) {
        if (!m.alive && rng.chance(0.05)) {
          m.start();
          inv.resetMember(m.id);
        }
      }
      if (healAt === now) blocked.clear();
      if (blocked.size === 0 && rng.chance(partitionRate)) {
        const ids = [...members.keys()];
        const side = new Set(rng.shuffle([...ids]).slice(0, rng.int(1, Math.floor(ids.length / 2))));
        const oneWay = rng.chance(0.3);
        for (const a of side) for (const b of ids) if (!side.has(b)) {
          blocked.add(`${a}>${b}`);
          if (!oneWay) blocked.add(`${b}>${a}`);
        }
        healAt = now + rng.int(10, 60);
      }
      // Ticks.
      for (const m of members.values()) if (m.alive) m.node.tick();
      processAll();
      for (const [from, to] of snapReports.splice(0)) {
        const m = members.get(from);
        if (m?.alive) m.node.reportSnapshot(to, false);
      }
      // Deliver what is due, in random order.
      const due: InFlight[] = [];
      const later: InFlight[] = [];
      for (const f of net) (f.at <= now ? due : later).push(f);
      net = later;
      rng.shuffle(due);
      for (const { msg } of due) {
        const to = members.get(msg.to);
        if (!to || !to.alive || blocked.has(`${msg.from}>${msg.to}`)) {
          if (msg.type === MessageType.MSG_SNAP) members.get(msg.from)?.node.reportSnapshot(msg.to, false);
          continue;
        }
        messages++;
        to.node.step(msg);
        if (msg.type === MessageType.MSG_SNAP) {
          const from = members.get(msg.from);
          if (from?.alive) from.node.reportSnapshot(msg.to, true);
        }
        checkNow();
        to.process(crashMidway, slowDisk);
        const from = members.get(msg.from);
        if (from?.alive) from.process(crashMidway, slowDisk);
      }
      processAll();
      // Clients (they stop in time for every operation to finish or time out before the calm).
      for (let c = 0; c < clients && now < rounds - 55; c++) {
        if (clientBusy.has(c) || !rng.chance(0.3)) continue;
        const alive = [...members.values()].filter((m) => m.alive && !removed.has(m.id));
        if (alive.length === 0) continue;
        const key = rng.pick(KEYS);
        // Keeps each key's history small enough for the exhaustive checker.
        const used = opsPerKey.get(key) ?? 0;
        if (used >= MAX_OPS_PER_KEY) continue;
        opsPerKey.set(key, used + 1);
        const id = `o${opSeq++}`;
        if (rng.chance(0.5)) {
          const m = leader();
          if (!m) continue;
          const op: Op = { client: c, key, kind: "put", value: id, start: now, end: Infinity };
          try {
            m.node.propose(Buffer.from(`${id}|${key}|${id}`));
          } catch {
            continue;
          }
          pending.set(id, { op, member: m.id, incarnation: m.incarnation, id, deadline: now + 50 });
        } else {
          const m = rng.pick(alive);
          const op: Op = { client: c, key, kind: "get", value: undefined, start: now, end: Infinity };
          m.node.readIndex(Buffer.from(id));
          pending.set(id, { op, member: m.id, incarnation: m.incarnation, id, deadline: now + 50 });
        }
        clientBusy.add(c);
      }
      processAll();
      for (const p of [...pending.values()]) {
        const m = members.get(p.member)!;
        if (!m.alive || m.incarnation !== p.incarnation || now >= p.deadline) abandon(p);
        else if (p.op.kind === "get" && p.readIndex !== undefined && m.applied >= p.readIndex) complete(p);
      }
      // Membership: add a learner, promote it, or remove a voter (the leader included).
      const l = leader();
      if (l && rng.chance(memberRate)) {
        const cs = l.confState;
        const learner = cs.learners[0];
        try {
          if (learner !== undefined) {
            const pr = l.node.status().progress?.get(learner);
            if (pr && pr.match >= l.node.raft.log.committed) l.node.proposeConfChange({ id: 0, type: ConfChangeType.CONF_ADD_NODE, nodeId: learner, context: Buffer.alloc(0) });
          } else if (spareIds.length > 0 && rng.chance(0.6)) {
            const nid = spareIds.shift()!;
            nextId = Math.max(nextId, nid + 1);
            members.set(nid, new SimMember(nid, cfg, rng, hooks));
            l.node.proposeConfChange({ id: 0, type: ConfChangeType.CONF_ADD_LEARNER, nodeId: nid, context: Buffer.alloc(0) });
          } else if (cs.voters.length > 3) {
            const victim = rng.pick(cs.voters);
            l.node.proposeConfChange({ id: 0, type: ConfChangeType.CONF_REMOVE_NODE, nodeId: victim, context: Buffer.alloc(0) });
            removed.add(victim);
          }
        } catch {
          // A change already pending: try again later.
        }
        processAll();
      }
      for (const m of members.values()) if (m.alive && m.node.raft.role === Role.Leader) leaders.add(`${m.node.raft.term}`);
      inv.check([...members.values()], now % 25 === 0 || now === calm - 1);
    }
    checkLiveness(members, calmRounds);
    for (const p of [...pending.values()]) abandon(p);
    const lin = checkLinearizable(history);
    if (!lin.ok) {
      const ops = lin.ops!.map((o) => `${o.kind}(${o.value ?? "nil"})@[${o.start},${o.end}]`).join(" ");
      throw new Error(`history on key ${lin.key} is not linearizable: ${ops}`);
    }
  } catch (err) {
    return { seed, ok: false, error: `${(err as Error).message}\n${(err as Error).stack?.split("\n").slice(1, 4).join("\n") ?? ""}`, rounds: now, messages, ops: history.length, committed: maxCommit(members), leaders: leaders.size };
  }
  return { seed, ok: true, rounds, messages, ops: history.length, committed: maxCommit(members), leaders: leaders.size };
}

function maxCommit(members: Map<number, SimMember>): number {
  let c = 0;
  for (const m of members.values()) c = Math.max(c, m.node.raft.log.committed);
  return c;
}

function checkLiveness(members: Map<number, SimMember>, calmRounds: number): void {
  const leaders = [...members.values()].filter((m) => m.node.raft.role === Role.Leader);
  if (leaders.length !== 1) throw new Error(`liveness: ${leaders.length} leaders after ${calmRounds} calm rounds (want 1)`);
  const l = leaders[0]!;
  const cs = l.confState;
  for (const id of [...cs.voters, ...cs.learners]) {
    const m = members.get(id)!;
    if (m.applied < l.node.raft.log.committed) throw new Error(`liveness: member ${id} applied ${m.applied} of ${l.node.raft.log.committed} after ${calmRounds} calm rounds`);
  }
}
