// One manager as its own process, for benches: a Raft member with the dispatcher, join and the
// Control API on its cluster port, and no engine. Prints "ready" once it serves; reports its CPU
// time on SIGUSR2 as one JSON line ({"cpuMs":..., "leader":...}).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PerformanceObserver, constants, performance } from "node:perf_hooks";
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { ControlService, DispatcherService } from "../../../proto/gen/swarm.js";
import { ingressNetworkSpec } from "../../../manager/allocator/networks.js";
import { RootCA } from "../../../manager/ca/root-ca.js";
import { makeJoinToken } from "../../../manager/ca/tokens.js";
import { localControl } from "../../../manager/cluster/control.js";
import { Manager } from "../../../manager/cluster/manager.js";
import { dispatcherServer, forwardingControl } from "../../../manager/cluster/services.js";

const [id, addrList, dir] = process.argv.slice(2);
const addrs = addrList.split(",");
const me = Number(id);
const members = new Map(addrs.map((a, i) => [i + 1, { raftAddress: a, clientAddress: a }]));
mkdirSync(dir, { recursive: true });
const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
const m = new Manager({ nodeId: `manager${me}`, raftId: me, dataDir: join(dir, `m${me}`), addr: addrs[me - 1], server, initialMembers: members, log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`) });
await m.start();
server.addService(DispatcherService, dispatcherServer(m) as unknown as UntypedServiceImplementation);
server.addService(ControlService, forwardingControl(m, localControl(m)) as unknown as UntypedServiceImplementation);
await new Promise<void>((res, rej) => server.bindAsync(addrs[me - 1], ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
// Whichever member wins the first election writes the cluster object; every member says ready
// once its store holds it (the bench may talk to any of them).
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hasCluster = () => m.store.view((tx) => tx.find("cluster").length > 0);
while (!hasCluster()) {
  if (m.isLeader()) {
    // The swarm's root CA signs each joining node's certificate, as in a real swarm. The cluster
    // port itself serves without TLS here: the bench's simulated agents are one process.
    const root = await RootCA.create();
    const tokens = { worker: makeJoinToken(root.certPem), manager: makeJoinToken(root.certPem) };
    await m.store.update((tx) => {
      if (tx.find("cluster").length > 0) return;
      tx.create("cluster", { id: "bench", spec: { annotations: { name: "default", labels: {} } }, joinTokens: tokens, rootCa: { certPem: root.certPem, keyPem: root.keyPem! } });
      // The routing mesh's network, as swarm init makes it: every node gets an address on it.
      if (!process.env.SCHED_NO_INGRESS) tx.create("network", { id: "", spec: ingressNetworkSpec() });
    });
  } else await sleep(10);
}
process.on("SIGUSR2", () => {
  const u = process.cpuUsage();
  process.stdout.write(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, leader: m.isLeader() }) + "\n");
});
process.on("SIGTERM", () => void m.stop().then(() => process.exit(0)));
// Stalls of this process's thread past a third of Raft's shortest election timeout, and the
// garbage collections among them, go to the log: what sets off a leader change under load.
let tick = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - tick > 150) process.stderr.write(`${new Date(now).toISOString()} stall: the thread was held ${now - tick - 50} ms (${m.isLeader() ? "leader" : "follower"})\n`);
  tick = now;
}, 50).unref();
// Each second the thread spent more than 90 % busy goes to the log too: a loop kept saturated by
// many short callbacks delays Raft's messages as a single long hold does, yet shows as no stall.
let elu = performance.eventLoopUtilization();
setInterval(() => {
  const next = performance.eventLoopUtilization();
  const u = performance.eventLoopUtilization(next, elu).utilization;
  elu = next;
  if (u > 0.9) process.stderr.write(`${new Date().toISOString()} busy: the thread was ${Math.round(u * 100)} % busy over the last second (${m.isLeader() ? "leader" : "follower"})\n`);
}, 1000).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.duration <= 50) continue;
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    const name = kind === constants.NODE_PERFORMANCE_GC_MINOR ? "young generation" : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? "full" : `kind ${kind}`;
    process.stderr.write(`${new Date().toISOString()} gc: a ${name} collection took ${e.duration.toFixed(0)} ms\n`);
  }
}).observe({ entryTypes: ["gc"] });
process.stdout.write("ready\n");
