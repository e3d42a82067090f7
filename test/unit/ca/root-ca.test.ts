// The root CA: creating it, signing node certificates from CSRs, and verifying them.
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { createNodeKey } from "../../../manager/ca/csr.js";
import { identityOf, MANAGER_OU, WORKER_OU } from "../../../manager/ca/identity.js";
import { caDigest, CertificateError, DEFAULT_NODE_CERT_VALIDITY_MS, readCertificate, RootCA } from "../../../manager/ca/root-ca.js";
import { NodeRole } from "../../../proto/gen/cluster.js";
import { CLUSTER, issued, manager, worker } from "./fixtures.js";

let root: RootCA;
let other: RootCA;
beforeAll(async () => {
  [root, other] = await Promise.all([RootCA.create(), RootCA.create()]);
});

describe("the root CA", () => {
  it("is a self-signed ECDSA P-256 CA certificate with its key", () => {
    const cert = new X509Certificate(root.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    expect(root.canSign).toBe(true);
    expect(root.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(root.digest).toEqual(caDigest(root.certPem));
  });

  it("loads from PEM, with its key (a manager) or without (a worker, which cannot sign)", async () => {
    const loaded = await RootCA.load(root.certPem, root.keyPem);
    const { csrPem } = await createNodeKey();
    expect(readCertificate(await loaded.issue(csrPem, worker())).identity).toEqual(worker());
    const verifyOnly = await RootCA.load(root.certPem);
    expect(verifyOnly.canSign).toBe(false);
    await expect(verifyOnly.issue(csrPem, worker())).rejects.toThrow(/only managers sign/);
  });

  it("refuses a key that is not the certificate's, and a certificate that is not a CA", async () => {
    await expect(RootCA.load(root.certPem, other.keyPem)).rejects.toThrow(/does not belong to the root CA certificate/);
    const leaf = await issued(root, worker());
    await expect(RootCA.load(leaf.certPem)).rejects.toThrow(CertificateError);
  });
});

describe("node certificates", () => {
  it("name the node id (CN), the role (OU) and the cluster (O)", async () => {
    const m = readCertificate((await issued(root, manager("abc123"))).certPem);
    expect(m.identity).toEqual({ nodeId: "abc123", role: NodeRole.NODE_ROLE_MANAGER, clusterId: CLUSTER });
    const cert = new X509Certificate((await issued(root, worker("w9"))).certPem);
    expect(cert.subject.split("\n").sort()).toEqual(["CN=w9", `O=${CLUSTER}`, `OU=${WORKER_OU}`]);
    expect(cert.subjectAltName).toBe(`DNS:${WORKER_OU}, DNS:w9`);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(root.certPem))).toBe(true);
    expect(identityOf({ CN: "x", OU: MANAGER_OU, O: "c" })?.role).toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it("serve and accept TLS (both key usages), and name their issuer's key as the root names it", async () => {
    const cert = new X509Certificate((await issued(root, worker("w10"))).certPem);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(cert.verify(new X509Certificate(root.certPem).publicKey)).toBe(true);
    // The certificate is written by hand (manager/ca/der.ts): the whole text must parse as one.
    expect(cert.toString()).toContain("-----BEGIN CERTIFICATE-----");
    expect(cert.issuer).toBe("CN=swarm-ca");
  });

  it("are valid 90 days by default, or as configured, starting a little before now", async () => {
    const now = Date.UTC(2030, 0, 1);
    const def = readCertificate((await issued(root, worker(), { now })).certPem);
    expect(def.notAfter - now).toBe(DEFAULT_NODE_CERT_VALIDITY_MS);
    expect(def.notBefore).toBeLessThan(now);
    const short = readCertificate((await issued(root, worker(), { now, validityMs: 60_000 })).certPem);
    expect(short.notAfter - now).toBe(60_000);
    await expect(issued(root, worker(), { validityMs: 10 })).rejects.toThrow(/too short/);
  });

  it("verify against their root, and not against another", async () => {
    const { certPem } = await issued(root, manager());
    expect(root.verify(certPem).identity).toEqual(manager());
    expect(() => other.verify(certPem)).toThrow(/not issued by this swarm's root CA/);
  });

  it("do not verify before or after their validity", async () => {
    const now = Date.now();
    const { certPem } = await issued(root, worker(), { now, validityMs: 60_000 });
    expect(() => root.verify(certPem, now + 60_000)).toThrow(/expired/);
    expect(() => root.verify(certPem, now - 3600_000)).toThrow(/not valid before/);
  });

  it("are refused for a CSR whose signature does not hold, or for a key of another kind", async () => {
    const { csrPem } = await createNodeKey();
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    der[der.length - 5] ^= 0xff; // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(root.issue(tampered, worker())).rejects.toThrow(/signature|cannot be read/);
    await expect(root.issue("not a csr", worker())).rejects.toThrow(/cannot be read/);
  });

  it("take only plain ids, so none can add a field to the subject", async () => {
    const { csrPem } = await createNodeKey();
    await expect(root.issue(csrPem, { ...worker(), nodeId: "x,OU=swarm-manager" })).rejects.toThrow(/invalid node id/);
    await expect(root.issue(csrPem, { ...worker(), clusterId: "" })).rejects.toThrow(/invalid cluster id/);
  });
});
