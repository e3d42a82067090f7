// Join tokens: their form, the role their secret grants, rotation, and pinning the root CA.
import { beforeAll, describe, expect, it } from "vitest";
import { CAMismatchError, checkJoinToken, JoinTokenError, makeJoinToken, tokenRole, verifyRootCA } from "../../../manager/ca/tokens.js";
import { RootCA } from "../../../manager/ca/root-ca.js";
import { NodeRole, type Cluster } from "../../../proto/gen/cluster.js";

let root: RootCA;
let other: RootCA;
beforeAll(async () => {
  [root, other] = await Promise.all([RootCA.create(), RootCA.create()]);
});

const cluster = (worker: string, manager: string): Cluster => ({ id: "c1", joinTokens: { worker, manager } });

describe("join tokens", () => {
  it("read SWMTKN-1-<50 base36 digest>-<25 base36 secret>, the digest the root CA's", () => {
    const t = makeJoinToken(root.certPem);
    expect(t).toMatch(/^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    const u = makeJoinToken(root.certPem);
    expect(checkJoinToken(t).digest).toBe(checkJoinToken(u).digest);
    expect(checkJoinToken(t).secret).not.toBe(checkJoinToken(u).secret);
    expect(checkJoinToken(makeJoinToken(other.certPem)).digest).not.toBe(checkJoinToken(t).digest);
  });

  it("refuse malformed tokens with a message saying where to get one", () => {
    for (const bad of ["", "SWMTKN-1-abc", "SWMTKN-2-" + "a".repeat(50) + "-" + "b".repeat(25), makeJoinToken(root.certPem).toUpperCase()])
      expect(() => checkJoinToken(bad)).toThrow(JoinTokenError);
    expect(() => checkJoinToken("x")).toThrow(/shoal swarm join-token worker/);
  });

  it("grant the role whose secret they carry; a rotated-out or another swarm's token grants none", () => {
    const w = makeJoinToken(root.certPem);
    const m = makeJoinToken(root.certPem);
    const c = cluster(w, m);
    expect(tokenRole(c, w)).toBe(NodeRole.NODE_ROLE_WORKER);
    expect(tokenRole(c, m)).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(tokenRole(c, ` ${w}\n`)).toBe(NodeRole.NODE_ROLE_WORKER);
    const rotated = cluster(makeJoinToken(root.certPem), m);
    expect(tokenRole(rotated, w)).toBeUndefined();
    expect(tokenRole(c, makeJoinToken(other.certPem))).toBeUndefined();
    expect(tokenRole({ id: "c2" }, w)).toBeUndefined();
  });

  it("match whole: a manager's secret under another root's digest grants nothing", () => {
    const w = makeJoinToken(root.certPem);
    const m = makeJoinToken(root.certPem);
    const elsewhere = `${makeJoinToken(other.certPem).slice(0, -25)}${m.slice(-25)}`;
    expect(checkJoinToken(elsewhere).secret).toBe(checkJoinToken(m).secret);
    expect(tokenRole(cluster(w, m), elsewhere)).toBeUndefined();
  });
});

describe("pinning the root CA on first contact", () => {
  it("accepts the root CA the token names", () => {
    expect(() => verifyRootCA(root.certPem, makeJoinToken(root.certPem))).not.toThrow();
  });

  it("refuses another root CA, or nothing readable", () => {
    const token = makeJoinToken(root.certPem);
    expect(() => verifyRootCA(other.certPem, token)).toThrow(CAMismatchError);
    expect(() => verifyRootCA(other.certPem, token)).toThrow(/does not match the join token/);
    expect(() => verifyRootCA("garbage", token)).toThrow(CAMismatchError);
    expect(() => verifyRootCA(root.certPem, "not-a-token")).toThrow(JoinTokenError);
  });
});
