// A node's TLS material: the root CA it trusts, its certificate and its key. It feeds grpc-js
// (as a CertificateProvider) so that a renewed certificate reaches every server and channel
// built on it for their next handshake, with nothing restarted and no connection dropped.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { experimental } from "@grpc/grpc-js";
import { writeFileAtomic } from "../../agent/engine/store/atomic.js";
import { openSecret, sealSecret } from "./encryption.js";
import type { NodeIdentity } from "./identity.js";
import { CertificateError, keyMatches, RootCA, type CertificateInfo } from "./root-ca.js";

export interface NodeTLS {
  rootCaPem: string;
  certPem: string;
  /** PKCS#8 PEM; never logged. */
  keyPem: string;
}

const FILES = { rootCa: "swarm-root-ca.crt", cert: "swarm-node.crt", key: "swarm-node.key" };

/** Checks that the certificate is the root's, valid now, and the key's; returns what it says. */
async function check(tls: NodeTLS, now: number): Promise<CertificateInfo> {
  const root = await RootCA.load(tls.rootCaPem);
  const info = root.verify(tls.certPem, now);
  if (!keyMatches(tls.certPem, tls.keyPem)) throw new CertificateError("the node's key does not belong to its certificate");
  return info;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export class NodeCertificates implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  private constructor(
    private tls: NodeTLS,
    private current: CertificateInfo,
  ) {}

  static async create(tls: NodeTLS, now = Date.now()): Promise<NodeCertificates> {
    return new NodeCertificates(tls, await check(tls, now));
  }

  /** From the data dir (the key sealed under autolock: then `unlockKey` opens it). */
  static async load(dir: string, unlockKey?: string, now = Date.now()): Promise<NodeCertificates> {
    const read = (f: string) => {
      const p = join(dir, f);
      if (!existsSync(p)) throw new CertificateError(`${p} is missing: this node has no swarm certificate; join the swarm again`);
      return readFileSync(p, "utf8");
    };
    const keyPem = openSecret(read(FILES.key), unlockKey).toString("utf8");
    return NodeCertificates.create({ rootCaPem: read(FILES.rootCa), certPem: read(FILES.cert), keyPem }, now);
  }

  /** Writes the three files (key mode 0600, sealed if `unlockKey` is given); the key last, after its certificate. */
  save(dir: string, unlockKey?: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(join(dir, FILES.rootCa), this.tls.rootCaPem, 0o644);
    writeFileAtomic(join(dir, FILES.cert), this.tls.certPem, 0o644);
    writeFileAtomic(join(dir, FILES.key), sealSecret(Buffer.from(this.tls.keyPem), unlockKey));
  }

  get identity(): NodeIdentity {
    return this.current.identity;
  }

  get certificate(): CertificateInfo {
    return this.current;
  }

  get rootCaPem(): string {
    return this.tls.rootCaPem;
  }

  get certPem(): string {
    return this.tls.certPem;
  }

  /** Replaces the material (a renewal, or a new root); refused if it does not verify. */
  async update(tls: NodeTLS, now = Date.now()): Promise<void> {
    const info = await check(tls, now);
    if (info.identity.nodeId !== this.current.identity.nodeId || info.identity.clusterId !== this.current.identity.clusterId)
      throw new CertificateError(`the new certificate names node ${info.identity.nodeId} of swarm ${info.identity.clusterId}, not this node`);
    const rootChanged = tls.rootCaPem !== this.tls.rootCaPem;
    this.tls = tls;
    this.current = info;
    if (rootChanged) for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.identityListeners) l(this.identityUpdate());
  }

  private caUpdate() {
    return { caCertificate: Buffer.from(this.tls.rootCaPem) };
  }

  // The chain sent in handshakes ends with the root, so a joining node can read it and pin it
  // against its token before it trusts anything (fetchRootCA).
  private identityUpdate() {
    return { certificate: Buffer.from(this.tls.certPem.trimEnd() + "\n" + this.tls.rootCaPem), privateKey: Buffer.from(this.tls.keyPem) };
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(listener, this.caUpdate());
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(listener, this.identityUpdate());
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
