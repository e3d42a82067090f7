// Cluster security on a 3+2 lab, through the real CLI on the hosts and real gRPC clients from
// outside them: who may join (acceptance 1), who may call what on every cluster port (2), a
// joining node refusing a manager whose CA its token does not name (3), certificates of one
// minute renewed while services and sessions carry on (4), `node rm` and `node demote` taking
// effect at once (5), autolock, and no secret in logs, inspect output or Raft files (6); the
// remote CLI with an admin client certificate, and what that certificate opens.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, Server, ServerCredentials, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labKill, labStart } from "../../lab/lab.js";
import { findHost, hostDir } from "../../lab/state.js";
import { createNodeKey } from "../../manager/ca/csr.js";
import { CLUSTER_CHANNEL_OPTIONS, joinChannelCredentials } from "../../manager/ca/credentials.js";
import { isSealed, openSecret } from "../../manager/ca/encryption.js";
import { keyMatches, readCertificate, RootCA } from "../../manager/ca/root-ca.js";
import { makeJoinToken } from "../../manager/ca/tokens.js";
import { NodeRole, NodeState } from "../../proto/gen/cluster.js";
import { RaftTransportClient } from "../../proto/gen/raft_transport.js";
import { AgentClient, ControlClient, DispatcherClient, DispatcherService, type DispatcherServer } from "../../proto/gen/swarm.js";
import { CLI, Cluster, eventually, isRunning, total, type Run } from "./harness.js";

const HOSTS = ["m1", "m2", "m3", "w1", "w2"];
const SECRET_MARKS = [/SWMTKN-1-/, /SWMKEY-1-/, /PRIVATE KEY/];

let c: Cluster;
/** Every join token and unlock key this swarm has had: none may show up where it should not. */
const secrets = new Set<string>();

const dataOf = (short: string) => join(hostDir(c.lab, c.host(short)), "data");
const certFile = (short: string, f: string) => readFileSync(join(dataOf(short), "swarm", "certificates", f), "utf8");
const addrOf = (short: string) => `${findHost(c.lab, c.host(short)).address}:2377`;
const logOf = (short: string) => readFileSync(join(hostDir(c.lab, c.host(short)), "daemon.log"), "utf8");
const m1Addr = () => addrOf("m1");

/** A host's certificate and key as its files hold them (the key in clear, not under autolock); read again if a renewal was half-written. */
function tlsOf(short: string): { certPem: string; keyPem: string; rootCaPem: string } {
  for (;;) {
    const t = { certPem: certFile(short, "swarm-node.crt"), keyPem: openSecret(certFile(short, "swarm-node.key")).toString(), rootCaPem: certFile(short, "swarm-root-ca.crt") };
    if (keyMatches(t.certPem, t.keyPem)) return t;
  }
}

/** `shoal ARGS` on a host with `input` on its stdin (swarm unlock reads the key there). */
function shoalWithInput(short: string, input: string, ...args: string[]): Run {
  const r = spawnSync("nsenter", c.shoalArgs(short, ...args), { encoding: "utf8", input, timeout: 60_000 });
  return { code: r.status ?? 137, out: r.stdout ?? "", err: r.stderr ?? "" };
}

function refused(r: Run, why: RegExp): void {
  expect(r.code, r.out).not.toBe(0);
  expect(r.err).toMatch(why);
}

// ---- clients from outside the lab hosts ----

type Who = "none" | "foreign" | "worker" | "manager" | "admin";
let foreign: RootCA;
let foreignTls: { certPem: string; keyPem: string };
/** The admin client certificate `swarm ca --client-cert` wrote, once it has. */
let adminTls: { certPem: string; keyPem: string } | undefined;
const clients: { close(): void }[] = [];

