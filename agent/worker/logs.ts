// The Agent service on every node's cluster port: the output of the tasks this node runs, for a
// manager relaying `service logs`. Lines come from each task's container log, as `shoal logs`.
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { AgentServer, LogLine, TaskLogsRequest } from "../../proto/gen/swarm.js";
import { followLogs } from "../engine/logs/follow.js";
import type { Worker } from "./worker.js";

export function agentServer(worker: Worker): AgentServer {
  return {
    taskLogs: (call: ServerWritableStream<TaskLogsRequest, LogLine>) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      const req = call.request;
      const streams = req.taskIds.flatMap((taskId) => {
        const rec = worker.containerOf(taskId);
        if (!rec) return [];
        const tail = req.tail > 0 ? req.tail : -1;
        return [
          followLogs(worker.engine, { id: rec.id, follow: req.follow, tail, timestamps: true }, (chunk) => {
            if (!chunk.stream || abort.signal.aborted) return; // the follower's acknowledgement
            call.write({ taskId, slot: 0, nodeId: "", nodeName: "", serviceName: "", stream: chunk.stream, line: chunk.data, timeUnixMicro: (Date.parse(chunk.time) || Date.now()) * 1000 });
          }, abort.signal),
        ];
      });
      Promise.all(streams).then(
        () => call.end(),
        (e: Error) => call.emit("error", { code: status.INTERNAL, details: `reading task logs: ${e.message}` }),
      );
    },
  };
}
