// The Control API as a gRPC service: each unary RPC answered by ControlApi, each failure as its
// status with a one-line message; service logs streamed by the caller's function.
import type { handleUnaryCall, sendUnaryData, ServerUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import type { ControlServer, LogLine, ServiceLogsRequest } from "../../proto/gen/swarm.js";
import type { ControlApi } from "./api.js";
import { asControlError } from "./errors.js";

function unary<Req, Res>(fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    fn(call.request).then(
      (res) => cb(null, res),
      (err) => cb(asControlError(err).toStatus()),
    );
  };
}

/** The Control service but the swarm-wide security settings, which are manager/cluster/settings.ts's. */
export type StoreControlServer = { [K in keyof ControlServer as K extends "updateCluster" | "getUnlockKey" ? never : K]: ControlServer[K] };

export function controlServer(api: ControlApi, serviceLogs: (call: ServerWritableStream<ServiceLogsRequest, LogLine>) => void): StoreControlServer {
  return {
    getJoinTokens: unary((r) => api.getJoinTokens(r)),
    listNodes: unary((r) => api.listNodes(r)),
    getNode: unary((r) => api.getNode(r)),
    updateNode: unary((r) => api.updateNode(r)),
    removeNode: unary((r) => api.removeNode(r)),
    createService: unary((r) => api.createService(r)),
    getService: unary((r) => api.getService(r)),
    listServices: unary((r) => api.listServices(r)),
    updateService: unary((r) => api.updateService(r)),
    removeService: unary((r) => api.removeService(r)),
    listTasks: unary((r) => api.listTasks(r)),
    createNetwork: unary((r) => api.createNetwork(r)),
    listNetworks: unary((r) => api.listNetworks(r)),
    getNetwork: unary((r) => api.getNetwork(r)),
    removeNetwork: unary((r) => api.removeNetwork(r)),
    issueClientCertificate: unary((r) => api.issueClientCertificate(r)),
    serviceLogs,
  };
}
