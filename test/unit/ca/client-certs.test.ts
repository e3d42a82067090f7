// `swarm ca --client-cert`: the Control API signing an admin client's certificate with the
// swarm's root, for the client's own key, valid as the swarm's node certificates are.
import { X509Certificate } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { createNodeKey } from "../../../manager/ca/csr.js";
import { adminIdentity } from "../../../manager/ca/identity.js";
import { keyMatches, readCertificate, RootCA } from "../../../manager/ca/root-ca.js";
import { ControlApi } from "../../../manager/controlapi/api.js";
import { MemoryStore } from "../../../manager/store/memory.js";

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

async function swarm(nodeCertExpiryMs = 0): Promise<{ api: ControlApi; root: RootCA }> {
  const store = new MemoryStore();
  const root = await RootCA.create();
  await store.update((tx) =>
    tx.create("cluster", { id: "c1", spec: { annotations: { name: "default", labels: {} }, ca: { nodeCertExpiryMs } }, rootCa: { certPem: root.certPem, keyPem: root.keyPem! } }),
  );
  return { api: new ControlApi(store), root };
}

describe("IssueClientCertificate", () => {
  it("signs an admin client's certificate for the client's key, for client authentication only", async () => {
    const { api, root } = await swarm();
    const key = await createNodeKey();
    const res = await api.issueClientCertificate({ csr: key.csrPem, name: "alice" });
    expect(res.rootCa).toBe(root.certPem);
    const info = root.verify(res.certificate);
    expect(info.identity).toEqual(adminIdentity("alice", "c1"));
    expect(keyMatches(res.certificate, key.keyPem)).toBe(true);
    expect(new X509Certificate(res.certificate).keyUsage).toEqual([CLIENT_AUTH]);
    expect(new X509Certificate(res.certificate).subject).toMatch(/OU=swarm-admin/);
    expect(info.notAfter - Date.now()).toBeGreaterThan(89 * 24 * 3600_000);
  });

  it("is valid as long as the swarm's node certificates", async () => {
    const { api } = await swarm(3600_000);
    const info = readCertificate((await api.issueClientCertificate({ csr: (await createNodeKey()).csrPem, name: "ci.deploy-1" })).certificate);
    expect(info.notAfter - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(info.notAfter - Date.now()).toBeGreaterThan(3500_000);
  });

  it("refuses a name that is not plain, and a request without a CSR, before signing anything", async () => {
    const { api } = await swarm();
    const { csrPem } = await createNodeKey();
    for (const name of ["", "a b", "-x", "x,OU=swarm-manager", "../etc"]) {
      await expect(api.issueClientCertificate({ csr: csrPem, name }), name).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/invalid client name .*letters, digits/) });
    }
    await expect(api.issueClientCertificate({ csr: "", name: "alice" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/no certificate request/) });
    await expect(api.issueClientCertificate({ csr: "not a csr", name: "alice" })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/certificate request cannot be read/) });
  });
});
