// `swarm update` and `swarm unlock-key` on the store: validity from the next certificate on,
// autolock on (the key shown once) and off, the key shown and rotated only while locked.
import { describe, expect, it } from "vitest";
import { ClusterSigner, checkNodeCertValidity } from "../../../manager/ca/signer.js";
import { readCertificate, RootCA } from "../../../manager/ca/root-ca.js";
import { createNodeKey } from "../../../manager/ca/csr.js";
import { unlockKey, updateCluster } from "../../../manager/cluster/settings.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { NodeRole, type Cluster } from "../../../proto/gen/cluster.js";

async function swarm(): Promise<{ store: MemoryStore; root: RootCA }> {
  const store = new MemoryStore();
  const root = await RootCA.create();
  await store.update((tx) => tx.create("cluster", { id: "c1", spec: { annotations: { name: "default", labels: {} } }, rootCa: { certPem: root.certPem, keyPem: root.keyPem! } }));
  return { store, root };
}
const clusterOf = (store: MemoryStore): Cluster => store.view((tx) => tx.find("cluster")[0]);

describe("swarm update", () => {
  it("sets the validity of certificates signed from now on", async () => {
    const { store } = await swarm();
    const signer = new ClusterSigner();
    const { csrPem } = await createNodeKey();
    const who = { nodeId: "n1", role: NodeRole.NODE_ROLE_WORKER };
    const before = readCertificate((await signer.sign(clusterOf(store), csrPem, who)).certificate);
    expect(before.notAfter - Date.now()).toBeGreaterThan(89 * 24 * 3600_000);
    expect(await updateCluster(store, { nodeCertExpiryMs: 60_000, setAutolock: false, autolock: false })).toEqual({ unlockKey: "" });
    const after = readCertificate((await signer.sign(clusterOf(store), csrPem, who)).certificate);
    expect(after.notAfter - Date.now()).toBeLessThanOrEqual(60_000);
    expect(after.identity).toEqual({ ...who, clusterId: "c1" });
  });

  it("refuses a validity under a minute", async () => {
    const { store } = await swarm();
    await expect(updateCluster(store, { nodeCertExpiryMs: 5000, setAutolock: false, autolock: false })).rejects.toThrow(/too short: use at least 1m/);
    expect(() => checkNodeCertValidity(0)).not.toThrow();
  });

  it("turns autolock on (showing the key once) and off; unlock-key shows and rotates it only while locked", async () => {
    const { store } = await swarm();
    await expect(unlockKey(store, { rotate: false })).rejects.toThrow(/not locked/);
    const { unlockKey: key } = await updateCluster(store, { nodeCertExpiryMs: 0, setAutolock: true, autolock: true });
    expect(key).toMatch(/^SWMKEY-1-/);
    expect(await updateCluster(store, { nodeCertExpiryMs: 0, setAutolock: true, autolock: true })).toEqual({ unlockKey: "" });
    expect(await unlockKey(store, { rotate: false })).toEqual({ unlockKey: key });
    const rotated = (await unlockKey(store, { rotate: true })).unlockKey;
    expect(rotated).not.toBe(key);
    expect(clusterOf(store).autolock?.unlockKey).toBe(rotated);
    await updateCluster(store, { nodeCertExpiryMs: 0, setAutolock: true, autolock: false });
    expect(clusterOf(store).autolock).toBeUndefined();
    await expect(unlockKey(store, { rotate: true })).rejects.toThrow(/not locked/);
  });
});

describe("the signer", () => {
  it("refuses without the root CA key, and a CSR that is not one", async () => {
    const { store, root } = await swarm();
    const signer = new ClusterSigner();
    const { csrPem } = await createNodeKey();
    const noKey = { ...clusterOf(store), rootCa: { certPem: root.certPem, keyPem: "" } };
    await expect(signer.sign(noKey, csrPem, { nodeId: "n1", role: NodeRole.NODE_ROLE_WORKER })).rejects.toThrow(/no root CA key/);
    await expect(signer.sign(clusterOf(store), "not a csr", { nodeId: "n1", role: NodeRole.NODE_ROLE_WORKER })).rejects.toThrow(/certificate request cannot be read/);
  });
});
