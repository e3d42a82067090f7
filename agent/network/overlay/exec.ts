// Commands inside another network namespace named by its path (a container's), and batches that
// must not stop at the first failure (removing what may already be gone).
import { run } from "../cmd.js";

/** `ip -batch` inside the namespace at netnsPath. */
export const ipIn = (netnsPath: string, lines: string[]): Promise<string> => run("nsenter", [`--net=${netnsPath}`, "ip", "-batch", "-"], lines.join("\n") + "\n");

/** `ip -j ARGS` inside the namespace at netnsPath (or here), parsed; undefined when the command fails. */
export async function ipJson<T>(args: string[], netnsPath?: string): Promise<T | undefined> {
  const cmd = netnsPath ? run("nsenter", [`--net=${netnsPath}`, "ip", "-j", ...args]) : run("ip", ["-j", ...args]);
  return cmd.then((out) => JSON.parse(out || "null") as T).catch(() => undefined);
}

/** Runs each line on its own and ignores failures: for removing what may not exist any more. */
export async function bestEffort(file: "ip" | "bridge", lines: string[], netnsPath?: string): Promise<void> {
  if (lines.length === 0) return;
  const args = [file, "-force", "-batch", "-"];
  const [cmd, ...rest] = netnsPath ? ["nsenter", `--net=${netnsPath}`, ...args] : args;
  await run(cmd, rest, lines.join("\n") + "\n").catch(() => undefined);
}

export const bridgeBatch = (lines: string[]): Promise<string> => run("bridge", ["-batch", "-"], lines.join("\n") + "\n");
