// Join tokens, as swarmkit makes them: SWMTKN-1-<digest>-<secret>. The digest is the SHA-256
// of the root CA certificate (base36, 50 characters): a joining node pins the CA by it on first
// contact. The secret (128 random bits, base36, 25 characters) decides the role: the cluster
// keeps one token per role, and rotating a token makes a new secret, so the old one stops
// working for new joins.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { NodeRole, type Cluster } from "../../proto/gen/cluster.js";
import { caDigest } from "./root-ca.js";

const PREFIX = "SWMTKN-1-";
const DIGEST_CHARS = 50;
const SECRET_CHARS = 25;
const TOKEN = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

export interface JoinToken {
  /** The root CA's digest, base36. */
  digest: string;
  secret: string;
}

export class JoinTokenError extends Error {}
/** The manager reached presented a root CA other than the one the token names. */
export class CAMismatchError extends Error {}

function base36(b: Buffer, len: number): string {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n.toString(36).padStart(len, "0");
}

/**
 * A new token for the swarm whose root CA certificate is `rootCaPem`. Callers from before the CA
 * existed pass another string (the cluster id): its digest then stands in, and pins nothing.
 */
export function makeJoinToken(rootCaPem: string): string {
  const digest = rootCaPem.includes("-----BEGIN CERTIFICATE-----") ? caDigest(rootCaPem) : createHash("sha256").update(rootCaPem).digest();
  return `${PREFIX}${base36(digest, DIGEST_CHARS)}-${base36(randomBytes(16), SECRET_CHARS)}`;
}

/** The token's parts; throws JoinTokenError, in words a user can act on, if it is malformed. */
export function checkJoinToken(token: string): JoinToken {
  const m = TOKEN.exec(token.trim());
  if (!m) throw new JoinTokenError('invalid join token: it should look like SWMTKN-1-…; copy it again from "shoal swarm join-token worker" on a manager');
  return { digest: m[1], secret: m[2] };
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The role `token` grants in `cluster`, or undefined (wrong, rotated out, or another swarm's). */
export function tokenRole(cluster: Cluster, token: string): NodeRole | undefined {
  const t = token.trim();
  if (cluster.joinTokens?.worker && same(cluster.joinTokens.worker, t)) return NodeRole.NODE_ROLE_WORKER;
  if (cluster.joinTokens?.manager && same(cluster.joinTokens.manager, t)) return NodeRole.NODE_ROLE_MANAGER;
  return undefined;
}

/**
 * The joining node's pin: accepts the root CA a manager presented only if it is the one the
 * token names. Throws CAMismatchError otherwise, and JoinTokenError for a malformed token.
 */
export function verifyRootCA(rootCaPem: string, token: string): void {
  const { digest } = checkJoinToken(token);
  let presented: string;
  try {
    presented = base36(caDigest(rootCaPem), DIGEST_CHARS);
  } catch {
    throw new CAMismatchError("the manager presented no readable root CA certificate: check the address you join");
  }
  if (!same(presented, digest))
    throw new CAMismatchError("the manager's root CA does not match the join token: the token is for another swarm, or something between you and the manager is impersonating it; check the address and the token (shoal swarm join-token on a manager)");
}
