// A stop signal the container's init does not catch is not waited for.
import { describe, expect, it } from "vitest";
import { catchesSignal, signalNumber } from "../../agent/engine/containers/signals.js";

describe("container init signals", () => {
  it("reads SigCgt", () => {
    const status = "Name:\thttpd\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000004002\n"; // SIGINT(2), SIGTERM(15)
    expect(catchesSignal(status, 15)).toBe(true);
    expect(catchesSignal(status, 2)).toBe(true);
    expect(catchesSignal(status, 1)).toBe(false);
    expect(catchesSignal("Name:\tx\n", 15)).toBeUndefined();
  });

  it("names signals as docker does", () => {
    expect(signalNumber("SIGTERM")).toBe(15);
    expect(signalNumber("term")).toBe(15);
    expect(signalNumber("SIGNOPE")).toBeUndefined();
  });
});
