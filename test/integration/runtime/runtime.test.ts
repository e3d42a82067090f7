// The native runtime through its TypeScript binding, on real busybox containers (root only).
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  cpusToQuota,
  exec,
  kill,
  readExit,
  readLog,
  runtimeBinary,
  state,
  watchExit,
} from "../../../agent/engine/runtime/index.js";
import { alive, CGROUP_PARENT, Lab, until } from "./fixture.js";

const run = promisify(execFile);
let lab: Lab;

beforeAll(() => {
  lab = new Lab();
});
afterEach(async () => {
  expect(await lab.cleanup()).toEqual([]);
});
afterAll(() => lab.dispose());

function collect(child: ReturnType<typeof exec>): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

describe("isolation", () => {
  it("runs as pid 1 with its own hostname", async () => {
    const r = await lab.run(lab.spec(["sh", "-c", "echo $$; hostname"], { hostname: "web-1" }));
    expect(r).toMatchObject({ exitCode: 0, signal: 0, oomKilled: false });
    expect(r.out).toEqual(["1", "web-1"]);
  });

  it("propagates the exit code", async () => {
    expect((await lab.run(lab.spec(["sh", "-c", "exit 3"]))).exitCode).toBe(3);
  });

  it("sees only lo in a new network namespace", async () => {
    const r = await lab.run(lab.spec(["sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1; ip link | grep -c '^[0-9]'"]));
    expect(r.out.map((l) => l.trim())).toEqual(["lo", "1"]);
  });

  it("joins a network namespace made by netns-create", async () => {
    const path = join(lab.root, "netns-a");
    await run(runtimeBinary(), ["netns-create", path]);
    try {
      const r = await lab.run(lab.spec(["sh", "-c", "ip link | grep -o '^[0-9]*: [a-z0-9]*'"], { netns: path }));
      expect(r.out).toEqual(["1: lo"]);
    } finally {
      await run(runtimeBinary(), ["netns-delete", path]);
    }
    expect(existsSync(path)).toBe(false);
  });

  it("hides host processes and files", async () => {
    writeFileSync(join(lab.root, "host-secret"), "x");
    const r = await lab.run(
      lab.spec(["sh", "-c", `ls -d /proc/[0-9]* | wc -l; test -e /proc/${process.pid} && echo seen; ls / | grep -c shoal-rt; ls ${lab.root} 2>&1 | head -1`]),
    );
    expect(Number(r.out[0])).toBeLessThanOrEqual(3);
    expect(r.out).not.toContain("seen");
    expect(r.out[1]).toBe("0");
    expect(r.out[2]).toMatch(/No such file or directory/);
  });

  it("refuses writes to /proc/sys and /sys, and mount", async () => {
    const r = await lab.run(
      lab.spec(["sh", "-c", "echo 1 > /proc/sys/kernel/sysrq || echo procsys-refused; touch /sys/x || echo sys-refused; mount -t tmpfs t /mnt || echo mount-refused; cat /proc/kcore | wc -c"]),
    );
    expect(r.out).toEqual(["procsys-refused", "sys-refused", "mount-refused", "0"]);
  });

  it("keeps the default capabilities only, with no_new_privs", async () => {
    const r = await lab.run(lab.spec(["sh", "-c", "grep -E '^(CapBnd|CapEff|NoNewPrivs)' /proc/self/status"]));
    expect(r.out).toContain("CapBnd:\t00000000a80425fb");
    expect(r.out).toContain("CapEff:\t00000000a80425fb");
    expect(r.out).toContain("NoNewPrivs:\t1");
  });

  it("runs as the spec's user", async () => {
    const r = await lab.run(lab.spec(["id"], { user: { uid: 65534, gid: 65534, additionalGids: [5] } }));
    expect(r.out[0]).toMatch(/^uid=65534.*gid=65534.*groups=5/);
  });
});

describe("limits", () => {
  it("OOM-kills past the memory limit and says so", async () => {
    const r = await lab.run(lab.spec(["sh", "-c", "head -c 67108864 /dev/zero | tail"], { memoryBytes: 32 << 20 }));
    expect(r.oomKilled).toBe(true);
    expect(r.exitCode).not.toBe(0);
  });

  it("contains a fork bomb under pids 20", async () => {
    const spec = lab.spec(["sh", "-c", "(while :; do sleep 1000 & done) 2>/dev/null; echo survived; sleep 1000"], { pidsMax: 20 });
    const { stateDir } = await lab.start(spec);
    const cg = `/sys/fs/cgroup/pids/${CGROUP_PARENT}/${spec.id}`;
    await until(() => readFileSync(join(stateDir, "log"), "utf8").includes("survived"));
    expect(Number(readFileSync(`${cg}/pids.current`, "utf8"))).toBeLessThanOrEqual(20);
    expect(Number(readFileSync(`${cg}/pids.events`, "utf8").split(" ")[1])).toBeGreaterThan(0);
  });

  it("holds a busy loop to about half a core under cpus 0.5", async () => {
    const spec = lab.spec(["sh", "-c", "while :; do :; done"], { cpu: cpusToQuota(0.5) });
    await lab.start(spec);
    const usage = () => Number(readFileSync(`/sys/fs/cgroup/cpuacct/${CGROUP_PARENT}/${spec.id}/cpuacct.usage`, "utf8"));
    await new Promise((r) => setTimeout(r, 300));
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 2000));
    const share = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.7);
  });
});

