// A tiny synchronous cluster for scenario tests: every member persists and applies each Ready
// at once, and messages are delivered breadth-first until the network is quiet, unless a
// filter drops them. Scenario tests read like the paper because the plumbing lives here.
import { ConfChange, ConfChangeType, EntryType, MessageType, type Entry, type Message } from "../../../proto/gen/raft.js";
import { Prng } from "../../sim/raft/prng.js";
import { MemoryStorage, RawNode, type RaftConfig, type ReadState } from "../../../manager/raft/core/index.js";

export interface Member {
  id: number;
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
}

export type Filter = (m: Message) => boolean; // true = drop

export function seeded(seed: number): () => number {
  const rng = new Prng(seed);
  return () => rng.next();
}

export class Cluster {
  readonly members = new Map<number, Member>();
  filters: Filter[] = [];
  /** Every message delivered, for assertions on traffic. */
  delivered: Message[] = [];

  constructor(voters: number[], opts: Partial<RaftConfig> = {}, learners: number[] = []) {
    for (const id of [...voters, ...learners]) this.add(id, voters, learners, opts);
  }

  /**
   * Adds member `id` starting from the shared bootstrap snapshot at index 1 (term 1), then
   * `logTerms` as the terms of entries 2, 3, ... and hard state `term`.
   */
  add(id: number, voters: number[], learners: number[], opts: Partial<RaftConfig> = {}, logTerms: number[] = [], term = 1): Member {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: Buffer.alloc(0), metadata: { index: 1, term: 1, confState: { voters, learners } } });
    storage.append(logTerms.map((t, i) => ({ term: t, index: i + 2, type: EntryType.ENTRY_NORMAL, data: Buffer.from(`e${i + 2}`) })));
    storage.setHardState({ term: Math.max(term, 1), vote: 0, commit: 1 });
    return this.start(id, storage, 1, opts);
  }

  /** Adds a brand-new member with an empty log, as a joining node starts. */
  addFresh(id: number, opts: Partial<RaftConfig> = {}): Member {
    return this.start(id, new MemoryStorage(), 0, opts);
  }

  private start(id: number, storage: MemoryStorage, applied: number, opts: Partial<RaftConfig>): Member {
    const node = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, applied, random: seeded(id), ...opts });
    const m: Member = { id, node, storage, applied: [], readStates: [] };
    this.members.set(id, m);
    return m;
  }

  get(id: number): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  raft(id: number) {
    return this.get(id).node.raft;
  }

  /** Drains every member's Ready and delivers messages until nothing is left. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const out: Message[] = [];
      for (const m of this.members.values()) out.push(...this.drain(m));
      if (out.length === 0) return;
      for (const msg of out) this.deliver(msg);
    }
    throw new Error("cluster did not settle");
  }

  deliver(msg: Message): void {
    if (this.filters.some((f) => f(msg))) return;
    const to = this.members.get(msg.to);
    if (!to) return;
    this.delivered.push(msg);
    to.node.step(msg);
  }

  /** Persists and applies one member's pending Readys; returns the messages to send. */
  drain(m: Member): Message[] {
    const out: Message[] = [];
    while (m.node.hasReady()) {
      const rd = m.node.ready();
      if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
      if (rd.hardState) m.storage.setHardState(rd.hardState);
      m.storage.append(rd.entries);
      out.push(...rd.messages);
      m.readStates.push(...rd.readStates);
      for (const e of rd.committedEntries) {
        m.applied.push(e);
        if (e.type === EntryType.ENTRY_CONF_CHANGE) m.node.applyConfChange(ConfChange.decode(e.data));
      }
      m.node.advance();
    }
    return out;
  }

  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) this.get(id).node.tick();
  }

  /** Makes `id` campaign and lets the cluster settle. */
  elect(id: number): void {
    this.get(id).node.campaign();
    this.settle();
  }

  isolate(id: number): void {
    this.filters.push((m) => m.from === id || m.to === id);
  }

  cut(a: number, b: number): void {
    this.filters.push((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  dropType(t: MessageType): void {
    this.filters.push((m) => m.type === t);
  }

  heal(): void {
    this.filters = [];
  }

  propose(id: number, data: string): void {
    this.get(id).node.propose(Buffer.from(data));
    this.settle();
  }

  confChange(leader: number, type: ConfChangeType, nodeId: number): void {
    this.get(leader).node.proposeConfChange({ id: 0, type, nodeId, context: Buffer.alloc(0) });
    this.settle();
  }

  /** Applied payloads (non-empty normal entries) of member id. */
  data(id: number): string[] {
    return this.get(id).applied.filter((e) => e.type === EntryType.ENTRY_NORMAL && e.data.length > 0).map((e) => e.data.toString());
  }
}
