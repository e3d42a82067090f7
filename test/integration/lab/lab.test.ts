// The lab on real namespaces. Hosts run a stand-in daemon here (a node process that answers on
// the host's socket and leaves a setsid'd child behind, as a shim would), so these tests check
// the lab itself, not `shoal daemon`.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { cgroupPids } from "../../../lab/cgroup.js";
import { hostCgroup, hostProcesses, packageRoot, type DaemonCommand } from "../../../lab/host.js";
import { labDown, labExec, labHeal, labKill, labPartition, labRows, labStart, labUp } from "../../../lab/lab.js";
import { bridgeName, FREEZER, vethName } from "../../../lab/names.js";
import { labDir, loadLab } from "../../../lab/state.js";

const STAND_IN = `
const cp = require("child_process");
// as a shim does: a new session, out of the daemon's cgroups
cp.spawn("setsid", ["sh", "-c", "echo $$ > /sys/fs/cgroup/freezer/cgroup.procs; exec sleep infinity"], { detached: true, stdio: "ignore" }).unref();
setTimeout(() => require("net").createServer((s) => { s.on("error", () => {}); s.end("ok\\n"); }).listen("/run/shoal/shoal.sock"), Number(process.env.LAB_DELAY || 0));
`;
const standIn: DaemonCommand = () => [process.execPath, "-e", STAND_IN];
const fast = { daemon: standIn, probe: "socket" as const, timeoutMs: 60_000 };

const tag = `${process.pid % 10000}`;
const made: string[] = [];
async function up(name: string, managers = 1, workers = 1) {
  made.push(name);
  return labUp({ name, managers, workers, ...fast });
}
afterAll(async () => {
  for (const n of made) await labDown(n);
});

/** A zombie waiting for its parent to reap it counts as dead. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const quietExec = (lab: string, host: string, cmd: string[]) => labExec(lab, host, ["sh", "-c", `${cmd.map((a) => `'${a}'`).join(" ")} >/dev/null 2>&1`]);
const reaches = (lab: string, from: string, addr: string) => quietExec(lab, from, ["busybox", "ping", "-c", "1", "-W", "2", addr]) === 0;

/** What of the lab can be seen on the machine: its names in links, netns, mounts, nft, processes. */
function traces(name: string, prefix: string): string[] {
  const marks = [name, bridgeName(name), vethName(name, `${name}-m1`).slice(0, 9), `${prefix}.`, labDir(name)];
  const out = [
    execFileSync("ip", ["netns", "ls"], { encoding: "utf8" }),
    execFileSync("ip", ["-o", "link"], { encoding: "utf8" }),
    readFileSync("/proc/self/mountinfo", "utf8"),
    execFileSync("nft", ["list", "ruleset"], { encoding: "utf8" }),
    execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" }),
  ].join("\n");
  return out.split("\n").filter((l) => marks.some((m) => l.includes(m)) && !l.includes("vitest") && !l.includes(" ps -eo"));
}