/** TLS to a cluster port, trusting the swarm's root, presenting `who`'s certificate (or none). */
function channelAs(who: Who): ChannelCredentials {
  const root = Buffer.from(tlsOf("m1").rootCaPem);
  const any = { checkServerIdentity: () => undefined };
  if (who === "none") return credentials.createSsl(root, null, null, any);
  const t = who === "foreign" ? foreignTls : who === "admin" ? adminTls! : tlsOf(who === "worker" ? "w1" : "m2");
  return credentials.createSsl(root, Buffer.from(t.keyPem), Buffer.from(t.certPem), any);
}

function client<T extends { close(): void }>(make: new (addr: string, creds: ChannelCredentials, opts: object) => T, addr: string, who: Who): T {
  const cl = new make(addr, channelAs(who), CLUSTER_CHANNEL_OPTIONS);
  clients.push(cl);
  return cl;
}

type Outcome = { code: string; details: string };
const named = (err: Partial<ServiceError> | null | undefined): Outcome => (err ? { code: status[err.code!] ?? String(err.code), details: err.details ?? "" } : { code: "OK", details: "" });
const deadline = () => ({ deadline: Date.now() + 10_000 });

/** How a unary call ends. */
function unary(fn: (cb: (err: ServiceError | null) => void) => void): Promise<Outcome> {
  return new Promise((resolve) => fn((err) => resolve(named(err))));
}

/** How a stream ends, or OK once it has delivered something (the caller was let in). */
function stream(s: { on(e: string, f: (x: ServiceError) => void): unknown; cancel(): void }): Promise<Outcome> {
  return new Promise((resolve) => {
    s.on("error", (err) => resolve(named(err)));
    s.on("data", () => {
      resolve({ code: "OK", details: "" });
      s.cancel();
    });
    s.on("end", () => resolve({ code: "OK", details: "" }));
  });
}

const METHODS = ["Control.ListNodes", "Control.GetJoinTokens", "Control.UpdateCluster", "Control.ServiceLogs", "Dispatcher.Session", "Dispatcher.RenewCertificate", "Dispatcher.Leave", "RaftTransport.Send", "Agent.TaskLogs"];
/** What a node itself may call: not probed with a real node's certificate (a session would replace its own). */
const NODE_METHODS = /^Dispatcher\./;

/** The cluster port at `addr`, each of `methods` called once as `who`: the outcome per method. */
async function probe(addr: string, who: Who, methods = METHODS): Promise<Record<string, Outcome>> {
  const control = client(ControlClient, addr, who);
  const dispatcher = client(DispatcherClient, addr, who);
  const raft = client(RaftTransportClient, addr, who);
  const agent = client(AgentClient, addr, who);
  const calls: Record<string, () => Promise<Outcome>> = {
    "Control.ListNodes": () => unary((cb) => control.listNodes({}, new Metadata(), deadline(), cb)),
    "Control.GetJoinTokens": () => unary((cb) => control.getJoinTokens({ rotateWorker: false, rotateManager: false }, new Metadata(), deadline(), cb)),
    "Control.UpdateCluster": () => unary((cb) => control.updateCluster({ nodeCertExpiryMs: 0, setAutolock: false, autolock: false }, new Metadata(), deadline(), cb)),
    "Control.ServiceLogs": () => stream(control.serviceLogs({ service: "web", follow: false, tail: 1 }, deadline())),
    "Dispatcher.Session": () => {
      const session = dispatcher.session(deadline());
      session.write({ msg: { $case: "hello", value: { nodeId: "x", addr: "", description: undefined } } });
      return stream(session);
    },
    "Dispatcher.RenewCertificate": () => unary((cb) => dispatcher.renewCertificate({ csr: "" }, new Metadata(), deadline(), cb)),
    "Dispatcher.Leave": () => unary((cb) => dispatcher.leave({ nodeId: "x" }, new Metadata(), deadline(), cb)),
    "RaftTransport.Send": () =>
      unary((cb) => {
        const s = raft.send(deadline(), cb);
        s.write({ messages: [] });
        s.end();
      }),
    "Agent.TaskLogs": () => stream(agent.taskLogs({ taskIds: ["x"], follow: false, tail: 1 }, deadline())),
  };
  const out: Record<string, Outcome> = {};
  for (const m of methods) out[m] = await calls[m]();
  return out;
}

