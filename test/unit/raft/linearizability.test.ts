// The simulator's linearizability checker must accept real histories and reject broken ones,
// or a green simulation would mean nothing.
import { describe, expect, it } from "vitest";
import { checkLinearizable, type Op } from "../../sim/raft/linearizability.js";

const put = (client: number, value: string, start: number, end: number): Op => ({ client, key: "k", kind: "put", value, start, end });
const get = (client: number, value: string | undefined, start: number, end: number): Op => ({ client, key: "k", kind: "get", value, start, end });

describe("linearizability checker", () => {
  it("accepts a read of a concurrent write either way", () => {
    expect(checkLinearizable([put(1, "a", 0, 10), get(2, "a", 1, 2)]).ok).toBe(true);
    expect(checkLinearizable([put(1, "a", 0, 10), get(2, undefined, 1, 2)]).ok).toBe(true);
  });

  it("rejects a stale read after a write completed", () => {
    expect(checkLinearizable([put(1, "a", 0, 1), put(1, "b", 2, 3), get(2, "a", 4, 5)]).ok).toBe(false);
  });

  it("rejects reads that see a value come back", () => {
    expect(checkLinearizable([put(1, "a", 0, 10), get(2, "a", 1, 2), get(2, undefined, 3, 4)]).ok).toBe(false);
  });

  it("lets a write of unknown outcome take effect or not", () => {
    expect(checkLinearizable([put(1, "a", 0, Infinity), get(2, "a", 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([put(1, "a", 0, Infinity), get(2, undefined, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([put(1, "a", 0, Infinity), get(2, "a", 5, 6), get(2, undefined, 7, 8)]).ok).toBe(false);
  });
});
