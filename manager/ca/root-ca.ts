// The cluster's root CA: made by the first manager (ECDSA P-256, self-signed), it signs every
// node's certificate from the node's CSR. Managers hold its key; workers hold only the
// certificate, to verify with.
import { createHash, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509, type KeyObject } from "node:crypto";
import { checkId, identityOf, ouOf, type NodeIdentity } from "./identity.js";
import { EC_P256, exportPrivateKey, generateKeyPair, importPrivateKey, x509, type PrivateKey } from "./x509.js";

const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * DAY_MS;
export const ROOT_CA_VALIDITY_MS = 20 * 365 * DAY_MS;
/**
 * Certificates start a little in the past, so a node whose clock is behind accepts them at once:
 * 5 minutes, or a tenth of the validity for short ones (so renewal, timed over the whole
 * validity, still falls after the issue).
 */
const backdate = (validityMs: number) => Math.min(5 * 60 * 1000, Math.floor(validityMs / 10));
/** Shorter validity would renew faster than a node can ask; tests use seconds, nothing less. */
const MIN_VALIDITY_MS = 1000;
const ROOT_CN = "swarm-ca";

/** What a node certificate says, once read. */
export interface CertificateInfo {
  identity: NodeIdentity;
  notBefore: number;
  notAfter: number;
  serial: string;
}

export class CertificateError extends Error {}

/** SHA-256 of the certificate's DER: what a join token's digest is made from. */
export function caDigest(certPem: string): Buffer {
  return createHash("sha256").update(new NodeX509(certPem).raw).digest();
}

function serialNumber(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // a positive INTEGER, as RFC 5280 asks
  b[0] |= 0x01; // and no leading zero byte to be dropped
  return b.toString("hex");
}

/** Reads a node certificate's identity and validity; nothing is verified here (see RootCA.verify). */
export function readCertificate(certPem: string): CertificateInfo {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new CertificateError(`not a certificate: ${(err as Error).message}`);
  }
  const field = (name: string) => {
    const values = cert.subjectName.getField(name);
    return values.length === 1 ? values[0] : undefined;
  };
  const identity = identityOf({ CN: field("CN"), OU: field("OU"), O: field("O") });
  if (!identity) throw new CertificateError(`certificate "${cert.subject}" does not name a node of a swarm (CN node id, OU role, O cluster id)`);
  return { identity, notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime(), serial: cert.serialNumber };
}

export class RootCA {
  private constructor(
    readonly certPem: string,
    private readonly cert: NodeX509,
    private readonly key: PrivateKey | undefined,
    /** PKCS#8 PEM; present on managers only. Never log it or put it in inspect output. */
    readonly keyPem: string | undefined,
  ) {}

  /** A new root: what `swarm init` makes once for the cluster's lifetime. */
  static async create(now = Date.now()): Promise<RootCA> {
    const keys = await generateKeyPair();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialNumber(),
      name: [{ CN: [ROOT_CN] }],
      notBefore: new Date(now - backdate(ROOT_CA_VALIDITY_MS)),
      notAfter: new Date(now + ROOT_CA_VALIDITY_MS),
      signingAlgorithm: EC_P256,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const certPem = cert.toString("pem");
    return new RootCA(certPem, new NodeX509(certPem), keys.privateKey, await exportPrivateKey(keys.privateKey));
  }

  /** A root from its PEM certificate, and its key where this node may sign (managers). */
  static async load(certPem: string, keyPem?: string): Promise<RootCA> {
    let cert: NodeX509;
    try {
      cert = new NodeX509(certPem);
    } catch (err) {
      throw new CertificateError(`the root CA certificate cannot be read: ${(err as Error).message}`);
    }
    if (!cert.ca || !cert.checkIssued(cert) || !cert.verify(cert.publicKey))
      throw new CertificateError("the root CA certificate is not a self-signed CA certificate");
    if (keyPem === undefined) return new RootCA(certPem, cert, undefined, undefined);
    const key = await importPrivateKey(keyPem).catch((err: Error) => {
      throw new CertificateError(`the root CA key cannot be read: ${err.message}`);
    });
    if (!keyMatches(cert, keyPem))
      throw new CertificateError("the root CA key does not belong to the root CA certificate");
    return new RootCA(certPem, cert, key, keyPem);
  }

  get digest(): Buffer {
    return createHash("sha256").update(this.cert.raw).digest();
  }

