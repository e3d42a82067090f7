import { describe, expect, it } from "vitest";
import { bar, displayFor, PlainDisplay, TerminalDisplay, terminalLine } from "../../../cli/cluster/display.js";
import type { ProgressLine } from "../../../cli/cluster/progress.js";

class Sink {
  out = "";
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}
  write(s: string) {
    this.out += s;
  }
}

const frame1: ProgressLine[] = [{ id: "overall progress", text: "0 out of 2 tasks" }, { id: "1/2", text: " " }, { id: "2/2", text: " " }];
const frame2: ProgressLine[] = [{ id: "overall progress", text: "1 out of 2 tasks" }, { id: "1/2", text: "running  ", step: 9 }, { id: "2/2", text: "preparing", step: 6 }];

describe("progress on a terminal", () => {
  it("draws docker's bars", () => {
    expect(bar(9)).toBe(`[${"=".repeat(50)}>]`);
    expect(bar(4)).toBe(`[${"=".repeat(22)}>${" ".repeat(28)}]`);
    expect(terminalLine({ id: "1/6", text: "running  ", step: 9 }, 120)).toBe(`1/6: running   [${"=".repeat(50)}>]`);
  });

  it("leaves bars out where they do not fit, and never wraps", () => {
    expect(terminalLine({ id: "1/6", text: "running  ", step: 9 }, 80)).toBe(`1/6: running   [${"=".repeat(50)}>]`);
    expect(terminalLine({ id: "1/6", text: "running  ", step: 9 }, 60)).toBe("1/6: running");
    expect(terminalLine({ id: "1/6", text: "x".repeat(100) }, 40)).toHaveLength(39);
  });

  it("redraws the block in place, only when something changed", () => {
    const tty = new Sink(true);
    const d = new TerminalDisplay(tty);
    d.show(frame1);
    expect(tty.out).toBe("\x1b[2Koverall progress: 0 out of 2 tasks\n\x1b[2K1/2:\n\x1b[2K2/2:\n");
    tty.out = "";
    d.show(frame1);
    expect(tty.out).toBe("");
    d.show([...frame2, { id: "verify", text: "Waiting 5 seconds to verify that tasks are stable..." }]);
    expect(tty.out.startsWith("\x1b[3A\x1b[2Koverall progress: 1 out of 2 tasks\n")).toBe(true);
    expect(tty.out.split("\n")).toHaveLength(5);
    expect(tty.out).toContain(`\x1b[2K2/2: preparing [${"=".repeat(33)}>${" ".repeat(17)}]\n`);
  });
});

describe("progress in a pipe", () => {
  it("writes a plain line each time a line changes, no bars or placeholders", () => {
    const pipe = new Sink(false);
    const d = displayFor(pipe, false);
    expect(d).toBeInstanceOf(PlainDisplay);
    d.show(frame1);
    d.show(frame1);
    d.show(frame2);
    d.show([...frame2, { id: "verify", text: "Service converged" }]);
    expect(pipe.out.split("\n")).toEqual(["overall progress: 0 out of 2 tasks", "overall progress: 1 out of 2 tasks", "1/2: running", "2/2: preparing", "verify: Service converged", ""]);
  });

  it("says nothing when quiet", () => {
    const pipe = new Sink(true);
    displayFor(pipe, true).show(frame2);
    expect(pipe.out).toBe("");
  });
});