describe("shoal lab", () => {
  const name = `lt${tag}a`;

  it("builds hosts that reach each other, run commands as ssh would, and die and boot", async () => {
    const lab = await up(name);
    const [m1, w1] = lab.hosts;
    expect(labRows(name).map((r) => [r.host, r.role, r.state])).toEqual([[m1.name, "manager", "running"], [w1.name, "worker", "running"]]);
    expect(reaches(name, m1.name, w1.address)).toBe(true);
    expect(reaches(name, "w1", m1.address)).toBe(true);
    expect(labExec(name, "m1", ["sh", "-c", "exit 7"])).toBe(7);
    expect(labExec(name, "m1", ["sh", "-c", `test "$(cat /proc/sys/kernel/hostname)" = ${m1.name}`])).toBe(0);
    expect(labExec(name, "m1", ["sh", "-c", 'test "$SHOAL_HOST" = unix:///run/shoal/shoal.sock && test -S /run/shoal/shoal.sock'])).toBe(0);
    // The daemon's needs: the host's cgroup v1 mounts, and its own netns for containers.
    expect(labExec(name, "m1", ["sh", "-c", "test -f /sys/fs/cgroup/memory/cgroup.procs && ip netns add lab-nested && ip netns exec lab-nested ip link set lo up && ip netns del lab-nested"])).toBe(0);
    expect(existsSync("/run/netns/lab-nested")).toBe(false);
    expect(labExec(name, "w1", ["sh", "-c", `busybox wget -q -O - http://${lab.registry}/v2/library/busybox/tags/list | grep -q '"2"'`])).toBe(0);

    const before = hostProcesses(lab, w1);
    expect(before.length).toBeGreaterThanOrEqual(2); // the daemon and its escaped child
    expect(before.length).toBeGreaterThan(cgroupPids(hostCgroup(lab, w1.name)).length);
    await labKill(name, "w1");
    for (const pid of before) expect(alive(pid)).toBe(false);
    expect(labRows(name)[1].state).toBe("down");
    expect(reaches(name, m1.name, w1.address)).toBe(false); // powered off
    await labStart(name, "w1", fast);
    expect(reaches(name, m1.name, w1.address)).toBe(true);
    expect(labRows(name)[1].state).toBe("running");
    expect(labExec(name, "w1", ["test", "-S", "/run/shoal/shoal.sock"])).toBe(0);
  });

  it("partitions hosts and heals them", async () => {
    const lab = loadLab(name)!;
    const [m1, w1] = lab.hosts;
    labPartition(name, ["w1"]);
    expect(reaches(name, m1.name, w1.address)).toBe(false);
    expect(reaches(name, w1.name, m1.address)).toBe(false);
    labHeal(name);
    expect(reaches(name, m1.name, w1.address)).toBe(true);
  });

  it("runs two labs side by side without either touching the other", async () => {
    const other = `lt${tag}b`;
    const b = await up(other, 2, 0);
    const a = loadLab(name)!;
    expect(b.bridge).not.toBe(a.bridge);
    expect(b.prefix).not.toBe(a.prefix);
    labPartition(other, ["m2"]);
    expect(reaches(other, "m1", b.hosts[1].address)).toBe(false);
    expect(reaches(name, "m1", a.hosts[1].address)).toBe(true);
    // hosts of one lab cannot reach the other lab's hosts
    expect(reaches(name, "m1", b.hosts[0].address)).toBe(false);
    await labDown(other);
    expect(labRows(name).every((r) => r.state === "running")).toBe(true);
    expect(reaches(name, "m1", a.hosts[1].address)).toBe(true);
  });

  it("down leaves no trace of the lab", async () => {
    const lab = loadLab(name)!;
    expect(traces(name, lab.prefix).length).toBeGreaterThan(0);
    await labDown(name);
    expect(traces(name, lab.prefix)).toEqual([]);
    expect(existsSync(labDir(name))).toBe(false);
    expect(existsSync(join(FREEZER, name))).toBe(false);
  });
});

describe("shoal lab down after a crashed up", () => {
  const name = `lt${tag}c`;
  afterEach(async () => labDown(name));

  it("removes what an up killed with SIGKILL midway had made", async () => {
    const dist = join(packageRoot(), "dist/lab/lab.js");
    const script = `
      import { labUp } from ${JSON.stringify(dist)};
      await labUp({ name: ${JSON.stringify(name)}, managers: 2, workers: 1, probe: "socket", daemon: () => [process.execPath, "-e", ${JSON.stringify(STAND_IN)}] });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "ignore", env: { ...process.env, LAB_DELAY: "30000" } });
    // Wait until daemons run (the stand-ins wait 30 s to listen, so up is still waiting for them).
    for (let i = 0; i < 400; i++) {
      const lab = loadLab(name);
      if (lab?.hosts.every((h) => h.pid)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const lab = loadLab(name)!;
    expect(lab.hosts.every((h) => h.pid)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(traces(name, lab.prefix).length).toBeGreaterThan(0);
    await labDown(name);
    expect(traces(name, lab.prefix)).toEqual([]);
    expect(existsSync(join(FREEZER, name))).toBe(false);
  });
});

describe("shoal lab with the real daemon", () => {
  const name = `lt${tag}d`;
  afterAll(async () => labDown(name));
  const shoal = (host: string, ...args: string[]) => labExec(name, host, [process.execPath, join(packageRoot(), "dist/cli/main.js"), ...args]);

  it("pulls from the lab registry, and a killed host's containers die with it", async () => {
    const lab = await labUp({ name, managers: 1, workers: 1 });
    const w1 = lab.hosts[1];
    expect(shoal("w1", "run", "-d", "--name", "web", "busybox:2")).toBe(0);
    expect(labExec(name, "w1", ["sh", "-c", `${process.execPath} ${join(packageRoot(), "dist/cli/main.js")} exec web cat /var/www/index.html | grep -q "shoal v2"`])).toBe(0);
    const before = hostProcesses(lab, w1);
    expect(before.length).toBeGreaterThanOrEqual(3); // daemon, shim, httpd
    await labKill(name, "w1");
    for (const pid of before) expect(alive(pid)).toBe(false);
    await labStart(name, "w1");
    expect(shoal("w1", "images")).toBe(0);
    expect(shoal("w1", "rm", "-f", "web")).toBe(0);
  });
});
