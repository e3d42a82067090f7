// Managers in one process for control-plane tests and benches: each a real Raft member with its
// own WAL and its own gRPC server on loopback (Raft transport, dispatcher, join), bootstrapped as
// one group, with the cluster object written by the first leader.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { NodeAvailability, NodeRole, NodeState } from "../../../proto/gen/cluster.js";
import { DispatcherService } from "../../../proto/gen/swarm.js";
import { makeJoinToken } from "../../../manager/ca/tokens.js";
import { Manager } from "../../../manager/cluster/manager.js";
import { dispatcherServer } from "../../../manager/cluster/services.js";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export class ManagerGroup {
  readonly managers: Manager[] = [];
  readonly servers: Server[] = [];
  readonly addrs: string[] = [];
  private dir = "";

  static async start(n = 3, opts: { heartbeatPeriodMs?: number } = {}): Promise<ManagerGroup> {
    const g = new ManagerGroup();
    g.dir = mkdtempSync(join(tmpdir(), "shoal-managers-"));
    const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    const members = new Map(addrs.map((a, i) => [i + 1, { raftAddress: a, clientAddress: a }]));
    for (let i = 0; i < n; i++) {
      const server = new Server();
      const m = new Manager({ nodeId: `manager${i + 1}`, raftId: i + 1, dataDir: join(g.dir, `m${i + 1}`), addr: addrs[i], server, initialMembers: members, heartbeatPeriodMs: opts.heartbeatPeriodMs, log: () => undefined });
      await m.start();
      server.addService(DispatcherService, dispatcherServer(m) as unknown as UntypedServiceImplementation);
      await new Promise<void>((res, rej) => server.bindAsync(addrs[i], ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
      g.managers.push(m);
      g.servers.push(server);
      g.addrs.push(addrs[i]);
    }
    const leader = await g.leader();
    await leader.store.update((tx) => {
      tx.create("cluster", { id: "cluster1", spec: { annotations: { name: "default", labels: {} } }, joinTokens: { worker: makeJoinToken("cluster1"), manager: makeJoinToken("cluster1") } });
    });
    return g;
  }

  async leader(timeoutMs = 10_000): Promise<Manager> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.managers.find((m) => m.isLeader());
      if (l) return l;
      if (Date.now() > deadline) throw new Error("no leader among the managers");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Adds worker nodes to the store, as joins would. */
  async addNodes(ids: string[]): Promise<void> {
    const leader = await this.leader();
    await leader.store.batch(async (b) => {
      for (const id of ids) {
        await b.update((tx) =>
          tx.create("node", {
            id,
            spec: { annotations: { name: "", labels: {} }, role: NodeRole.NODE_ROLE_WORKER, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
            description: { hostname: id, resources: { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 } },
            status: { state: NodeState.NODE_STATE_UNKNOWN, message: "", addr: "" },
            membership: 1,
          }),
        );
      }
    });
  }

  async stop(): Promise<void> {
    for (const m of this.managers) await m.stop().catch(() => undefined);
    for (const s of this.servers) s.forceShutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
