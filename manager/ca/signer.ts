// A manager signing node certificates with the swarm's root CA as its store holds it: for a
// join (the identity from the checked token) and for a renewal (from the caller's current
// certificate and the store's role). The validity is the cluster's setting at signing time.
import type { Cluster } from "../../proto/gen/cluster.js";
import type { NodeIdentity } from "./identity.js";
import { CertificateError, RootCA } from "./root-ca.js";

/** Shorter certificates would be renewed faster than a busy swarm can sign; docker's floor is an hour. */
export const MIN_NODE_CERT_VALIDITY_MS = 60_000;

/** Refuses a validity setting (0: the default, 90 days) below the floor. */
export function checkNodeCertValidity(ms: number): void {
  if (ms !== 0 && ms < MIN_NODE_CERT_VALIDITY_MS) throw new CertificateError(`a certificate validity of ${ms} ms is too short: use at least 1m`);
}

export interface Signed {
  certificate: string;
  rootCa: string;
}

export class ClusterSigner {
  private loaded?: { certPem: string; root: Promise<RootCA> };
  /** The signing before this one: they run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Signs after every signing asked before it. Building a certificate is mostly synchronous work
   * on the manager's one thread: a burst of joins signed at once held a leader's thread long
   * enough (hundreds of ms for 200) for its followers to elect another. One at a time, with the
   * event loop let through between them, Raft's heartbeats keep going.
   */
  sign(cluster: Cluster, csrPem: string, who: Omit<NodeIdentity, "clusterId">): Promise<Signed> {
    const turn = this.queue.then(() => new Promise((r) => setImmediate(r))).then(() => this.signNow(cluster, csrPem, who));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async signNow(cluster: Cluster, csrPem: string, who: Omit<NodeIdentity, "clusterId">): Promise<Signed> {
    const ca = cluster.rootCa;
    if (!ca?.certPem || !ca.keyPem) throw new CertificateError("this swarm has no root CA key in its store: it was made by a shoal without a CA; make a new swarm");
    if (this.loaded?.certPem !== ca.certPem) {
      const root = RootCA.load(ca.certPem, ca.keyPem);
      root.catch(() => undefined);
      this.loaded = { certPem: ca.certPem, root };
    }
    const root = await this.loaded.root;
    const certificate = await root.issue(csrPem, { ...who, clusterId: cluster.id }, { validityMs: cluster.spec?.ca?.nodeCertExpiryMs || undefined });
    return { certificate, rootCa: ca.certPem };
  }
}
