import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../../cli/cluster/duration.js";

describe("durations as docker's flags take them", () => {
  it.each([
    ["10s", 10_000],
    ["500ms", 500],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["2h3m4.005s", 7_384_005],
    ["0", 0],
    ["0s", 0],
    ["1000us", 1],
    ["1500000ns", 2],
  ])("reads %s as %d ms", (s, ms) => {
    expect(parseDuration(s, "--update-delay")).toBe(ms);
  });

  it.each([
    ["10", "use a duration such as 10s"],
    ["abc", "use a duration such as 10s"],
    ["10s5", "use a duration such as 10s"],
    ["", "use a duration such as 10s"],
    ["-5s", "cannot be negative"],
    ["500us", "at least 1ms"],
  ])("refuses %j naming the flag", (s, why) => {
    expect(() => parseDuration(s, "--update-delay")).toThrow(`invalid --update-delay ${s}: `);
    expect(() => parseDuration(s, "--update-delay")).toThrow(why);
  });

  it.each([
    [0, "0s"],
    [500, "500ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [90_000, "1m30s"],
    [3_600_000, "1h0m0s"],
    [7_384_005, "2h3m4.005s"],
  ])("prints %d ms as Go does: %s", (ms, s) => {
    expect(formatDuration(ms)).toBe(s);
    expect(parseDuration(s, "--x")).toBe(ms);
  });
});
