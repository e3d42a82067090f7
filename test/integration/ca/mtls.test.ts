// Mutual TLS on a real grpc-js server and clients over loopback, built from the cluster CA:
// who gets in (acceptance 2), pinning on first contact (acceptance 3), node rm taking effect at
// once on new and open calls (acceptance 5), and renewal without disruption (acceptance 4).
import { connect } from "node:tls";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, Server, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessGuard, NodeRegistry } from "../../../manager/ca/access.js";
import { NodeCertificates } from "../../../manager/ca/certificates.js";
import {
  CLUSTER_CHANNEL_OPTIONS,
  clusterChannelCredentials,
  clusterServerCredentials,
  fetchRootCA,
  joinChannelCredentials,
  peerIdentity,
} from "../../../manager/ca/credentials.js";
import { createNodeKey } from "../../../manager/ca/csr.js";
import { LockedError, loadOrCreateDataKey, newUnlockKey, resealDataKey } from "../../../manager/ca/encryption.js";
import type { NodeIdentity } from "../../../manager/ca/identity.js";
import { CertificateRenewer } from "../../../manager/ca/renewer.js";
import { readCertificate, RootCA } from "../../../manager/ca/root-ca.js";
import { CAMismatchError, makeJoinToken, verifyRootCA } from "../../../manager/ca/tokens.js";
import { MemoryStore } from "../../../manager/store/memory.js";
import { until } from "../../support/wait.js";
import { NodeRole, type Node } from "../../../proto/gen/cluster.js";
import {
  ControlClient,
  ControlService,
  DispatcherClient,
  DispatcherService,
  LogLine,
  NodeJoinRequest,
  type ControlServer,
  type DispatcherServer,
} from "../../../proto/gen/swarm.js";

const CLUSTER = "cl1";
const id = (nodeId: string, role: NodeRole, clusterId = CLUSTER): NodeIdentity => ({ nodeId, role, clusterId });
const M = NodeRole.NODE_ROLE_MANAGER;
const W = NodeRole.NODE_ROLE_WORKER;

let root: RootCA;
let foreign: RootCA;
let store: MemoryStore;
let server: Server;
let guard: AccessGuard;
let serverCerts: NodeCertificates;
let addr: string;
const clients: { close(): void }[] = [];
let work: string;

/** A node's key, and the certificate `ca` signs for it. */
async function issueTls(ca: RootCA, identity: NodeIdentity, validityMs?: number) {
  const { keyPem, csrPem } = await createNodeKey();
  return { rootCaPem: ca.certPem, certPem: await ca.issue(csrPem, identity, { validityMs }), keyPem };
}

async function certsFor(ca: RootCA, identity: NodeIdentity, validityMs?: number): Promise<NodeCertificates> {
  return NodeCertificates.create(await issueTls(ca, identity, validityMs));
}

function storeNode(nodeId: string, role: NodeRole, raftId = 0): Node {
  return {
    id: nodeId,
    spec: { annotations: { name: nodeId, labels: {} }, role, availability: 0 },
    managerStatus: raftId ? { raftId, addr: "", leader: false, reachability: 0 } : undefined,
    membership: 1,
  };
}