describe("mounts", () => {
  it("binds volumes read-only and read-write", async () => {
    const ro = join(lab.root, "vol-ro");
    const rw = join(lab.root, "vol-rw");
    mkdirSync(ro);
    mkdirSync(rw);
    writeFileSync(join(ro, "f"), "hello\n");
    const r = await lab.run(
      lab.spec(["sh", "-c", "cat /data/f; touch /data/x || echo ro-refused; echo hi > /out/g"], {
        mounts: [
          { source: ro, destination: "/data", readOnly: true },
          { source: rw, destination: "/srv/out", readOnly: false },
        ].map((m, i) => (i === 1 ? { ...m, destination: "/out" } : m)),
      }),
    );
    expect(r.out).toEqual(["hello", "ro-refused"]);
    expect(readFileSync(join(rw, "g"), "utf8")).toBe("hi\n");
  });

  it("leaves the image layer untouched (writes go to the upper dir)", async () => {
    const spec = lab.spec(["sh", "-c", "echo x > /etc/new-file"]);
    await lab.run(spec);
    expect(existsSync(join(lab.lower, "etc/new-file"))).toBe(false);
    expect("upperDir" in spec.rootfs && existsSync(join(spec.rootfs.upperDir, "etc/new-file"))).toBe(true);
  });
});

describe("shim", () => {
  it("keeps the container running after its starter is kill -9'd", async () => {
    const spec = lab.spec(["sleep", "1000"]);
    const stateDir = lab.stateDir(spec);
    mkdirSync(stateDir, { recursive: true });
    const { writeSpec } = await import("../../../agent/engine/runtime/spec.js");
    await writeSpec(spec, join(stateDir, "spec"));
    const starter = spawn("sh", ["-c", `${runtimeBinary()} start ${stateDir}/spec ${stateDir} && exec sleep 1000`], { stdio: "ignore" });
    await until(() => existsSync(join(stateDir, "pid")));
    const pid = Number(readFileSync(join(stateDir, "pid"), "utf8"));
    starter.kill("SIGKILL");
    await new Promise((r) => starter.on("exit", r));
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(true);
    expect(await state(stateDir)).toMatchObject({ status: "running", pid });
  });

  it("announces the exit to a watcher attached late, and after the shim is gone", async () => {
    const spec = lab.spec(["sleep", "1000"]);
    const { stateDir, pid, shimPid } = await lab.start(spec);
    const first = watchExit(stateDir);
    first.close(); // a daemon that went away
    const second = watchExit(stateDir);
    await kill(stateDir, "KILL");
    expect(await second.exited).toEqual({ exitCode: 137, signal: 9, oomKilled: false });
    await until(() => !alive(shimPid));
    expect(alive(pid)).toBe(false);
    expect(await watchExit(stateDir).exited).toEqual(readExit(stateDir));
    expect(await state(stateDir)).toMatchObject({ status: "stopped", exitCode: 137, signal: 9 });
  });

  it("execs in the container's namespaces with piped stdio", async () => {
    const spec = lab.spec(["sleep", "1000"], { hostname: "exec-box" });
    const { stateDir } = await lab.start(spec);
    const child = exec(stateDir, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; echo $FOO; read x; echo got $x; exit 4"], {
      env: ["FOO=bar"],
    });
    child.stdin?.end("line\n");
    const r = await collect(child);
    expect(r.out.split("\n")).toEqual(["sleep 1000 ", "exec-box", "bar", "got line", ""]);
    expect(r.code).toBe(4);
  });

  it("writes CRI log records, splitting lines at 16 KiB", async () => {
    const spec = lab.spec(["sh", "-c", "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' a; echo; printf tail"]);
    const { stateDir } = await lab.start(spec);
    await watchExit(stateDir).exited;
    const raw = readFileSync(join(stateDir, "log"), "utf8").trim().split("\n");
    expect(raw[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) F (out|err)$/);
    expect(raw.filter((l) => / stdout P a+$/.test(l))).toHaveLength(1);
    const entries = [];
    for await (const e of readLog(join(stateDir, "log"))) entries.push(e);
    expect(entries.filter((e) => e.stream === "stdout").map((e) => (e.line.length > 50 ? e.line.length : e.line))).toEqual(["out", 20000, "tail"]);
    const last = [];
    for await (const e of readLog(join(stateDir, "log"), { tail: 1 })) last.push(e.line);
    expect(last).toEqual(["tail"]);
  });
});

describe("bad specs", () => {
  const oneLine = (e: Error) => {
    expect(e.message.split("\n")).toHaveLength(1);
    return e.message;
  };

  it("names a missing rootfs", async () => {
    const spec = lab.spec(["true"], { rootfs: { dir: join(lab.root, "nope") } });
    const msg = oneLine(await lab.start(spec).then(() => new Error("started"), (e: Error) => e));
    expect(msg).toBe(`shoal-runtime: rootfs ${join(lab.root, "nope")}: No such file or directory`);
  });

  it("names a missing binary", async () => {
    const msg = oneLine(await lab.start(lab.spec(["/bin/nope"])).then(() => new Error("started"), (e: Error) => e));
    expect(msg).toBe("shoal-runtime: exec /bin/nope: No such file or directory");
  });

  it("names a bad user", async () => {
    const spec = lab.spec(["true"], { user: { uid: -1, gid: 0 } });
    const msg = oneLine(await lab.start(spec).then(() => new Error("started"), (e: Error) => e));
    expect(msg).toMatch(/^shoal-runtime: spec: user -1:0 is not a numeric uid:gid$/);
  });

  it("names a bind source that does not exist", async () => {
    const spec = lab.spec(["true"], { mounts: [{ source: "/nonexistent-src", destination: "/x", readOnly: true }] });
    const msg = oneLine(await lab.start(spec).then(() => new Error("started"), (e: Error) => e));
    expect(msg).toBe("shoal-runtime: stat bind source /nonexistent-src: No such file or directory");
  });
});
