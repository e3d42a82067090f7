// A real process running one Raft member with a key-value state machine, for integration tests
// and the bench. Writes are gRPC (TestKv.Put, shaped like etcd's KV.Put) on the member's Raft
// port, which the transport shares as a manager's cluster port does; a member that does not lead
// answers not_leader with the leader's address. Admin and reads are HTTP on loopback:
//   GET /kv/KEY (linearizable)  GET /dump (all keys, local)  GET /status
//   POST /members/ID?raft=H:P&client=H:P  DELETE /members/ID  POST /transfer/ID
// Usage: node kv-server.js --id 1 --data DIR --raft 127.0.0.1:P --client 127.0.0.1:P
//          [--peers 1=RAFT/CLIENT,2=...] (bootstrap) | [--join 1=RAFT/CLIENT,...] (existing members)
//          [--snapshot-interval N] [--catch-up-entries N]
import { createServer, type ServerResponse } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { NotLeaderError, RaftNode, type MemberInfo } from "../../../manager/raft/node.js";
import { WalCorruptError } from "../../../manager/raft/wal/index.js";
import { TestKvService, type PutResponse } from "../../../proto/gen/raft_test_kv.js";
import { encodePut, KvStore } from "./kv-store.js";

const { values: args } = parseArgs({
  options: {
    id: { type: "string" },
    data: { type: "string" },
    raft: { type: "string" },
    client: { type: "string" },
    peers: { type: "string" },
    join: { type: "string" },
    "snapshot-interval": { type: "string" },
    "catch-up-entries": { type: "string" },
  },
});
const id = Number(args.id);
const self: MemberInfo = { raftAddress: args.raft!, clientAddress: args.client! };
function memberList(list: string | undefined): Map<number, MemberInfo> | undefined {
  if (!list) return undefined;
  return new Map(
    list.split(",").map((p) => {
      const [pid, addrs] = p.split("=");
      const [raftAddress, clientAddress] = addrs.split("/");
      return [Number(pid), { raftAddress, clientAddress }];
    }),
  );
}
const initialMembers = memberList(args.peers);
const joinMembers = memberList(args.join);
const kv = new KvStore();
const clusterPort = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
clusterPort.addService(TestKvService, {
  put: (call: grpc.ServerUnaryCall<{ key: string; value: Uint8Array }, PutResponse>, done: grpc.sendUnaryData<PutResponse>) => {
    node.propose(encodePut(call.request.key, Buffer.from(call.request.value.buffer, call.request.value.byteOffset, call.request.value.byteLength))).then(
      (index) => done(null, { index: index as number, notLeader: false, leaderAddress: "", error: "" }),
      (err: Error) =>
        done(null, err instanceof NotLeaderError ? { index: 0, notLeader: true, leaderAddress: err.leader?.raftAddress ?? "", error: err.message } : { index: 0, notLeader: false, leaderAddress: "", error: err.message }),
    );
  },
});
await new Promise<void>((resolve, reject) =>
  clusterPort.bindAsync(self.raftAddress, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(new Error(`kv-server: cannot listen on ${self.raftAddress}: ${err.message}`)) : resolve())),
);
// Event-loop stalls (GC, CPU starvation) are what makes a member miss heartbeats: /status shows the worst.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const node = new RaftNode({
  id,
  dataDir: args.data!,
  stateMachine: kv,
  self,
  initialMembers,
  joinMembers,
  server: clusterPort,
  snapshotInterval: args["snapshot-interval"] ? Number(args["snapshot-interval"]) : undefined,
  snapshotCatchUpEntries: args["catch-up-entries"] ? Number(args["catch-up-entries"]) : undefined,
});
try {
  await node.start();
} catch (err) {
  console.error((err as Error).message);
  process.exit(err instanceof WalCorruptError ? 3 : 1);
}

function reply(res: ServerResponse, code: number, value: unknown): void {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
  res.writeHead(code, { "content-length": b.length });
  res.end(b);
}

function fail(res: ServerResponse, err: unknown): void {
  if (err instanceof NotLeaderError) return reply(res, 421, { error: err.message, leader: err.leaderId, leaderClient: err.leader?.clientAddress });
  reply(res, 503, { error: (err as Error).message });
}

const server = createServer((req, res) => {
  const url = new URL(req.url!, "http://x");
  const [, what, arg] = url.pathname.split("/");
  void (async () => {
    try {
      if (what === "kv" && req.method === "GET") {
        await node.linearizableRead();
        const v = kv.data.get(arg);
        return v ? reply(res, 200, v) : reply(res, 404, { error: "no such key" });
      }
      if (what === "dump") return reply(res, 200, Object.fromEntries([...kv.data].map(([k, v]) => [k, v.toString()])));
      if (what === "status") return reply(res, 200, { ...node.status(), maxLoopDelayMs: Math.round(loopDelay.max / 1e6) });
      if (what === "members" && req.method === "POST") {
        await node.addMember(Number(arg), { raftAddress: url.searchParams.get("raft")!, clientAddress: url.searchParams.get("client") ?? undefined });
        return reply(res, 200, {});
      }
      if (what === "members" && req.method === "DELETE") {
        await node.removeMember(Number(arg));
        return reply(res, 200, {});
      }
      if (what === "transfer" && req.method === "POST") {
        await node.transferLeadership(Number(arg));
        return reply(res, 200, {});
      }
      reply(res, 404, { error: `no route ${req.method} ${url.pathname}` });
    } catch (err) {
      fail(res, err);
    }
  })();
});
server.keepAliveTimeout = 60_000;
const [host, port] = self.clientAddress!.split(":");
server.listen(Number(port), host, () => console.log(`kv-server ${id} ready on ${self.clientAddress}`));

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    server.close();
    void node.stop().then(() => {
      clusterPort.forceShutdown();
      process.exit(0);
    });
  });
}