function control(creds: ChannelCredentials): InstanceType<typeof ControlClient> {
  const c = new ControlClient(addr, creds, CLUSTER_CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

function dispatcher(creds: ChannelCredentials): InstanceType<typeof DispatcherClient> {
  const c = new DispatcherClient(addr, creds, CLUSTER_CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

/** The status code of a unary call: "OK" or the error's name. */
function outcome(call: (cb: (err: ServiceError | null) => void) => void): Promise<{ code: string; details: string }> {
  return new Promise((resolve) =>
    call((err) => resolve(err ? { code: status[err.code] ?? String(err.code), details: err.details } : { code: "OK", details: "" })),
  );
}

const tokens = (c: InstanceType<typeof ControlClient>) => outcome((cb) => c.getJoinTokens({ rotateWorker: false, rotateManager: false }, cb));
const leave = (c: InstanceType<typeof DispatcherClient>) => outcome((cb) => c.leave({ nodeId: "x" }, cb));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "shoal-ca-"));
  [root, foreign] = await Promise.all([RootCA.create(), RootCA.create()]);
  store = new MemoryStore();
  await store.update((tx) => {
    tx.create("node", storeNode("m1", M, 1));
    tx.create("node", storeNode("m2", M, 2));
    tx.create("node", storeNode("m3", M, 3));
    tx.create("node", storeNode("w1", W));
    tx.create("node", storeNode("w2", W));
  });
  const registry = new NodeRegistry();
  registry.follow(store);
  serverCerts = await certsFor(root, id("m1", M));
  guard = new AccessGuard({ clusterId: CLUSTER, registry, peerOf: peerIdentity });

  const controlImpl: Partial<ControlServer> = {
    getJoinTokens: (call, cb) => cb(null, { worker: peerIdentity(call)?.nodeId ?? "", manager: "" }),
    serviceLogs: (call) => {
      const tick = setInterval(() => call.write(LogLine.fromPartial({ taskId: "t", slot: 1, line: Buffer.from("x") })), 20);
      call.on("cancelled", () => clearInterval(tick));
      call.on("close", () => clearInterval(tick));
    },
  };
  const dispatcherImpl: Partial<DispatcherServer> = {
    join: (call, cb) => cb(null, { nodeId: "new", clusterId: CLUSTER, role: W, managers: [], raftId: 0, raftMembers: [], certificate: "", rootCa: "" }),
    leave: (_call, cb) => cb(null, {}),
  };
  server = new Server();
  server.addService(ControlService, controlImpl as ControlServer);
  server.addService(DispatcherService, dispatcherImpl as DispatcherServer);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", clusterServerCredentials(serverCerts, guard), (err, p) => (err ? reject(err) : resolve(p))),
  );
  addr = `127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  rmSync(work, { recursive: true, force: true });
});

describe("who gets in", () => {
  it("a manager calls the control API, and the server knows who it is", async () => {
    const c = control(clusterChannelCredentials(await certsFor(root, id("m2", M))));
    const r = await new Promise<string>((resolve, reject) => c.getJoinTokens({ rotateWorker: false, rotateManager: false }, (e, res) => (e ? reject(e) : resolve(res.worker))));
    expect(r).toBe("m2");
  });

  it("a worker is refused the control API but may use its session service", async () => {
    const certs = await certsFor(root, id("w1", W));
    expect(await tokens(control(clusterChannelCredentials(certs)))).toEqual({
      code: "PERMISSION_DENIED",
      details: `node w1 (swarm-worker) of swarm ${CLUSTER} is a worker: only managers may use the control API: run the command on a manager`,
    });
    expect((await leave(dispatcher(clusterChannelCredentials(certs)))).code).toBe("OK");
  });

  it("a client without a certificate may only join", async () => {
    const creds = joinChannelCredentials(root.certPem);
    const d = dispatcher(creds);
    const joined = await outcome((cb) => d.join(NodeJoinRequest.fromPartial({ token: "t" }), cb));
    expect(joined.code).toBe("OK");
    expect(await tokens(control(creds))).toMatchObject({ code: "UNAUTHENTICATED", details: expect.stringMatching(/needs a certificate from this swarm/) });
    expect((await leave(d)).code).toBe("UNAUTHENTICATED");
  });

  it("a certificate from another CA counts as none, even naming a manager of this swarm", async () => {
    // It trusts our root, so it reaches the server; the server does not trust its certificate.
    const impostor = await issueTls(foreign, id("m2", M));
    const creds = credentials.createSsl(Buffer.from(root.certPem), Buffer.from(impostor.keyPem), Buffer.from(impostor.certPem), {
      checkServerIdentity: () => undefined,
    });
    expect((await tokens(control(creds))).code).toBe("UNAUTHENTICATED");
    expect((await leave(dispatcher(creds))).code).toBe("UNAUTHENTICATED");
  });

  it("a client refuses a server that is not a manager of its swarm", async () => {
    const workerServerSide = await certsFor(root, id("w1", W));
    const { server: s, addr: a } = await serveWith(workerServerSide);
    const c = new ControlClient(a, clusterChannelCredentials(await certsFor(root, id("m2", M))), CLUSTER_CHANNEL_OPTIONS);
    const r = await outcome((cb) => c.getJoinTokens({ rotateWorker: false, rotateManager: false }, new Metadata(), { deadline: Date.now() + 3000 }, cb));
    c.close();
    s.forceShutdown();
    expect(r.code).toBe("UNAVAILABLE");
    expect(r.details).toMatch(/the server is node w1 \(swarm-worker\) of swarm cl1, not a manager/);
  });
});

async function serveWith(certs: NodeCertificates): Promise<{ server: Server; addr: string }> {
  const s = new Server();
  s.addService(ControlService, { getJoinTokens: (_c: unknown, cb: (e: null, r: object) => void) => cb(null, {}) } as unknown as ControlServer);
  const g = new AccessGuard({ clusterId: CLUSTER, peerOf: peerIdentity });
  const port = await new Promise<number>((resolve, reject) => s.bindAsync("127.0.0.1:0", clusterServerCredentials(certs, g), (e, p) => (e ? reject(e) : resolve(p))));
  return { server: s, addr: `127.0.0.1:${port}` };
}

describe("first contact", () => {
  it("reads the root CA from the handshake and pins it against the token", async () => {
    const presented = await fetchRootCA(addr);
    expect(() => verifyRootCA(presented, makeJoinToken(root.certPem))).not.toThrow();
  });

  it("refuses a manager whose CA does not match the token's digest", async () => {
    const presented = await fetchRootCA(addr);
    expect(() => verifyRootCA(presented, makeJoinToken(foreign.certPem))).toThrow(CAMismatchError);
  });

  it("cannot reach a manager under another root once pinned", async () => {
    const c = control(joinChannelCredentials(foreign.certPem));
    const r = await outcome((cb) => c.getJoinTokens({ rotateWorker: false, rotateManager: false }, new Metadata(), { deadline: Date.now() + 3000 }, cb));
    expect(r.code).toBe("UNAVAILABLE");
    expect(r.details).toMatch(/certificate/i);
  });
});

describe("node rm and demote take effect at once", () => {
  it("refuses a removed node's next call, on a connection it already had", async () => {
    const d = dispatcher(clusterChannelCredentials(await certsFor(root, id("w2", W))));
    expect((await leave(d)).code).toBe("OK");
    await store.update((tx) => tx.delete("node", "w2"));
    expect(await leave(d)).toEqual({ code: "PERMISSION_DENIED", details: `node w2 (swarm-worker) of swarm ${CLUSTER} was removed from the swarm: join it again to take part` });
  });

  it("ends a removed node's open stream", async () => {
    const c = control(clusterChannelCredentials(await certsFor(root, id("m3", M))));
    const stream = c.serviceLogs({ service: "s", follow: true, tail: 0 });
    let lines = 0;
    await new Promise<void>((resolve) => stream.on("data", () => ++lines === 3 && resolve()));
    const ended = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    await store.update((tx) => tx.delete("node", "m3"));
    const err = await ended;
    expect(status[err.code]).toBe("PERMISSION_DENIED");
    expect(err.details).toMatch(/m3 .* was removed from the swarm/);
  });

  it("refuses a demoted manager the control API though its certificate still says manager", async () => {
    const c = control(clusterChannelCredentials(await certsFor(root, id("m2", M))));
    expect((await tokens(c)).code).toBe("OK");
    await store.update((tx) => {
      const n = tx.get("node", "m2")!;
      tx.update("node", { ...n, spec: { ...n.spec!, role: W } });
    });
    expect(await tokens(c)).toMatchObject({ code: "PERMISSION_DENIED", details: expect.stringMatching(/no longer a manager/) });
  });
});

/** The serial of the certificate the server presents to a new handshake. */
function presentedSerial(): Promise<string> {
  const [host, port] = addr.split(":");
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: Number(port), rejectUnauthorized: false, ALPNProtocols: ["h2"] }, () => {
      resolve(s.getPeerCertificate().serialNumber.toLowerCase());
      s.end();
    });
    s.on("error", reject);
  });
}

describe("renewal", () => {
  it("swaps the server's certificate for new handshakes while an open stream carries on", async () => {
    const c = control(clusterChannelCredentials(await certsFor(root, id("m1", M))));
    const stream = c.serviceLogs({ service: "s", follow: true, tail: 0 });
    let lines = 0;
    stream.on("data", () => lines++);
    const errors: Error[] = [];
    stream.on("error", (e) => errors.push(e));
    const before = await presentedSerial();

    // The server's own renewer, with a 3 s certificate and its CSRs signed by the root here.
    await serverCerts.update(await issueTls(root, id("m1", M), 3000));
    const renewer = new CertificateRenewer({
      certs: serverCerts,
      request: async (csrPem) => ({ certPem: await root.issue(csrPem, serverCerts.identity, { validityMs: 3000 }) }),
      random: () => 0,
    });
    const renewed: string[] = [];
    const serialNow = () => serverCerts.certificate.serial.toLowerCase();
    const first = serialNow();
    renewer.start();
    try {
      await until(() => serialNow() !== first);
      renewed.push(await presentedSerial());
      const second = serialNow();
      await until(() => serialNow() !== second);
      renewed.push(await presentedSerial());
      const seen = lines;
      await until(() => lines > seen + 2);
    } finally {
      renewer.stop();
      await serverCerts.update(await issueTls(root, id("m1", M))); // long-lived again, for the tests after
    }
    expect(new Set([before, ...renewed]).size).toBe(3);
    expect(errors).toEqual([]);
    stream.cancel();
  });

  it("renews a client's certificate, which its next connections present", async () => {
    const certs = await certsFor(root, id("w1", W), 3000);
    const renewer = new CertificateRenewer({ certs, request: async (csr) => ({ certPem: await root.issue(csr, certs.identity, { validityMs: 60_000 }) }) });
    await renewer.renewNow();
    expect(certs.certificate.notAfter - certs.certificate.notBefore).toBeGreaterThan(60_000);
    expect((await leave(dispatcher(clusterChannelCredentials(certs)))).code).toBe("OK");
  });

  it("asks at once for the role the store wants, and gets it", async () => {
    const certs = await certsFor(root, id("w1", W));
    let desired = W;
    const renewer = new CertificateRenewer({
      certs,
      desiredRole: () => desired,
      request: async (csr) => ({ certPem: await root.issue(csr, { ...certs.identity, role: desired }) }),
    });
    renewer.start();
    try {
      desired = M;
      renewer.poke();
      await until(() => certs.identity.role === M);
    } finally {
      renewer.stop();
    }
    expect(readCertificate(certs.certPem).identity.role).toBe(M);
  });
});

describe("keys at rest", () => {
  it("keeps the node's key 0600, sealed under autolock, and loads it back only with the unlock key", async () => {
    const certs = await certsFor(root, id("w1", W));
    const dir = join(work, "certs");
    const unlock = newUnlockKey();
    certs.save(dir, unlock);
    expect(statSync(join(dir, "swarm-node.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "swarm-node.key"), "utf8")).not.toMatch(/PRIVATE KEY/);
    expect((await NodeCertificates.load(dir, unlock)).identity).toEqual(id("w1", W));
    await expect(NodeCertificates.load(dir)).rejects.toThrow(LockedError);
  });

  it("creates the data key once, keeps it across loads, and re-seals it for autolock on and off", () => {
    const path = join(work, "raft", "dek.json");
    const dek = loadOrCreateDataKey(path);
    expect(loadOrCreateDataKey(path)).toEqual(dek);
    const unlock = newUnlockKey();
    resealDataKey(path, undefined, unlock);
    expect(() => loadOrCreateDataKey(path)).toThrow(LockedError);
    expect(loadOrCreateDataKey(path, unlock)).toEqual(dek);
    resealDataKey(path, unlock, undefined);
    expect(loadOrCreateDataKey(path)).toEqual(dek);
  });
});
