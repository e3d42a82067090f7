// Runs `ip` and `nft` with a batch on stdin: one process per step keeps per-container cost low.
// They are started by the runtime's spawner, so the daemon's thread never waits on a fork.
import { spawnRun } from "../engine/runtime/spawner.js";

export class CommandError extends Error {}

/** Runs `file args` with `input` on stdin; rejects with the command's stderr on failure. */
export async function run(file: string, args: string[], input = ""): Promise<string> {
  const r = await spawnRun(file, args, input);
  if (r.error) throw new CommandError(`${file}: spawn ${file} ${r.error}`);
  if (r.code === 0) return r.stdout.toString();
  throw new CommandError(`${file} ${args.join(" ")}: ${r.stderr.toString().trim().split("\n")[0] || `exit ${r.code}`}`);
}

export const ipBatch = (lines: string[], netns?: string): Promise<string> =>
  run("ip", [...(netns ? ["-n", netns] : []), "-batch", "-"], lines.join("\n") + "\n");

export const nftBatch = (script: string): Promise<string> => run("nft", ["-f", "-"], script);