/** Refused with `code`; a worker's port does not serve Raft at all. */
function expectRefused(at: string, r: Record<string, Outcome>, code: string): void {
  for (const [m, o] of Object.entries(r)) {
    const want = m.startsWith("RaftTransport.") && at.startsWith("w") ? "UNIMPLEMENTED" : code;
    expect(`${at} ${m}: ${o.code}`).toBe(`${at} ${m}: ${want}`);
  }
}

/** Serial numbers of the certificate each host has held, as seen so far. */
const serials = new Map<string, Set<string>>();
function sampleCertificates(): void {
  for (const h of HOSTS) {
    const cert = readCertificate(certFile(h, "swarm-node.crt"));
    let set = serials.get(h);
    if (!set) serials.set(h, (set = new Set()));
    set.add(cert.serial);
  }
}

const sessionEvents = (short: string) => logOf(short).split("\n").filter((l) => /agent: session (open|with .* lost)/.test(l)).length;

beforeAll(async () => {
  c = await Cluster.up(`e2s${process.pid % 1000}`, 3, 2);
  foreign = await RootCA.create();
  // The swarm is made again through the CLI, with one-minute certificates; w2 stays out for the join tests.
  for (const h of ["w2", "w1", "m3", "m2", "m1"]) c.ok(h, "swarm", "leave", "--force");
  c.ok("m1", "swarm", "init", "--advertise-addr", m1Addr(), "--cert-expiry", "1m");
  const managerToken = c.ok("m1", "swarm", "join-token", "-q", "manager").trim();
  const workerToken = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
  [managerToken, workerToken].forEach((t) => secrets.add(t));
  for (const h of ["m2", "m3"]) expect(c.ok(h, "swarm", "join", "--token", managerToken, m1Addr())).toMatch(/joined a swarm as a manager/);
  expect(c.ok("w1", "swarm", "join", "--token", workerToken, m1Addr())).toMatch(/joined a swarm as a worker/);
  const id = readCertificate(certFile("m1", "swarm-node.crt")).identity;
  const key = await createNodeKey();
  foreignTls = { certPem: await foreign.issue(key.csrPem, { nodeId: id.nodeId, role: NodeRole.NODE_ROLE_MANAGER, clusterId: id.clusterId }), keyPem: key.keyPem };
  c.ok("m1", "service", "create", "-d", "--name", "web", "--replicas", "5", "busybox:1", "sh", "-c", "echo up; sleep 3600");
  await eventually("web: 5 running", async () => total(await c.running("web")) === 5);
});

afterAll(async () => {
  for (const cl of clients) cl.close();
  await c?.down();
});

