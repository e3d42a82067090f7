// The native client (native/build/shoal, the `shoal` on PATH) against the Node CLI: the same
// command gives the same output, errors and exit code, and the commands it owns (run, ps, start,
// stop, rm) run without Node at all.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeBusyboxTarball } from "../../support/busybox.js";
import { NODE_CLI, run, TestDaemon, type Result } from "./harness.js";

const NATIVE = join(process.cwd(), "native/build/shoal");
const IMG = "itest/busybox:1";
let d: TestDaemon;

const native = (...args: string[]) => run(NATIVE, args, { SHOAL_HOST: d.host });
const node = (...args: string[]) => run("node", [NODE_CLI, ...args], { SHOAL_HOST: d.host });
/** The native client with no `node` to hand over to: it must do the command itself. */
const nativeAlone = (...args: string[]) => run(NATIVE, args, { SHOAL_HOST: d.host, PATH: "/nonexistent" });

/** `ps`'s CREATED and STATUS cells move on with the clock (and the column widths with them):
 * compared cell by cell with the times taken out; everything else must match exactly. */
const TIME = /(Less than a|About an?|\d+) (second|minute|hour)s?( ago)?/g;
const steady = (r: Result) => ({ ...r, stdout: r.stdout.split("\n").map((l) => l.split(/ {2,}/).map((c) => c.replace(TIME, "<t>"))) });

beforeAll(async () => {
  d = new TestDaemon();
  await d.start();
  const work = mkdtempSync(join(d.root, "rootfs-"));
  const tar = makeBusyboxTarball(join(d.root, "busybox.tar"), work, {});
  expect((await node("import", tar, IMG)).code).toBe(0);
});

afterAll(async () => {
  if (!d) return;
  expect(await d.destroy()).toEqual([]);
});

describe("the native client", () => {
  test("run, ps, stop, start and rm are done without Node", async () => {
    const fg = await nativeAlone("run", "--rm", "-e", "A=1", "-w", "/tmp", IMG, "sh", "-c", 'echo $A $(pwd); echo err >&2; exit 7');
    expect(fg).toEqual({ code: 7, stdout: "1 /tmp\n", stderr: "err\n" });
    const id = (await nativeAlone("run", "-d", "--name", "alone", "--memory", "64m", "--restart", "on-failure:2", IMG, "sleep", "1000")).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect((await nativeAlone("ps", "-q")).stdout).toBe(`${id.slice(0, 12)}\n`);
    expect((await nativeAlone("stop", "-t", "0", "alone")).stdout).toBe("alone\n");
    expect((await nativeAlone("start", "alone")).stdout).toBe("alone\n");
    expect((await nativeAlone("rm", "-f", "alone"))).toEqual({ code: 0, stdout: "alone\n", stderr: "" });
    expect((await nativeAlone("ps", "-aq")).stdout).toBe("");
  });

  test("ps prints what the Node CLI prints", async () => {
    await native("run", "-d", "--name", "up", "-p", "18081:80", IMG, "sleep", "1000");
    await native("run", "--name", "done", IMG, "sh", "-c", "exit 2");
    for (const args of [["ps"], ["ps", "-a"], ["ps", "-q"], ["ps", "-aq"], ["ps", "--all", "--quiet"]]) {
      expect(steady(await native(...args)), args.join(" ")).toEqual(steady(await node(...args)));
    }
    await native("rm", "-f", "up", "done");
  });

  test("errors and exit codes match the Node CLI's", async () => {
    await native("run", "-d", "--name", "taken", IMG, "sleep", "1000");
    const cases = [
      ["run", "-d", "--name", "taken", IMG, "true"], // duplicate name
      ["run", "--rm", IMG, "/no/such/binary"], // the start fails: nothing is left
      ["run", "--memory", "12q", IMG, "true"],
      ["run", "--restart", "sometimes", IMG, "true"],
      ["run", "--cpus", "lots", IMG, "true"],
      ["run", "-p", "99999:80", IMG, "true"],
      ["run", "-v", "vol:relative", IMG, "true"], // the container path must be absolute
      ["run", "-e", "=x", IMG, "true"],
      ["run", "--bogus-flag", IMG, "true"],
      ["run"],
      ["stop", "nosuch"],
      ["start", "nosuch"],
      ["rm", "nosuch"],
      ["rm", "taken"], // running, no -f
      ["rm", "nosuch", "taken", "-f"], // one missing, one removed: exit 1
    ];
    for (const args of cases) {
      const a = await native(...args);
      if (args.join(" ") === "rm nosuch taken -f") await native("run", "-d", "--name", "taken", IMG, "sleep", "1000");
      const b = await node(...args);
      expect(a, args.join(" ")).toEqual(b);
      expect(a.code, args.join(" ")).not.toBe(0);
      expect(a.stderr.trim().split("\n").length, `${args.join(" ")}: one line`).toBe(1);
    }
    await native("rm", "-f", "taken");
    expect((await native("ps", "-aq")).stdout).toBe("");
  });

  test("what it does not own is handed to the Node CLI unchanged", async () => {
    for (const args of [["version"], ["images"], ["inspect", "nosuch"], ["ps", "--help"], ["volume", "ls"]]) {
      const a = await native(...args);
      expect(steady(a), args.join(" ")).toEqual(steady(await node(...args)));
    }
  });
});
