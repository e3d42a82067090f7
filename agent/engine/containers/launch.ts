// What the engine asks of the native runtime for one container, in the engine's own terms; the
// one place that translates to the runtime binding (agent/engine/runtime).
export interface LaunchMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface LaunchSpec {
  id: string;
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  hostname: string;
  lowerDirs: string[]; // lowest first
  upperDir: string;
  workDir: string;
  mounts: LaunchMount[];
  /** "new" (isolated, loopback only), "host", or a netns path to join. */
  netns: string;
  cgroupParent: string;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
}

export interface ExitStatus {
  exitCode: number;
  oomKilled: boolean;
}

/** The runtime operations the engine uses (implemented over agent/engine/runtime in runtime-port.ts). */
export interface RuntimePort {
  start(spec: LaunchSpec, stateDir: string): Promise<{ pid: number; shimPid: number }>;
  /** Resolves when the container exits (at once if it already has); works for a container started by an earlier daemon. */
  watchExit(stateDir: string): Promise<ExitStatus>;
  kill(stateDir: string, signal: string): Promise<void>;
  /** Frees what the runtime holds for an exited container (cgroups, shim state); keeps the log. */
  cleanup(stateDir: string): Promise<void>;
  exec(stateDir: string, args: string[], opts: { env: string[]; cwd: string; user: string }): import("node:child_process").ChildProcess;
  logPath(stateDir: string): string;
}

/** What the engine needs of the image store. */
export interface ImagePort {
  resolve(ref: string): Promise<{ id: string; layerDirs: string[]; config: ImageConfig }>;
}

export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
}
