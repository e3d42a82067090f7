import { describe, expect, it } from "vitest";
import { PUSH_BURST, PUSH_EARN_MS, PushBudget } from "../../../manager/dispatcher/budget.js";

describe("a node's push budget", () => {
  it("allows a few pushes back to back, then one per earning period", () => {
    const b = new PushBudget();
    for (let i = 0; i < PUSH_BURST; i++) expect(b.take("n1", 1000)).toBe(0);
    expect(b.take("n1", 1000)).toBe(PUSH_EARN_MS);
    expect(b.take("n1", 1000 + PUSH_EARN_MS / 3)).toBe(Math.ceil((2 / 3) * PUSH_EARN_MS));
    expect(b.take("n1", 1000 + PUSH_EARN_MS)).toBe(0);
    expect(b.take("n1", 1000 + PUSH_EARN_MS)).toBe(PUSH_EARN_MS);
  });

  it("keeps each node's budget apart, refills after quiet, and starts over once forgotten", () => {
    const b = new PushBudget();
    for (let i = 0; i < PUSH_BURST; i++) b.take("n1", 0);
    expect(b.take("n2", 0)).toBe(0);
    expect(b.take("n1", 0)).toBeGreaterThan(0);
    // A long quiet earns no more than the burst.
    for (let i = 0; i < PUSH_BURST; i++) expect(b.take("n1", 60_000)).toBe(0);
    expect(b.take("n1", 60_000)).toBeGreaterThan(0);
    b.forget("n1");
    expect(b.take("n1", 60_000)).toBe(0);
  });

  it("spends on a whole set without ever holding it back, nor going below nothing", () => {
    const b = new PushBudget();
    for (let i = 0; i < PUSH_BURST + 2; i++) b.spend("n1", 0);
    expect(b.take("n1", PUSH_EARN_MS)).toBe(0);
  });
});
