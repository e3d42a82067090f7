// Container isolation as Docker gives it by default (issue 8, acceptance 7), through the real
// runtime: capabilities, no_new_privs, the default seccomp profile, masked and read-only paths.
// The refused system calls are tried by a small static C program (seccomp-probe.c) built here,
// since busybox has no keyctl or ptrace applet; it is bound into each container read-only.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { exec, type ContainerSpec } from "../../../agent/engine/runtime/index.js";
import { Lab } from "./fixture.js";

const CAP_SYS_ADMIN = 21n;
let lab: Lab;
let probeDir: string;

beforeAll(() => {
  lab = new Lab();
  probeDir = join(lab.root, "probe");
  mkdirSync(probeDir);
  const source = fileURLToPath(new URL("./seccomp-probe.c", import.meta.url));
  execFileSync("gcc", ["-static", "-O2", "-o", join(probeDir, "seccomp-probe"), source, "-lpthread"]);
});
afterEach(async () => {
  expect(await lab.cleanup()).toEqual([]);
});
afterAll(() => lab.dispose());

function probeSpec(script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return lab.spec(["sh", "-c", script], { mounts: [{ source: probeDir, destination: "/probe", readOnly: true }], ...extra });
}

/** Runs the probe in a container, with a sleeping sibling to trace; "NAME RESULT" lines as a map. */
async function probe(extra: Partial<ContainerSpec> = {}): Promise<Record<string, string>> {
  const r = await lab.run(probeSpec("sleep 100 & /probe/seccomp-probe $!; kill $!", extra));
  expect(r.err).toEqual([]);
  return Object.fromEntries(r.out.map((l) => l.split(" ") as [string, string]));
}

function statusField(lines: string[], key: string): string {
  const line = lines.find((l) => l.startsWith(key + ":"));
  if (!line) throw new Error(`${key} missing from /proc/self/status`);
  return line.slice(key.length + 1).trim();
}

describe("capabilities and no_new_privs", () => {
  it("has no CAP_SYS_ADMIN, runs with no_new_privs and under a seccomp filter", async () => {
    const r = await lab.run(lab.spec(["cat", "/proc/self/status"]));
    const eff = BigInt("0x" + statusField(r.out, "CapEff"));
    const bnd = BigInt("0x" + statusField(r.out, "CapBnd"));
    expect((eff >> CAP_SYS_ADMIN) & 1n).toBe(0n);
    expect((bnd >> CAP_SYS_ADMIN) & 1n).toBe(0n);
    expect(statusField(r.out, "NoNewPrivs")).toBe("1");
    expect(statusField(r.out, "Seccomp")).toBe("2");
  });
});

describe("default seccomp profile", () => {
  it("refuses what Docker's default profile refuses with EPERM", async () => {
    const got = await probe();
    const refused = [
      "keyctl", "add_key", "request_key", "ptrace", "mount", "umount2", "unshare-mount", "unshare-user", "setns",
      "clone-newuser", "bpf", "perf_event_open", "userfaultfd", "open_by_handle_at", "kexec_load", "init_module",
      "personality-exec", "socket-vsock",
    ];
    expect(Object.fromEntries(refused.map((n) => [n, got[n]]))).toEqual(Object.fromEntries(refused.map((n) => [n, "EPERM"])));
  });

  it("answers ENOSYS where libc must fall back (clone3, calls newer than the profile) and keeps threads and fork working", async () => {
    const got = await probe();
    expect(got).toMatchObject({ clone3: "ENOSYS", "syscall-462": "ENOSYS", thread: "ok", fork: "ok" });
    expect(got).toMatchObject({ "personality-query": "ok", "socket-inet": "ok" });
  });

  it("refuses busybox's mount and unshare", async () => {
    const r = await lab.run(lab.spec(["sh", "-c", "unshare -m true; unshare -U true; mount -t tmpfs t /tmp; echo done"]));
    expect(r.out).toEqual(["done"]);
    expect(r.err).toHaveLength(3);
    for (const line of r.err) expect(line).toMatch(/Operation not permitted|permission denied/);
  });

  it("applies to processes started by exec too", async () => {
    const { stateDir } = await lab.start(probeSpec("sleep 1000"));
    const child = exec(stateDir, ["sh", "-c", "grep '^Seccomp:' /proc/self/status; /probe/seccomp-probe 1 | grep -E '^(keyctl|ptrace) '"]);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toEqual(["Seccomp:\t2", "keyctl EPERM", "ptrace EPERM"]);
  });

  it("lifts with seccomp unconfined, while capabilities still refuse mount", async () => {
    const got = await probe({ seccomp: "unconfined" });
    expect(got).toMatchObject({ keyctl: "ok", ptrace: "ok", "unshare-user": "ok", clone3: "EINVAL" });
    expect(got).toMatchObject({ mount: "EPERM", "unshare-mount": "EPERM" });
    const r = await lab.run(lab.spec(["sh", "-c", "grep '^Seccomp:' /proc/self/status"], { seccomp: "unconfined" }));
    expect(r.out).toEqual(["Seccomp:\t0"]);
  });
});

describe("masked and read-only paths", () => {
  it("hides Docker's masked paths and refuses writes to the read-only ones", async () => {
    const r = await lab.run(
      lab.spec(["sh", "-c", [
        "for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do test -e $f && printf '%s %s\\n' $f $(wc -c < $f); done",
        "for d in /sys/firmware /proc/scsi /proc/acpi; do test -d $d && printf '%s %s\\n' $d $(ls -A $d | wc -l); done",
        "for f in /proc/sysrq-trigger /proc/sys/kernel/hostname; do echo x 2>/dev/null > $f || echo $f read-only; done",
        "touch /proc/irq/x 2>/dev/null || echo /proc/irq read-only",
      ].join("; ")]),
    );
    const shown = r.out.filter((l) => !l.endsWith("read-only"));
    expect(shown.length).toBeGreaterThan(0);
    for (const line of shown) expect(line).toMatch(/ 0$/);
    expect(r.out.filter((l) => l.endsWith("read-only"))).toEqual([
      "/proc/sysrq-trigger read-only",
      "/proc/sys/kernel/hostname read-only",
      "/proc/irq read-only",
    ]);
  });
});

describe("ordinary workloads", () => {
  it("serve and fetch over HTTP with busybox httpd and wget", async () => {
    const r = await lab.run(
      lab.spec(["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && wget -qO- http://127.0.0.1:8080/index.html; echo exit=$?"]),
    );
    expect(r.out).toEqual(["hello", "exit=0"]);
  });

  it("runs pipelines, subshells, chroot and chown as root", async () => {
    const r = await lab.run(
      lab.spec(["sh", "-c", "echo a b c | tr ' ' '\\n' | sort -r | head -1; (cd /tmp && touch f && chown 65534:65534 f && stat -c %u f); chroot / true && echo chroot-ok"]),
    );
    expect(r.out).toEqual(["c", "65534", "chroot-ok"]);
  });
});
