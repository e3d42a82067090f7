// When a node renews its certificate: pure timing decisions.
import { describe, expect, it } from "vitest";
import { renewalDue, renewalTime, retryDelay } from "../../../manager/ca/renewal.js";
import { NodeRole } from "../../../proto/gen/cluster.js";
import { worker } from "./fixtures.js";

const DAY = 24 * 3600_000;
const cert = { identity: worker(), notBefore: 1_000_000, notAfter: 1_000_000 + 90 * DAY, serial: "01" };

describe("renewal time", () => {
  it("falls in the last half of validity, never in the last fifth", () => {
    const validity = cert.notAfter - cert.notBefore;
    for (const r of [0, 0.25, 0.5, 0.999999, -1, 2]) {
      const t = renewalTime(cert, r);
      expect(t).toBeGreaterThanOrEqual(cert.notBefore + validity / 2);
      expect(t).toBeLessThanOrEqual(cert.notBefore + validity * 0.8);
    }
    expect(renewalTime(cert, 0)).toBeLessThan(renewalTime(cert, 0.9));
  });

  it("spreads nodes over the window by their random draw", () => {
    const times = new Set([0.1, 0.3, 0.5, 0.7, 0.9].map((r) => renewalTime(cert, r)));
    expect(times.size).toBe(5);
  });
});

describe("renewal due", () => {
  const at = renewalTime(cert, 0.5);
  it("at the renewal time and after, not before", () => {
    expect(renewalDue(cert, at, at - 1)).toBe(false);
    expect(renewalDue(cert, at, at)).toBe(true);
    expect(renewalDue(cert, at, cert.notAfter + 1)).toBe(true);
  });

  it("at once when the desired role differs from the certificate's", () => {
    expect(renewalDue(cert, at, cert.notBefore, NodeRole.NODE_ROLE_MANAGER)).toBe(true);
    expect(renewalDue(cert, at, cert.notBefore, NodeRole.NODE_ROLE_WORKER)).toBe(false);
  });
});

describe("retry delay", () => {
  it("doubles from a second up to a twentieth of the validity", () => {
    expect([1, 2, 3, 4].map((f) => retryDelay(f, 90 * DAY))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelay(30, 90 * DAY)).toBe(5 * 60_000);
    expect(retryDelay(30, 60_000)).toBe(3000);
    expect(retryDelay(30, 5000)).toBe(1000);
  });
});
