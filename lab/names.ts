// Names and addresses of one lab, all derived from its name so that two labs never share a
// bridge, subnet, namespace, veth, nftables table, cgroup or state directory.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";

export const LAB_ROOT = "/var/lib/shoal-lab";
export const FREEZER = "/sys/fs/cgroup/freezer/shoal-lab";
export const REGISTRY_PORT = 5000;

const short = (s: string, n: number): string => createHash("sha256").update(s).digest("hex").slice(0, n);

export function checkLabName(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) {
    throw new Error(`bad lab name "${name}": use 1-20 lowercase letters, digits or dashes`);
  }
  return name;
}

/** Interface names are at most 15 bytes: `sl-<name>` when it fits, else a hash. */
export const bridgeName = (lab: string): string => (lab.length <= 12 ? `sl-${lab}` : `sl-${short(lab, 12)}`);
/** Host end of a lab host's veth (the namespace end is eth0). */
export const vethName = (lab: string, host: string): string => `sv${short(lab, 7)}${host.slice(lab.length + 1)}`;
export const nftTableName = (lab: string): string => `shoal-lab-${lab}`;
export const hostNames = (lab: string, managers: number, workers: number): { name: string; role: "manager" | "worker" }[] => [
  ...Array.from({ length: managers }, (_, i) => ({ name: `${lab}-m${i + 1}`, role: "manager" as const })),
  ...Array.from({ length: workers }, (_, i) => ({ name: `${lab}-w${i + 1}`, role: "worker" as const })),
];

/** The /24 prefixes ("10.a.b") routed or addressed on this host right now. */
function usedPrefixes(): Set<string> {
  const out = execFileSync("ip", ["-4", "-o", "route", "show", "table", "all"], { encoding: "utf8" });
  const used = new Set<string>();
  for (const m of out.matchAll(/(\d+\.\d+\.\d+)\.\d+(\/\d+)?/g)) used.add(m[1]);
  return used;
}

/**
 * A /24 in 10.128.0.0/9 for this lab: the first free one from a start fixed by the name's hash,
 * so the same lab gets the same subnet whenever it is free. `taken` are other labs' prefixes.
 */
export function pickSubnet(lab: string, taken: Set<string>): string {
  const used = usedPrefixes();
  const start = parseInt(short(lab, 8), 16) % (128 * 256);
  for (let i = 0; i < 128 * 256; i++) {
    const n = (start + i) % (128 * 256);
    const prefix = `10.${128 + (n >> 8)}.${n & 255}`;
    if (!used.has(prefix) && !taken.has(prefix)) return prefix;
  }
  throw new Error("no free /24 left in 10.128.0.0/9 for a lab: remove some routes or labs");
}
