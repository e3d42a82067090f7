// One manager's etcd backend: the store (a replica of what etcd holds) and the election that
// decides which manager runs the control loops. Every write of the store is fenced on this
// manager's election key, so a manager that lost leadership cannot change anything. The Manager
// plugs this in where it uses the Raft member today.
import type { Etcd3 } from "etcd3";
import { Election } from "../../election/election.js";
import type { MemoryStore } from "../memory.js";
import { type EtcdEndpoints, Reachability, connectEtcd } from "./client.js";
import { KeyLayout } from "./keys.js";
import { EtcdStore } from "./store.js";

export interface EtcdBackendOptions extends EtcdEndpoints {
  /** Key prefix of this swarm in etcd (default /shoal/): several swarms can share one etcd. */
  prefix?: string;
  /** This manager's cluster address, published to the other managers while it campaigns. */
  addr: string;
  /** Election lease TTL in seconds (default 1; etcd may raise it, see Election). */
  leaseTtlSec?: number;
  callTimeoutMs?: number;
  writeTimeoutMs?: number;
  maxTxnOps?: number;
  log?: (line: string) => void;
}

export class EtcdBackend {
  readonly client: Etcd3;
  readonly keys: KeyLayout;
  readonly store: MemoryStore;
  private readonly etcdStore: EtcdStore;
  private readonly election: Election;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private leading = false;
  /** Bumped on every change of leadership, so a takeover that lost its term meanwhile does not start. */
  private term = 0;
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly o: EtcdBackendOptions) {
    this.log = o.log ?? ((l) => console.error(l));
    this.client = connectEtcd(o);
    this.keys = new KeyLayout(o.prefix);
    const reach = new Reachability("store", o.endpoints, this.log);
    this.election = new Election({ client: this.client, prefix: this.keys.election, value: o.addr, ttlSec: o.leaseTtlSec, callTimeoutMs: o.callTimeoutMs, reach, log: this.log });
    this.etcdStore = new EtcdStore({
      client: this.client,
      keys: this.keys,
      reach,
      log: this.log,
      fence: () => this.election.fence(),
      callTimeoutMs: o.callTimeoutMs,
      writeTimeoutMs: o.writeTimeoutMs,
      maxTxnOps: o.maxTxnOps,
      onReset: () => this.restartLoops(),
    });
    this.store = this.etcdStore.store;
    this.election.onChange((leads, revision) => (leads ? void this.takeOver(revision) : this.stepDown()));
  }

  /** Loads the store (retrying, with one log line, while etcd cannot be reached), then campaigns. */
  async start(): Promise<void> {
    await this.etcdStore.start();
    if (!this.stopped) this.election.start();
  }

  /** Stops the loops, resigns (the next manager takes over at once) and closes the client. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stepDown();
    await this.election.stop();
    this.etcdStore.stop();
    this.client.close();
  }

  /** Hands leadership to the next manager in line (a demoted leader); this one campaigns again, last. */
  async resign(): Promise<void> {
    this.stepDown();
    await this.election.resign();
  }

  /** True while this manager leads and its replica has caught up: the control loops run. */
  isLeader(): boolean {
    return this.leading && this.election.isLeader();
  }

  /**
   * The leading manager's cluster address, as last seen in etcd. Never this manager's own while it
   * does not lead: cut off from etcd, its last view names itself until etcd answers again, and
   * agents sent here would be sent here again.
   */
  leaderAddr(): string | undefined {
    const at = this.election.leader();
    return at === this.o.addr && !this.isLeader() ? undefined : at;
  }

  /** Cluster addresses of every campaigning manager, this one first. */
  managerAddrs(): string[] {
    return [this.o.addr, ...this.election.values().filter((a) => a !== this.o.addr)];
  }

  /** fn(true) when this manager starts leading (replica caught up), fn(false) when it stops. */
  onLeadership(fn: (leading: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Leads only once the replica holds every write of earlier leaders (all before `revision`). */
  private async takeOver(revision: number): Promise<void> {
    const term = ++this.term;
    try {
      await this.etcdStore.caughtUp(revision);
    } catch (err) {
      if (term !== this.term || this.stopped) return;
      this.log(`manager: won the etcd election but ${(err as Error).message}; resigning`);
      await this.election.resign();
      return;
    }
    if (term !== this.term || this.stopped || !this.election.isLeader()) return;
    this.leading = true;
    this.log(`manager: ${this.o.addr} leads (etcd revision ${revision}); starting the control loops`);
    for (const fn of this.listeners) fn(true);
  }

  private stepDown(): void {
    this.term++;
    if (!this.leading) return;
    this.leading = false;
    this.log(`manager: ${this.o.addr} no longer leads; stopping the control loops`);
    for (const fn of this.listeners) fn(false);
  }

  /** The replica was replaced under the loops: they start over on the new one. */
  private restartLoops(): void {
    if (!this.leading) return;
    for (const fn of this.listeners) fn(false);
    for (const fn of this.listeners) fn(true);
  }
}
