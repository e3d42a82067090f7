// The routing mesh's return path, as routing rules on a replica's node. A connection another
// node forwarded here is marked (rules.ts, chain mesh_return) with the low four bytes of that
// node's ingress bridge MAC, which are its address on the ingress network; its replies carry
// the mark, and one rule and table per peer node send them back through the node that took the
// connection, which un-NATs them. The rule matches only traffic arriving from the ingress
// bridge, so the tunnel's own packets (locally made) never follow it.
import { endianness } from "node:os";
import { parseIp } from "../ipv4.js";
import { bestEffort, ipJson } from "../overlay/exec.js";
import { ipBatch } from "../cmd.js";

const RULE_PREF = 900;

/**
 * The mark nftables stores for a frame from the node at `ip`: the address's four bytes copied
 * into a host-order number (the same value as the routing table's id).
 */
export function meshMark(ip: string): number {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIp(ip));
  const mark = endianness() === "LE" ? b.readUInt32LE(0) : b.readUInt32BE(0);
  // 0 is no mark; 253-255 are the kernel's default, main and local tables.
  if (mark === 0 || (mark >= 253 && mark <= 255)) throw new Error(`ingress address ${ip} cannot name a routing table: use another ingress subnet`);
  return mark;
}

/** Makes the rules and tables for exactly these peer nodes (their ingress addresses) on `bridge`. */
export async function setMeshReturn(bridge: string, nodeIps: string[]): Promise<void> {
  const rules = (await ipJson<{ priority?: number; iif?: string; fwmark?: string; table?: string }[]>(["rule", "show"])) ?? [];
  const have = new Set(rules.filter((r) => r.priority === RULE_PREF && r.iif === bridge && r.fwmark).map((r) => Number(r.fwmark)));
  const want = new Map(nodeIps.map((ip) => [meshMark(ip), ip]));
  const stale = [...have].filter((m) => !want.has(m));
  await bestEffort("ip", stale.flatMap((m) => [`rule del pref ${RULE_PREF} iif ${bridge} fwmark ${m} table ${m}`, `route flush table ${m}`]));
  const lines: string[] = [];
  for (const [mark, ip] of want) {
    // Routes go with the bridge when it is deleted: put back on every call.
    lines.push(`route replace default via ${ip} dev ${bridge} onlink table ${mark}`);
    if (!have.has(mark)) lines.push(`rule add pref ${RULE_PREF} iif ${bridge} fwmark ${mark} table ${mark}`);
  }
  if (lines.length > 0) await ipBatch(lines);
}

/** Every rule and table of the mesh's return path on `bridge`. */
export const clearMeshReturn = (bridge: string): Promise<void> => setMeshReturn(bridge, []);