describe("joining (acceptance 1 and 3)", () => {
  const nodes = async () => (await c.nodes()).map((n) => n.description?.hostname);

  it("refuses a node with no token, a malformed or wrong one, a rotated-out one, or another swarm's", async () => {
    refused(c.shoal("w2", "swarm", "join", m1Addr()), /--token/);
    refused(c.shoal("w2", "swarm", "join", "--token", "SWMTKN-1-nonsense", m1Addr()), /invalid join token/);
    const current = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
    const wrong = current.replace(/-[0-9a-z]{25}$/, "-" + "1".repeat(25));
    refused(c.shoal("w2", "swarm", "join", "--token", wrong, m1Addr()), /join token is not valid for this swarm/);
    const rotated = c.ok("m1", "swarm", "join-token", "--rotate", "-q", "worker").trim();
    secrets.add(rotated);
    expect(rotated).not.toBe(current);
    refused(c.shoal("w2", "swarm", "join", "--token", current, m1Addr()), /join token is not valid for this swarm/);
    const otherSwarm = makeJoinToken((await RootCA.create()).certPem);
    refused(c.shoal("w2", "swarm", "join", "--token", otherSwarm, m1Addr()), /root CA does not match the join token/);
    expect(await nodes()).not.toContain(c.host("w2"));
    expect(c.ok("w2", "swarm", "join", "--token", rotated, m1Addr())).toMatch(/joined a swarm as a worker/);
    await eventually("w2 ready", async () => (await c.nodeState("w2")) === NodeState.NODE_STATE_READY);
  });

  it("a joining node refuses a manager whose CA its token does not name, and never shows it the token", async () => {
    // An impostor on the lab's gateway: a manager's certificate naming this swarm, under another root.
    let joins = 0;
    const server = new Server();
    server.addService(DispatcherService, { join: (_call: unknown, cb: (e: null, r: object) => void) => (joins++, cb(null, {})) } as unknown as DispatcherServer);
    const creds = ServerCredentials.createSsl(Buffer.from(foreign.certPem), [{ cert_chain: Buffer.from(foreignTls.certPem.trimEnd() + "\n" + foreign.certPem), private_key: Buffer.from(foreignTls.keyPem) }], false);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${c.lab.gateway}:0`, creds, (e, p) => (e ? reject(e) : resolve(p))));
    const old = readCertificate(certFile("w2", "swarm-node.crt")).identity.nodeId;
    try {
      c.ok("w2", "swarm", "leave");
      c.ok("m1", "node", "rm", old);
      const token = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
      refused(await c.shoalAsync("w2", "swarm", "join", "--token", token, `${c.lab.gateway}:${port}`), /root CA does not match the join token/);
      expect(joins).toBe(0);
      c.ok("w2", "swarm", "join", "--token", token, m1Addr());
    } finally {
      server.forceShutdown();
    }
    await eventually("w2 ready again", async () => (await c.nodes()).filter((n) => n.description?.hostname === c.host("w2") && n.status?.state === NodeState.NODE_STATE_READY).length === 1);
  });

  it("a worker token never yields a manager: not by joining, not with the worker's certificate", async () => {
    expect(readCertificate(certFile("w2", "swarm-node.crt")).identity.role).toBe(NodeRole.NODE_ROLE_WORKER);
    const w2 = (await c.nodes()).find((n) => n.description?.hostname === c.host("w2") && n.status?.state === NodeState.NODE_STATE_READY)!;
    expect(w2.spec?.role).toBe(NodeRole.NODE_ROLE_WORKER);
    // Its own certificate cannot make it a Raft member.
    // Asked of the leader (a follower says only where the leader is): on a busy machine the
    // leadership can have moved since the swarm was made on m1.
    const lead = (await c.nodes()).find((n) => n.managerStatus?.leader)!.managerStatus!.addr;
    const asWorker = client(DispatcherClient, lead, "worker");
    const w1 = readCertificate(certFile("w1", "swarm-node.crt")).identity.nodeId;
    expect(await unary((cb) => asWorker.joinRaft({ nodeId: w1, raftId: 7, addr: addrOf("w1") }, new Metadata(), deadline(), cb))).toMatchObject({ code: "PERMISSION_DENIED", details: expect.stringMatching(/did not join as a manager/) });
    // A worker token with a manager's (or a worker's) node id and a new key buys no identity.
    const token = c.ok("m1", "swarm", "join-token", "-q", "worker").trim();
    const joiner = new DispatcherClient(m1Addr(), joinChannelCredentials(tlsOf("m1").rootCaPem), CLUSTER_CHANNEL_OPTIONS);
    clients.push(joiner);
    for (const short of ["m2", "w1"]) {
      const nodeId = readCertificate(certFile(short, "swarm-node.crt")).identity.nodeId;
      const { csrPem } = await createNodeKey();
      const r = await unary((cb) => joiner.join({ token, description: undefined, addr: "10.0.0.1:2377", nodeId, csr: csrPem }, new Metadata(), deadline(), cb));
      expect(r).toMatchObject({ code: "ALREADY_EXISTS", details: expect.stringMatching(/is taken by another node/) });
    }
  });
});

describe("every cluster port (acceptance 2)", () => {
  it("refuses a client without a certificate, or with another CA's, on every service", async () => {
    for (const at of ["m1", "m2", "w1"]) {
      for (const who of ["none", "foreign"] as const) expectRefused(`${at} as ${who}`, await probe(addrOf(at), who), "UNAUTHENTICATED");
    }
  });

  it("refuses a plaintext client outright", async () => {
    const plain = new ControlClient(m1Addr(), credentials.createInsecure());
    clients.push(plain);
    expect((await unary((cb) => plain.listNodes({}, new Metadata(), deadline(), cb))).code).toBe("UNAVAILABLE");
  });

  it("a worker's certificate gets permission denied from the control API, Raft and the agents", async () => {
    for (const at of ["m1", "m2", "w2"]) {
      const r = await probe(addrOf(at), "worker", METHODS.filter((m) => !NODE_METHODS.test(m)));
      expectRefused(at, r, "PERMISSION_DENIED");
      expect(r["Control.ListNodes"].details).toMatch(/is a worker: only managers may use the control API/);
    }
  });

  it("a manager's certificate is let in", async () => {
    const r = await probe(addrOf("m1"), "manager", ["Control.ListNodes", "Control.ServiceLogs"]);
    expect(r["Control.ListNodes"].code).toBe("OK");
    expect(r["Control.ServiceLogs"].code).toBe("OK");
  });
});

describe("renewal (acceptance 4)", () => {
  it("renews one-minute certificates across several periods; tasks, sessions and the leader stay", async () => {
    const tasks = (await c.tasks("web")).tasks.filter(isRunning).map((t) => t.id).sort();
    expect(tasks).toHaveLength(5);
    const sessions = new Map(HOSTS.map((h) => [h, sessionEvents(h)]));
    const leader = (await c.nodes()).find((n) => n.managerStatus?.leader)?.id;
    serials.clear();
    sampleCertificates();
    await eventually("every node renewed 3 times", () => {
      sampleCertificates();
      return HOSTS.every((h) => serials.get(h)!.size >= 4);
    }, 300_000, 1000);
    for (const h of HOSTS) {
      const cert = readCertificate(certFile(h, "swarm-node.crt"));
      expect(cert.notAfter - cert.notBefore).toBeLessThanOrEqual(66_000);
      expect(sessionEvents(h), `${h}: a session was lost or reopened`).toBe(sessions.get(h));
    }
    expect((await c.tasks("web")).tasks.filter(isRunning).map((t) => t.id).sort()).toEqual(tasks);
    expect((await c.nodes()).every((n) => n.status?.state === NodeState.NODE_STATE_READY)).toBe(true);
    expect((await c.nodes()).find((n) => n.managerStatus?.leader)?.id).toBe(leader);
    // Forwarded control calls and task logs run on the renewed certificates.
    expect(c.ok("m3", "service", "ls")).toMatch(/web .* 5\/5/);
    expect(c.ok("m2", "service", "logs", "web").match(/\| up/g)).toHaveLength(5);
  });
});

describe("autolock", () => {
  const keyFile = (short: string) => certFile(short, "swarm-node.key");

  it("locks restarted managers until swarm unlock gives the key, and follows a rotated key", async () => {
    const on = c.ok("m1", "swarm", "update", "--autolock=true");
    const key = /SWMKEY-1-\S+/.exec(on)![0];
    secrets.add(key);
    expect(c.ok("m3", "swarm", "unlock-key", "-q").trim()).toBe(key);
    await eventually("managers' keys sealed", () => ["m1", "m2", "m3"].every((h) => isSealed(keyFile(h))));
    expect(isSealed(keyFile("w1"))).toBe(false);

    await labKill(c.name, c.host("m2"));
    await labStart(c.name, c.host("m2"));
    refused(c.shoal("m2", "node", "ls"), /this manager is locked/);
    refused(shoalWithInput("m2", key.slice(0, -2) + "AA\n", "swarm", "unlock"), /unlock key is wrong|invalid unlock key/);
    expect(shoalWithInput("m2", key + "\n", "swarm", "unlock").code).toBe(0);
    await eventually("m2 serves the control API again", () => c.shoal("m2", "node", "ls").code === 0, 30_000);

    const rotated = /SWMKEY-1-\S+/.exec(c.ok("m1", "swarm", "unlock-key", "--rotate"))![0];
    secrets.add(rotated);
    expect(rotated).not.toBe(key);
    await eventually("m2 resealed under the rotated key", () => openSecret(keyFile("m2"), rotated).length > 0);
    await labKill(c.name, c.host("m2"));
    await labStart(c.name, c.host("m2"));
    refused(shoalWithInput("m2", key + "\n", "swarm", "unlock"), /unlock key is wrong/);
    expect(shoalWithInput("m2", rotated + "\n", "swarm", "unlock").code).toBe(0);
    await eventually("m2 ready", async () => (await c.nodeState("m2")) === NodeState.NODE_STATE_READY, 30_000);

    c.ok("m1", "swarm", "update", "--autolock=false");
    await eventually("managers' keys in clear again", () => ["m1", "m2", "m3"].every((h) => !isSealed(keyFile(h))));
    refused(c.shoal("m1", "swarm", "unlock-key"), /not locked/);
  });
});

describe("removal and demotion (acceptance 5)", () => {
  it("after node rm, the removed node's connections are refused", async () => {
    const w2 = tlsOf("w2");
    const creds = credentials.createSsl(Buffer.from(w2.rootCaPem), Buffer.from(w2.keyPem), Buffer.from(w2.certPem), { checkServerIdentity: () => undefined });
    c.ok("m1", "node", "rm", "--force", c.host("w2"));
    await eventually("w2 told it was removed", () => /was removed from the swarm/.test(logOf("w2")), 30_000);
    for (const at of ["m1", "m2", "m3"]) {
      const d = new DispatcherClient(addrOf(at), creds, CLUSTER_CHANNEL_OPTIONS);
      clients.push(d);
      // A follower refuses once it has applied the removal, a moment after the leader.
      await eventually(`${at} refuses the removed node`, async () => (await unary((cb) => d.renewCertificate({ csr: "" }, new Metadata(), deadline(), cb))).code === "PERMISSION_DENIED", 10_000);
      expect(await unary((cb) => d.renewCertificate({ csr: "" }, new Metadata(), deadline(), cb))).toMatchObject({ code: "PERMISSION_DENIED", details: expect.stringMatching(/was removed from the swarm/) });
      const s = d.session(deadline());
      s.write({ msg: { $case: "hello", value: { nodeId: "", addr: "", description: undefined } } });
      expect((await stream(s)).code).toBe("PERMISSION_DENIED");
    }
  });

  it("after node demote, the demoted manager's certificate no longer opens the control API", async () => {
    const m3 = tlsOf("m3");
    c.ok("m1", "node", "demote", c.host("m3"));
    const control = new ControlClient(m1Addr(), credentials.createSsl(Buffer.from(m3.rootCaPem), Buffer.from(m3.keyPem), Buffer.from(m3.certPem), { checkServerIdentity: () => undefined }), CLUSTER_CHANNEL_OPTIONS);
    clients.push(control);
    // m1 refuses once it has applied the demotion (at once if it leads, a moment later if not).
    await eventually("m1 refuses the demoted manager's certificate", async () => (await unary((cb) => control.listNodes({}, new Metadata(), deadline(), cb))).code === "PERMISSION_DENIED", 10_000);
    expect(await unary((cb) => control.listNodes({}, new Metadata(), deadline(), cb))).toMatchObject({ code: "PERMISSION_DENIED", details: expect.stringMatching(/no longer a manager/) });
    await eventually("m3 holds a worker's certificate", () => readCertificate(certFile("m3", "swarm-node.crt")).identity.role === NodeRole.NODE_ROLE_WORKER, 30_000);
  });
});

describe("secrets (acceptance 6)", () => {
  const raftFiles = (short: string): string[] => {
    const dir = join(dataOf(short), "swarm", "raft");
    const walk = (d: string): string[] => (existsSync(d) ? readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)])) : []);
    return walk(dir);
  };

  it("no token, unlock key or private key in logs, inspect output or the Raft files", async () => {
    // The workers' keys are in clear in their own data dir: their bodies must not leak elsewhere.
    const keyBodies = ["w1", "m1"].map((h) => tlsOf(h).keyPem.split("\n")[1]);
    const check = (what: string, text: string) => {
      for (const mark of SECRET_MARKS) expect(mark.test(text), `${what} shows ${mark}`).toBe(false);
      for (const s of [...secrets, ...keyBodies]) expect(text.includes(s), `${what} shows a secret`).toBe(false);
    };
    for (const h of HOSTS) check(`${h}'s daemon log`, logOf(h));
    check("node inspect", c.ok("m1", "node", "inspect", ...["m1", "m2", "m3", "w1"].map((h) => c.host(h))));
    check("node inspect --pretty", c.ok("m1", "node", "inspect", "--pretty", c.host("m1")));
    check("service inspect", c.ok("m2", "service", "inspect", "web"));
    let raft = 0;
    for (const h of ["m1", "m2"]) {
      for (const f of raftFiles(h)) {
        raft++;
        check(f, readFileSync(f).toString("latin1"));
      }
    }
    expect(raft).toBeGreaterThan(0);
  });
});

