// `service logs`: every replica's output from every node. The manager the CLI talks to asks each
// node holding a task of the service for those tasks' logs (the Agent service on its cluster
// port) and relays the lines as they come, named by task, slot and node. With follow, tasks that
// start later are picked up too.
import { status, type ClientReadableStream, type ServerWritableStream } from "@grpc/grpc-js";
import type { ClusterChannel } from "../ca/credentials.js";
import { AgentClient, type LogLine, type ServiceLogsRequest } from "../../proto/gen/swarm.js";
import { byServiceId, type Store } from "../store/types.js";
import { TaskState, type Service } from "../../proto/gen/cluster.js";

const RESCAN_MS = 500;

/** `channelTo`: this manager's mutual TLS to a node; every node's Agent service serves managers only. */
export async function streamServiceLogs(store: Store, resolve: (ref: string) => Service, call: ServerWritableStream<ServiceLogsRequest, LogLine>, channelTo: (nodeId: string) => ClusterChannel): Promise<void> {
  const req = call.request;
  const service = resolve(req.service);
  const name = service.spec?.annotations?.name ?? service.id;
  const open = new Map<string, ClientReadableStream<LogLine>>(); // by task id
  let ended = false;
  const streams = new Set<ClientReadableStream<LogLine>>();

  const scan = (): void => {
    const { tasks, nodes } = store.view((tx) => {
      const tasks = tx.find("task", byServiceId(service.id)).filter((t) => t.nodeId && (t.status?.state ?? 0) >= TaskState.TASK_STATE_STARTING && !open.has(t.id));
      return { tasks, nodes: new Map(tx.find("node").map((n) => [n.id, n])) };
    });
    const byNode = new Map<string, typeof tasks>();
    for (const t of tasks) byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
    for (const [nodeId, list] of byNode) {
      const node = nodes.get(nodeId);
      const addr = node?.status?.addr;
      if (!addr) continue;
      const channel = channelTo(nodeId);
      const client = new AgentClient(addr, channel.credentials, channel.options);
      const s = client.taskLogs({ taskIds: list.map((t) => t.id), follow: req.follow, tail: req.tail });
      streams.add(s);
      for (const t of list) open.set(t.id, s);
      const slots = new Map(list.map((t) => [t.id, t.slot]));
      s.on("data", (l: LogLine) => {
        if (!ended) call.write({ ...l, slot: slots.get(l.taskId) ?? 0, nodeId, nodeName: node?.description?.hostname ?? nodeId, serviceName: name });
      });
      const done = () => {
        streams.delete(s);
        client.close();
        if (!req.follow && streams.size === 0 && !ended) finish();
      };
      s.on("end", done);
      s.on("error", done);
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    ended = true;
    clearInterval(timer);
    for (const s of streams) s.cancel();
    call.end();
  };
  call.on("cancelled", () => {
    ended = true;
    clearInterval(timer);
    for (const s of streams) s.cancel();
  });
  scan();
  if (req.follow) timer = setInterval(scan, RESCAN_MS);
  else if (streams.size === 0) finish();
}

export function serviceNotFound(ref: string): Error & { code: number } {
  return Object.assign(new Error(`no such service: ${ref}`), { code: status.NOT_FOUND });
}
