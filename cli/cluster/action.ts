// A cluster command's action: the engine commands' wrapper (one-line errors, exit codes) with
// Swarm and Control clients in place of the engine's (Control only, on a tcp:// host). Cheap to
// import: the gRPC code loads only when the command runs.
import type { Command } from "commander";
import { action } from "../commands/action.js";
import type { Cluster } from "./connect.js";

export function clusterAction<A extends unknown[]>(cmd: Command, fn: (c: Cluster, ...args: A) => Promise<number | void>) {
  return action(cmd, async (ctx, ...args: A) => {
    const { withCluster } = await import("./connect.js");
    return withCluster(ctx.host, cmd.optsWithGlobals(), (c) => fn(c, ...args));
  });
}

/** Runs `fn` for each ref; a failure is printed as its line and the others still run. 1 if any failed. */
export async function eachRef(c: Cluster, refs: readonly string[], fn: (ref: string) => Promise<void>): Promise<number> {
  const { describe } = await import("../client.js");
  let failed = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      failed++;
      process.stderr.write(`shoal: ${describe(err, c.host)}\n`);
    }
  }
  return failed ? 1 : 0;
}
