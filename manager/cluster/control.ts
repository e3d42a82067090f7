// The Control API as the leader answers it: the store-level logic of manager/controlapi, the
// service log fan-out, and what only the Raft member knows (who leads, who is reachable).
import { NodeRole, NodeState, Reachability, type Node } from "../../proto/gen/cluster.js";
import type { ControlServer } from "../../proto/gen/swarm.js";
import { ControlApi } from "../controlapi/api.js";
import { controlServer } from "../controlapi/server.js";
import { streamServiceLogs } from "./logs.js";
import { toStatus, unary } from "./services.js";
import { unlockKey, updateCluster } from "./settings.js";
import type { Manager } from "./manager.js";

export function localControl(m: Manager): ControlServer {
  const api = new ControlApi(m.store, {
    reachable: (n) => managerView(m, n).managerStatus?.reachability === Reachability.REACHABILITY_REACHABLE,
    // A token pins the root CA by its digest (a swarm made before the CA had only its id).
    caFingerprint: (c) => c.rootCa?.certPem || c.id,
  });
  const impl = controlServer(api, (call) => {
    api
      .getService({ ref: call.request.service })
      .then((service) => streamServiceLogs(m.store, () => service, call, (id) => m.channelTo(id)))
      .catch((err) => call.emit("error", toStatus(err)));
  });
  const withRaft = (n: Node): Node => managerView(m, n);
  return {
    ...impl,
    listNodes: (call, cb) => impl.listNodes(call, (err, res) => (err || !res ? cb(err, res) : cb(null, { nodes: res.nodes.map(withRaft) }))),
    getNode: (call, cb) => impl.getNode(call, (err, res) => (err || !res ? cb(err, res) : cb(null, withRaft(res)))),
    updateCluster: unary((req) => updateCluster(m.store, req)),
    getUnlockKey: unary((req) => unlockKey(m.store, req)),
  };
}

/** A manager node's status as Raft sees it now: leader, reachable, or not. */
function managerView(m: Manager, n: Node): Node {
  if (n.spec?.role !== NodeRole.NODE_ROLE_MANAGER || !n.managerStatus) return n;
  if (!m.raft) {
    // The etcd store: the election names the leader; campaigning managers are reachable.
    const leader = n.managerStatus.addr === m.leaderAddr();
    const reachable = leader || m.etcd!.managerAddrs().includes(n.managerStatus.addr);
    return { ...n, managerStatus: { ...n.managerStatus, leader, reachability: reachable ? Reachability.REACHABILITY_REACHABLE : Reachability.REACHABILITY_UNREACHABLE } };
  }
  const s = m.raft.status();
  const raftId = n.managerStatus.raftId;
  const leader = s.leader === raftId;
  // Every manager also runs an agent: its session's heartbeats say whether it is up.
  const reachable = leader || raftId === s.id || (s.members[raftId] !== undefined && n.status?.state === NodeState.NODE_STATE_READY);
  return { ...n, managerStatus: { ...n.managerStatus, leader, reachability: reachable ? Reachability.REACHABILITY_REACHABLE : Reachability.REACHABILITY_UNREACHABLE } };
}
