// The lab's registry: Debian's docker-registry on the bridge's gateway address, storing under
// the lab's state dir, run in the lab's freezer cgroup so `down` ends it even after a crash.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCgroup } from "./cgroup.js";
import { hostDir, type LabState } from "./state.js";

export const REGISTRY_BIN = "/usr/bin/docker-registry";
export const registryCgroup = (lab: LabState): string => join(lab.freezer, "registry");

/**
 * A docker-registry config: filesystem storage with deletes allowed, quiet logs, and basic auth
 * when an htpasswd file is given. Shared by the lab's registry and the tests' registries.
 */
export function registryConfig(o: { dataDir: string; addr: string; htpasswd?: string; secret?: string }): string {
  const auth = o.htpasswd ? `auth:\n  htpasswd:\n    realm: shoal\n    path: ${o.htpasswd}\n` : "";
  const secret = o.secret ? `  secret: ${o.secret}\n` : "";
  return `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${o.dataDir}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: ${o.addr}
${secret}${auth}`;
}

export function startRegistry(lab: LabState): number {
  const dir = hostDir(lab, "registry");
  mkdirSync(join(dir, "data"), { recursive: true });
  const config = join(dir, "config.yml");
  writeFileSync(config, registryConfig({ dataDir: join(dir, "data"), addr: lab.registry }));
  makeCgroup(registryCgroup(lab));
  const log = openSync(join(dir, "registry.log"), "a");
  // The shell joins the cgroup before exec, so no registry process ever runs outside it.
  const child = spawn("sh", ["-c", `echo $$ > ${registryCgroup(lab)}/cgroup.procs && exec ${REGISTRY_BIN} serve ${config}`], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  return child.pid!;
}

/** Waits for the registry's API, then pushes busybox:1 and busybox:2 (as a mirror stores them). */
export async function fillRegistry(lab: LabState, deadline: number): Promise<void> {
  for (;;) {
    try {
      const r = await fetch(`http://${lab.registry}/v2/`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the lab registry on ${lab.registry} did not answer: see ${hostDir(lab, "registry")}/registry.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { busyboxWeb, pushImage } = await import("../test/support/images.js");
  await pushImage(await busyboxWeb(1), lab.registry, "library/busybox:1");
  await pushImage(await busyboxWeb(2), lab.registry, "library/busybox:2");
}
