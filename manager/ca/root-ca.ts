// The cluster's root CA: made by the first manager (ECDSA P-256, self-signed), it signs every
// node's certificate from the node's CSR. Managers hold its key; workers hold only the
// certificate, to verify with.
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, X509Certificate as NodeX509, type KeyObject } from "node:crypto";
import { bitString, children, context, DerError, oid, oidString, pem, pemBody, readTlv, seq, TAG, time, tlv, unsignedInteger } from "./der.js";
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
  /** The root's key for Node's crypto, its subject (each certificate's issuer) and key id, read once. */
  private readonly signer?: { key: KeyObject; issuer: Buffer; keyId: Buffer };

  private constructor(
    readonly certPem: string,
    private readonly cert: NodeX509,
    private readonly key: PrivateKey | undefined,
    /** PKCS#8 PEM; present on managers only. Never log it or put it in inspect output. */
    readonly keyPem: string | undefined,
  ) {
    if (keyPem !== undefined) this.signer = { key: createPrivateKey(keyPem), ...issuerOf(cert.raw) };
  }

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
    const csr = readCsr(csrPem);
    const notAfter = Math.min(now + validityMs, new Date(this.cert.validTo).getTime());
    const ou = ouOf(identity);
    const { key, issuer, keyId } = this.signer!;
    const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(TAG.OCTET_STRING, value));
    // An admin client only ever connects: its certificate cannot serve TLS.
    const usages = identity.admin ? [OID.clientAuth] : [OID.serverAuth, OID.clientAuth];
    const tbs = seq(
      context(0, true, tlv(TAG.INTEGER, Buffer.from([2]))), // v3
      unsignedInteger(Buffer.from(serialNumber(), "hex")),
      seq(oid(OID.ecdsaWithSha256)),
      issuer,
      seq(time(Math.min(now - backdate(validityMs), notAfter)), time(notAfter)),
      seq(...[[OID.cn, identity.nodeId], [OID.ou, ou], [OID.o, identity.clusterId]].map(([id, v]) => tlv(TAG.SET, seq(oid(id), directoryString(v))))),
      csr.spki,
      context(
        3,
        true,
        seq(
          extension(OID.basicConstraints, true, seq()), // not a CA
          extension(OID.keyUsage, true, tlv(TAG.BIT_STRING, Buffer.from([5, 0xa0]))), // digitalSignature, keyEncipherment
          extension(OID.extKeyUsage, false, seq(...usages.map(oid))),
          // The role and the id as DNS names too, so tools that check host names can check these.
          extension(OID.subjectAltName, false, seq(context(2, false, Buffer.from(ou, "ascii")), context(2, false, Buffer.from(identity.nodeId, "ascii")))),
          extension(OID.authorityKeyId, false, seq(context(0, false, keyId))),
          extension(OID.subjectKeyId, false, tlv(TAG.OCTET_STRING, keyIdOf(csr.publicKeyBits))),
        ),
      ),
    );
    const signature = sign("sha256", tbs, { key, dsaEncoding: "der" });
    return pem(seq(tbs, seq(oid(OID.ecdsaWithSha256)), bitString(signature)), "CERTIFICATE");
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

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  cn: "2.5.4.3",
  ou: "2.5.4.11",
  o: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  authorityKeyId: "2.5.29.35",
  subjectKeyId: "2.5.29.14",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

/** PrintableString where the value allows it (as @peculiar/x509 wrote the earlier ones), else UTF8String. */
function directoryString(v: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(v) ? tlv(TAG.PRINTABLE, Buffer.from(v, "ascii")) : tlv(TAG.UTF8, Buffer.from(v, "utf8"));
}

/** RFC 5280's key identifier: SHA-1 of the subject public key's bits. */
const keyIdOf = (publicKeyBits: Buffer): Buffer => createHash("sha1").update(publicKeyBits).digest();

/** The root certificate's subject (DER, each node certificate's issuer) and its key identifier. */
function issuerOf(certDer: Buffer): { issuer: Buffer; keyId: Buffer } {
  const tbs = children(children(readTlv(certDer).value)[0].value);
  const at = tbs[0].tag === 0xa0 ? 1 : 0; // the version is there for v3
  const spki = children(tbs[at + 5].value);
  let keyId = keyIdOf(spki[1].value.subarray(1));
  const ext = tbs.find((t) => t.tag === 0xa3);
  for (const e of ext ? children(children(ext.value)[0].value) : []) {
    const parts = children(e.value);
    // The root's own identifier, as it wrote it: a verifier matches the two byte for byte.
    if (oidString(parts[0].value) === OID.subjectKeyId) keyId = Buffer.from(readTlv(parts[parts.length - 1].value).value);
  }
  return { issuer: Buffer.from(tbs[at + 4].raw), keyId };
}

interface CertificateRequest {
  /** SubjectPublicKeyInfo, DER. */
  spki: Buffer;
  /** The public key itself (the BIT STRING's content). */
  publicKeyBits: Buffer;
}

/** A PKCS#10 request's parts, its signature not yet checked. */
function parseCsr(csrPem: string): CertificateRequest & { info: Buffer; signature: Buffer; algorithm: string } {
  try {
    const [info, algorithm, signature] = children(readTlv(pemBody(csrPem, "CERTIFICATE REQUEST")).value);
    const [, , spkiTlv] = children(info.value);
    const [alg, bits] = children(spkiTlv.value);
    const [keyType, curve] = children(alg.value);
    if (keyType.tag !== TAG.OID || oidString(keyType.value) !== OID.ecPublicKey || curve?.tag !== TAG.OID || oidString(curve.value) !== OID.p256)
      throw new CertificateError("the certificate request is not for an ECDSA P-256 key");
    if (bits.tag !== TAG.BIT_STRING || signature.tag !== TAG.BIT_STRING) throw new DerError("not a certificate request");
    return { info: info.raw, spki: Buffer.from(spkiTlv.raw), publicKeyBits: Buffer.from(bits.value.subarray(1)), algorithm: oidString(children(algorithm.value)[0].value), signature: signature.value.subarray(1) };
  } catch (err) {
    if (err instanceof CertificateError) throw err;
    throw new CertificateError(`the certificate request cannot be read: ${(err as Error).message}`);
  }
}

/**
 * SHA-256 (hex) of the public key a certificate request is for (its SPKI DER): what a join binds
 * a node id to. The request's signature is checked when it is signed (RootCA.issue).
 */
export function requestKeyDigest(csrPem: string): string {
  return createHash("sha256").update(parseCsr(csrPem).spki).digest("hex");
}

/** A CSR whose signature proves its maker holds the key, for an ECDSA P-256 key only. */
function readCsr(csrPem: string): CertificateRequest {
  const csr = parseCsr(csrPem);
  if (csr.algorithm !== OID.ecdsaWithSha256) throw new CertificateError("the certificate request is not signed with ECDSA SHA-256");
  let ok = false;
  try {
    ok = verify("sha256", csr.info, { key: createPublicKey({ key: csr.spki, format: "der", type: "spki" }), dsaEncoding: "der" }, csr.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CertificateError("the certificate request's signature does not match its key");
  return csr;
}
