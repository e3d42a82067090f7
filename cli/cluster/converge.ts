// Waits for a service to converge, as `docker service create|update|scale|rollback` does without
// --detach: polls the Control API a few times a second, feeds the model, draws its lines, and
// ends with its verdict (a paused or rolled-back update is an error, so the exit code says so).
import { status, type ServiceError } from "@grpc/grpc-js";
import { NodeState, type UpdateStatus } from "../../proto/gen/cluster.js";
import { call } from "../client.js";
import { CliError } from "../errors.js";
import type { Cluster } from "./connect.js";
import { displayFor, type Output } from "./display.js";
import { Convergence } from "./progress.js";

export interface WaitOptions {
  quiet?: boolean;
  /** `service rollback`: a completed rollback is success. */
  rollback?: boolean;
  /** The update status before this command's change (it belongs to an earlier update). */
  before?: UpdateStatus;
  out?: Output;
  pollMs?: number;
  /** How long the managers may be unreachable (a leader election) before giving up. */
  outageMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const passing = (err: unknown) => [status.UNAVAILABLE, status.DEADLINE_EXCEEDED].includes((err as ServiceError).code);

export async function waitForService(c: Cluster, serviceId: string, o: WaitOptions = {}): Promise<void> {
  const out = o.out ?? process.stdout;
  const display = displayFor(out, !!o.quiet);
  const model = new Convergence({ rollback: o.rollback, before: o.before });
  const control = c.control();
  let interrupted = false;
  const onInt = () => (interrupted = true);
  process.once("SIGINT", onInt);
  let failingSince: number | undefined;
  try {
    for (;;) {
      let polled;
      try {
        const [service, tasks, nodes] = await Promise.all([
          call(control, control.getService, { ref: serviceId }),
          call(control, control.listTasks, { service: serviceId, node: "" }),
          call(control, control.listNodes, {}),
        ]);
        polled = { service, tasks: tasks.tasks, active: new Set(nodes.nodes.filter((n) => n.status?.state !== NodeState.NODE_STATE_DOWN).map((n) => n.id)) };
        failingSince = undefined;
      } catch (err) {
        failingSince ??= Date.now();
        if (!passing(err) || Date.now() - failingSince > (o.outageMs ?? 30_000)) throw err;
      }
      if (polled) {
        const frame = model.observe(polled.service, polled.tasks, polled.active, Date.now());
        display.show(frame.lines);
        if (frame.end) {
          if (!frame.end.ok) throw new CliError(frame.end.error);
          return;
        }
      }
      await sleep(o.pollMs ?? 200);
      if (interrupted) {
        if (!o.quiet) out.write(`Operation continuing in background.\nUse \`shoal service ps ${serviceId}\` to check progress.\n`);
        return;
      }
    }
  } finally {
    process.removeListener("SIGINT", onInt);
  }
}
