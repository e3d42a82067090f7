// When a node asks for a new certificate: pure decisions, no clock or timer of their own.
import type { NodeRole } from "../../proto/gen/cluster.js";
import type { CertificateInfo } from "./root-ca.js";

/**
 * The time to renew a certificate: a random point between 50% and 80% of its validity, as
 * swarmkit does. Random, so the nodes of a cluster that joined together do not all ask at once;
 * before 80%, so a manager that is down for a while still leaves time to retry.
 * `random` is uniform in [0, 1).
 */
export function renewalTime(cert: Pick<CertificateInfo, "notBefore" | "notAfter">, random: number): number {
  const validity = cert.notAfter - cert.notBefore;
  return cert.notBefore + Math.floor(validity * (0.5 + 0.3 * Math.min(Math.max(random, 0), 1)));
}

/**
 * Whether to ask now: the renewal time has come, or the node's desired role (from the store, via
 * its session) is not the one its certificate names (promotion or demotion: at once).
 */
export function renewalDue(cert: CertificateInfo, renewAt: number, now: number, desiredRole?: NodeRole): boolean {
  return now >= renewAt || (desiredRole !== undefined && desiredRole !== cert.identity.role);
}

/** After `failures` failed attempts in a row: back off from 1 s, doubling, to a twentieth of the validity (5 min at most). */
export function retryDelay(failures: number, validityMs: number): number {
  const cap = Math.min(5 * 60_000, Math.max(1000, Math.floor(validityMs / 20)));
  return Math.min(cap, 1000 * 2 ** Math.min(Math.max(failures - 1, 0), 20));
}
