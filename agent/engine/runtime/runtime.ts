// The engine's calls into the native runtime (native/build/shoal-runtime); see docs/runtime.md.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { runtimeBinary } from "./binary.js";
import { writeSpec, type ContainerSpec } from "./spec.js";
import { spawnRun } from "./spawner.js";

export interface ContainerState {
  status: "running" | "stopped";
  pid: number;
  shimPid?: number;
  exitCode?: number;
  signal?: number;
  oomKilled?: boolean;
}

/** Runs the runtime (through the spawner: no fork of the daemon); rejects with its one-line error (the failing step and errno). */
async function call(args: string[]): Promise<string> {
  const bin = runtimeBinary();
  const r = await spawnRun(bin, args);
  if (r.code === 0) return r.stdout.toString();
  const why = r.error ? `spawn ${bin} ${r.error}` : `Command failed: ${bin} ${args.join(" ")}`;
  throw new Error(r.stderr.toString().trim() || `shoal-runtime ${args[0]}: ${why}`);
}

/** Creates and starts the container under a detached shim; resolves once its process has exec'd. */
export async function start(spec: ContainerSpec, stateDir: string): Promise<{ pid: number; shimPid: number }> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const specPath = join(stateDir, "spec");
  await writeSpec(spec, specPath);
  // It prints "PID SHIMPID" (the same numbers as the state dir's pid and shim.pid files).
  const out = await call(["start", specPath, stateDir]);
  const printed = /^(\d+) (\d+)\s*$/.exec(out);
  if (!printed) throw new Error(`shoal-runtime start printed ${JSON.stringify(out.trim())}, not PID SHIMPID: is native/build up to date? (npm run build:native)`);
  return { pid: Number(printed[1]), shimPid: Number(printed[2]) };
}

export async function kill(stateDir: string, signal: string | number): Promise<void> {
  await call(["kill", stateDir, String(signal)]);
}

export async function state(stateDir: string): Promise<ContainerState> {
  return JSON.parse(await call(["state", stateDir])) as ContainerState;
}

/** Kills the container if running, removes its cgroups and state dir (all but the log with keepLog). */
export async function deleteContainer(stateDir: string, opts: { keepLog?: boolean } = {}): Promise<void> {
  await call(opts.keepLog ? ["delete", "--keep-log", stateDir] : ["delete", stateDir]);
}

export interface ExecOptions {
  env?: string[];
  cwd?: string;
  /** "uid[:gid]"; default the container init's. */
  user?: string;
}

/** Runs args inside the running container; its stdio are the returned process's pipes. */
export function exec(stateDir: string, args: string[], opts: ExecOptions = {}): ChildProcess {
  const argv = ["exec", stateDir];
  for (const e of opts.env ?? []) argv.push("--env", e);
  if (opts.cwd) argv.push("--cwd", opts.cwd);
  if (opts.user) argv.push("--user", opts.user);
  argv.push("--", ...args);
  return spawn(runtimeBinary(), argv, { stdio: "pipe" });
}

/** Creates, runs, waits for and deletes a container in the foreground (stdio inherited or piped). */
export function run(specPath: string, stdio: "inherit" | "pipe" | "ignore" = "pipe"): ChildProcess {
  return spawn(runtimeBinary(), ["run", specPath], { stdio });
}

export function logPath(stateDir: string): string {
  return join(stateDir, "log");
}