  get canSign(): boolean {
    return this.key !== undefined;
  }

  /**
   * Signs a node certificate for the key in `csrPem` (the joining node made both; the CSR's own
   * subject is ignored): CN node id, OU role, O cluster id, valid `validityMs` from `now`; or an
   * admin client's (CN its name, OU swarm-admin, for client authentication only).
   * The caller has already decided the identity: from a checked join token, or from the
   * node's current certificate when it renews.
   */
  async issue(csrPem: string, identity: NodeIdentity, opts: { validityMs?: number; now?: number } = {}): Promise<string> {
    if (!this.key) throw new CertificateError("this node holds no root CA key: only managers sign certificates");
    checkId(identity.admin ? "client name" : "node id", identity.nodeId);
    checkId("cluster id", identity.clusterId);
    const validityMs = opts.validityMs || DEFAULT_NODE_CERT_VALIDITY_MS;
    if (validityMs < MIN_VALIDITY_MS) throw new CertificateError(`certificate validity ${validityMs} ms is too short: at least ${MIN_VALIDITY_MS} ms`);
    const now = opts.now ?? Date.now();
    const csr = await readCsr(csrPem);
    const notAfter = Math.min(now + validityMs, new Date(this.cert.validTo).getTime());
    const ou = ouOf(identity);
    // An admin client only ever connects: its certificate cannot serve TLS.
    const usages = identity.admin ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: [{ CN: [identity.nodeId] }, { OU: [ou] }, { O: [identity.clusterId] }],
      issuer: new x509.X509Certificate(this.certPem).subjectName,
      notBefore: new Date(Math.min(now - backdate(validityMs), notAfter)),
      notAfter: new Date(notAfter),
      signingAlgorithm: EC_P256,
      publicKey: csr.publicKey,
      signingKey: this.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(usages),
        // The role and the id as DNS names too, so tools that check host names can check these.
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: ou }, { type: "dns", value: identity.nodeId }]),
        await x509.AuthorityKeyIdentifierExtension.create(await publicKeyOf(this.cert)),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      ],
    });
    return cert.toString("pem");
  }

  /** Checks that this root signed `certPem` and that it is valid at `now`; returns what it says. */
  verify(certPem: string, now = Date.now()): CertificateInfo {
    let cert: NodeX509;
    try {
      cert = new NodeX509(certPem);
    } catch (err) {
      throw new CertificateError(`not a certificate: ${(err as Error).message}`);
    }
    if (!cert.checkIssued(this.cert) || !cert.verify(this.cert.publicKey))
      throw new CertificateError("the certificate was not issued by this swarm's root CA");
    const info = readCertificate(certPem);
    if (now < info.notBefore) throw new CertificateError(`the certificate is not valid before ${new Date(info.notBefore).toISOString()}: check this machine's clock`);
    if (now >= info.notAfter) throw new CertificateError(`the certificate expired at ${new Date(info.notAfter).toISOString()}`);
    return info;
  }
}

/** Whether the private key `keyPem` is the one whose public half `cert` carries. */
export function keyMatches(cert: NodeX509 | string, keyPem: string): boolean {
  const c = typeof cert === "string" ? new NodeX509(cert) : cert;
  const spki = (k: KeyObject) => k.export({ type: "spki", format: "der" });
  try {
    return spki(createPublicKey(keyPem)).equals(spki(c.publicKey));
  } catch {
    return false;
  }
}

async function publicKeyOf(cert: NodeX509) {
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return webcrypto.subtle.importKey("spki", spki, EC_P256, true, ["verify"]);
}

/**
 * SHA-256 (hex) of the public key a certificate request is for (its SPKI DER): what a join binds
 * a node id to. The request's signature is checked when it is signed (RootCA.issue).
 */
export function requestKeyDigest(csrPem: string): string {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CertificateError(`the certificate request cannot be read: ${(err as Error).message}`);
  }
  return createHash("sha256").update(Buffer.from(csr.publicKey.rawData)).digest("hex");
}

/** A CSR whose signature proves its maker holds the key, for an ECDSA P-256 key only. */
async function readCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CertificateError(`the certificate request cannot be read: ${(err as Error).message}`);
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== "ECDSA" || alg.namedCurve !== "P-256") throw new CertificateError("the certificate request is not for an ECDSA P-256 key");
  if (!(await csr.verify())) throw new CertificateError("the certificate request's signature does not match its key");
  return csr;
}
