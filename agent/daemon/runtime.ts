// The engine's runtime port over the native runtime binding (agent/engine/runtime): the one
// place that translates the engine's LaunchSpec into the runtime's ContainerSpec.
import { dirname, join } from "node:path";
import type { LaunchSpec, RuntimePort } from "../engine/containers/launch.js";
import { resolveUser } from "../engine/containers/user.js";
import * as rt from "../engine/runtime/index.js";

const topFirst = (l: { upperDir: string; lowerDirs: string[] }) => [l.upperDir, ...[...l.lowerDirs].reverse()];

export function toContainerSpec(l: LaunchSpec): rt.ContainerSpec {
  const ids = resolveUser(l.user, topFirst(l));
  return {
    id: l.id,
    args: l.args,
    env: l.env,
    cwd: l.cwd,
    user: { uid: ids.uid, gid: ids.gid },
    hostname: l.hostname,
    rootfs: { lowerDirs: l.lowerDirs, upperDir: l.upperDir, workDir: l.workDir, mountPoint: join(dirname(l.upperDir), "merged") },
    mounts: l.mounts,
    netns: l.netns,
    memoryBytes: l.memoryBytes || undefined,
    cpu: l.nanoCpus ? rt.cpusToQuota(l.nanoCpus / 1e9) : undefined,
    pidsMax: l.pidsLimit || undefined,
    cgroupParent: l.cgroupParent,
  };
}

export async function nativeRuntime(): Promise<RuntimePort> {
  rt.runtimeBinary(); // fails now, with what to do, if native/ is not built
  return {
    start: (spec, stateDir) => rt.start(toContainerSpec(spec), stateDir),
    watchExit: async (stateDir) => {
      const e = await rt.watchExit(stateDir).exited;
      return { exitCode: e.exitCode, oomKilled: e.oomKilled };
    },
    kill: (stateDir, signal) => rt.kill(stateDir, signal),
    cleanup: (stateDir) => rt.deleteContainer(stateDir, { keepLog: true }),
    // The engine passes users as numeric uid:gid, resolved against the container's rootfs.
    exec: (stateDir, args, opts) => rt.exec(stateDir, args, { env: opts.env, cwd: opts.cwd, user: opts.user || undefined }),
    logPath: (stateDir) => rt.logPath(stateDir),
  };
}
