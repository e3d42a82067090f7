// PLACEHOLDER until the controlapi helper's version lands.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { NodeRole, type Cluster } from "../../proto/gen/cluster.js";

function base36(b: Buffer, len: number): string {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n.toString(36).padStart(len, "0").slice(0, len);
}

export function makeJoinToken(caFingerprint: string): string {
  return `SWMTKN-1-${base36(createHash("sha256").update(caFingerprint).digest(), 50)}-${base36(randomBytes(16), 25)}`;
}

export function checkJoinToken(token: string): void {
  if (!/^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/.test(token)) throw new Error('invalid join token: it should look like SWMTKN-1-…; copy it again from "shoal swarm join-token worker" on a manager');
}

export function tokenRole(cluster: Cluster, token: string): NodeRole | undefined {
  const eq = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
  if (cluster.joinTokens && eq(cluster.joinTokens.worker, token)) return NodeRole.NODE_ROLE_WORKER;
  if (cluster.joinTokens && eq(cluster.joinTokens.manager, token)) return NodeRole.NODE_ROLE_MANAGER;
  return undefined;
}
