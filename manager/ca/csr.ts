// The joining (or renewing) node's side of issuing: it makes its own key, which never leaves
// it, and sends only a certificate request. The manager decides the name in the certificate.
import { EC_P256, exportPrivateKey, generateKeyPair, x509 } from "./x509.js";

export interface NodeKey {
  /** PKCS#8 PEM. Kept in the node's data dir (sealed under autolock); never sent, never logged. */
  keyPem: string;
  csrPem: string;
}

export async function createNodeKey(): Promise<NodeKey> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: ["shoal-node"] }], keys, signingAlgorithm: EC_P256 });
  return { keyPem: await exportPrivateKey(keys.privateKey), csrPem: csr.toString("pem") };
}