describe("the remote CLI with an admin client certificate", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "shoal-e2e-admin-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** `shoal ARGS` from this process, outside every lab host, with none of the caller's SHOAL_ settings. */
  const remote = (env: Record<string, string>, ...args: string[]): Run => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SHOAL_")));
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000, env: { ...clean, ...env } });
    return { code: r.status ?? 137, out: r.stdout ?? "", err: r.stderr ?? "" };
  };
  const files = (dir: string) => ["--tlscacert", join(dir, "ca.pem"), "--tlscert", join(dir, "cert.pem"), "--tlskey", join(dir, "key.pem")];

  it("swarm ca --client-cert on a manager writes the key, certificate and root, and never prints the key", () => {
    // Long enough for this block: the swarm made one-minute certificates so far.
    c.ok("m1", "swarm", "update", "--cert-expiry", "1h");
    const dir = join(work, "alice");
    const out = c.ok("m1", "swarm", "ca", "--client-cert", "alice", "--out", dir);
    expect(out).toMatch(/Admin client certificate "alice" written to .*alice/);
    expect(out).toContain(`shoal -H tcp://${m1Addr()} --tlscacert ${join(dir, "ca.pem")}`);
    const keyPem = readFileSync(join(dir, "key.pem"), "utf8");
    const certPem = readFileSync(join(dir, "cert.pem"), "utf8");
    for (const text of [out, logOf("m1")]) {
      expect(text).not.toMatch(/PRIVATE KEY/);
      expect(text).not.toContain(keyPem.split("\n")[1]);
    }
    expect(statSync(join(dir, "key.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).toBe(tlsOf("m1").rootCaPem);
    const cert = readCertificate(certPem);
    expect(cert.identity).toMatchObject({ nodeId: "alice", admin: true, clusterId: readCertificate(certFile("m1", "swarm-node.crt")).identity.clusterId });
    expect(cert.notAfter - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(cert.notAfter - Date.now()).toBeGreaterThan(3000_000);
    expect(keyMatches(certPem, keyPem)).toBe(true);
    adminTls = { certPem, keyPem };
    refused(c.shoal("m1", "swarm", "ca", "--client-cert", "alice2", "--out", dir), /ca\.pem already exists: give another --out directory/);
    refused(c.shoal("m1", "swarm", "ca", "--client-cert", "no good", "--out", join(work, "bad")), /invalid client name "no good"/);
    expect(existsSync(join(work, "bad"))).toBe(false);
  });

  it("is refused on a worker, and nothing is written", () => {
    refused(c.shoal("w1", "swarm", "ca", "--client-cert", "bob", "--out", join(work, "bob")), /worker nodes can't be used to view or modify cluster state/);
    expect(existsSync(join(work, "bob"))).toBe(false);
  });

  it("runs cluster commands from outside the swarm, through any manager", () => {
    const dir = join(work, "alice");
    const ls = remote({}, "-H", `tcp://${m1Addr()}`, ...files(dir), "service", "ls");
    expect(ls.err).toBe("");
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^ID +NAME +MODE +REPLICAS/);
    expect(ls.out).toMatch(/ web +replicated /);
    const nodes = remote({ SHOAL_HOST: `tcp://${addrOf("m2")}`, SHOAL_CERT_PATH: dir }, "node", "ls");
    expect(nodes.code, nodes.err).toBe(0);
    expect(nodes.out).toContain(c.host("m1"));
    const tokens = remote({ SHOAL_CERT_PATH: dir }, "-H", `tcp://${addrOf("m2")}`, "swarm", "join-token", "worker");
    expect(tokens.code, tokens.err).toBe(0);
    expect(tokens.out).toMatch(new RegExp(`shoal swarm join --token SWMTKN-1-\\S+ ${addrOf("m2").replace(/\./g, "\\.")}`));
  });

  it("refuses a worker's certificate, no certificate, and engine commands, each in one line", () => {
    const w1 = join(work, "w1");
    mkdirSync(w1, { mode: 0o700 });
    const t = tlsOf("w1");
    writeFileSync(join(w1, "ca.pem"), t.rootCaPem);
    writeFileSync(join(w1, "cert.pem"), t.certPem);
    writeFileSync(join(w1, "key.pem"), t.keyPem, { mode: 0o600 });
    const host = ["-H", `tcp://${m1Addr()}`];
    const asWorker = remote({}, ...host, ...files(w1), "service", "ls");
    refused(asWorker, /^shoal: permission denied by the manager at .*: node \S+ \(swarm-worker\) .*is a worker: only managers may use the control API/);
    const none = remote({}, ...host, "service", "ls");
    refused(none, /needs a client certificate .*--tlscacert, --tlscert and --tlskey, or set SHOAL_CERT_PATH/);
    const engine = remote({ SHOAL_CERT_PATH: join(work, "alice") }, ...host, "ps");
    refused(engine, /this command needs the local daemon socket/);
    for (const r of [asWorker, none, engine]) expect(r.err.trim().split("\n")).toHaveLength(1);
  });

  it("opens the control API and nothing else: not the Dispatcher, Raft or the agents", async () => {
    const r = await probe(m1Addr(), "admin");
    for (const m of METHODS.filter((m) => m.startsWith("Control."))) expect(`${m}: ${r[m].code}`).toBe(`${m}: OK`);
    const others = Object.fromEntries(Object.entries(r).filter(([m]) => !m.startsWith("Control.")));
    expectRefused("m1", others, "PERMISSION_DENIED");
    expect(r["Agent.TaskLogs"].details).toMatch(/admin client alice of swarm \S+ may use the control API only/);
    // A worker's port: its agent and its (refusing) Dispatcher are closed to an admin client too.
    expectRefused("w1", await probe(addrOf("w1"), "admin", ["Dispatcher.Session", "Dispatcher.Leave", "RaftTransport.Send", "Agent.TaskLogs"]), "PERMISSION_DENIED");
  });
});
