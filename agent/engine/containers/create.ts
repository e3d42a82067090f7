// Turning a user's container config and its image into a container record, refusing bad input
// before anything is written.
import { isAbsolute } from "node:path";
import type { ContainerConfig } from "../../../proto/gen/engine.js";
import { invalid } from "../errors.js";
import { VolumeStore } from "../volumes/store.js";
import type { ImageConfig } from "./launch.js";
import { freshState, type ContainerRecord } from "./record.js";

export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/** Env entries later in the list replace earlier ones with the same key. */
export function mergeEnv(...lists: string[][]): string[] {
  const out = new Map<string, string>();
  for (const list of lists) for (const e of list) out.set(e.split("=")[0], e);
  return [...out.values()];
}

export function validateConfig(c: ContainerConfig): void {
  if (!["bridge", "host", "none"].includes(c.networkMode)) throw invalid(`unknown network ${c.networkMode}: use bridge, host or none`);
  if (c.ports.length > 0 && c.networkMode !== "bridge") throw invalid(`published ports need --network bridge (got ${c.networkMode})`);
  if (c.memoryBytes !== 0 && c.memoryBytes < MIN_MEMORY_BYTES) throw invalid(`memory limit ${c.memoryBytes} bytes is too small: the minimum is 6m`);
  if (c.nanoCpus < 0 || c.pidsLimit < 0) throw invalid("cpus and pids-limit must not be negative");
  const policy = c.restartPolicy?.name ?? "no";
  if (c.autoRemove && policy !== "no") throw invalid("--rm and --restart cannot be used together");
  for (const m of c.mounts) {
    if (!isAbsolute(m.destination) || m.destination === "/") throw invalid(`invalid mount destination ${m.destination}: use an absolute path other than /`);
    if (m.type === "bind" && !isAbsolute(m.source)) throw invalid(`invalid bind source ${m.source}: use an absolute host path`);
    if (m.type === "volume" && !VolumeStore.validName(m.source)) throw invalid(`invalid volume name ${m.source}: use letters, digits, _ . -`);
    if (m.type !== "bind" && m.type !== "volume") throw invalid(`unknown mount type ${m.type}`);
  }
}

export function buildRecord(id: string, name: string, c: ContainerConfig, imageId: string, layerDirs: string[], img: ImageConfig): ContainerRecord {
  const entrypoint = c.entrypointSet ? c.entrypoint : (img.Entrypoint ?? []);
  const cmd = c.cmd.length > 0 ? c.cmd : c.entrypointSet ? [] : (img.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalid(`no command specified: image ${c.image} has none, give one after the image name`);
  const hostname = c.hostname || (c.networkMode === "host" ? "" : id.slice(0, 12));
  return {
    id,
    name,
    created: new Date().toISOString(),
    image: c.image,
    imageId,
    config: c,
    process: {
      args,
      env: mergeEnv(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], img.Env ?? [], hostname ? [`HOSTNAME=${hostname}`] : [], c.env),
      cwd: c.workingDir || img.WorkingDir || "/",
      user: c.user || img.User || "",
      hostname,
    },
    layerDirs,
    state: freshState(),
    restartCount: 0,
    stoppedByUser: false,
    network: null,
  };
}
