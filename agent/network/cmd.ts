// Runs `ip` and `nft` with a batch on stdin: one process per step keeps per-container cost low.
import { spawn } from "node:child_process";

export class CommandError extends Error {}

/** Runs `file args` with `input` on stdin; rejects with the command's stderr on failure. */
export function run(file: string, args: string[], input = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [input ? "pipe" : "ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) => reject(new CommandError(`${file}: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(out);
      else reject(new CommandError(`${file} ${args.join(" ")}: ${err.trim().split("\n")[0] || `exit ${code}`}`));
    });
    if (input) {
      child.stdin!.on("error", () => undefined); // a command that exits early reports through its status
      child.stdin!.end(input);
    }
  });
}

export const ipBatch = (lines: string[], netns?: string): Promise<string> =>
  run("ip", [...(netns ? ["-n", netns] : []), "-batch", "-"], lines.join("\n") + "\n");

export const nftBatch = (script: string): Promise<string> => run("nft", ["-f", "-"], script);
