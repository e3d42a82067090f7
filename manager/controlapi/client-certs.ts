// `swarm ca --client-cert NAME`: an admin client's certificate, signed with the swarm's root CA
// for the key the client made (it sends only a CSR), valid as long as a node certificate. Its
// holder may use this API from anywhere that reaches a manager's cluster port (ca/access.ts).
import type { Cluster } from "../../proto/gen/cluster.js";
import type { IssueClientCertificateRequest, IssueClientCertificateResponse } from "../../proto/gen/swarm.js";
import { adminIdentity, checkId } from "../ca/identity.js";
import { CertificateError } from "../ca/root-ca.js";
import type { ClusterSigner } from "../ca/signer.js";
import { invalid } from "./errors.js";

export async function issueClientCertificate(signer: ClusterSigner, cluster: Cluster, req: IssueClientCertificateRequest): Promise<IssueClientCertificateResponse> {
  try {
    checkId("client name", req.name);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (!req.csr) throw invalid("the request carries no certificate request: make a key and a CSR for it (shoal swarm ca --client-cert does)");
  try {
    const s = await signer.sign(cluster, req.csr, adminIdentity(req.name, cluster.id));
    return { certificate: s.certificate, rootCa: s.rootCa };
  } catch (err) {
    throw err instanceof CertificateError ? invalid(err.message) : err;
  }
}
