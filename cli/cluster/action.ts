// A cluster command's action: the engine commands' wrapper (one-line errors, exit codes) with
// Swarm and Control clients in place of the engine's. Cheap to import: the gRPC code loads only
// when the command runs.
import type { Command } from "commander";
import { action } from "../commands/action.js";
import type { Cluster } from "./connect.js";

export function clusterAction<A extends unknown[]>(cmd: Command, fn: (c: Cluster, ...args: A) => Promise<number | void>) {
  return action(cmd, async (ctx, ...args: A) => {
    const { withCluster } = await import("./connect.js");
    return withCluster(ctx.host, (c) => fn(c, ...args));
  });
}
