// Issue 2's acceptance, as a user sees it: the real `shoal` CLI against a private daemon.
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeBusyboxTarball } from "../../support/busybox.js";
import { freePort, NODE_CLI, run, shoalCommand, sleep, TestDaemon, until } from "./harness.js";

const IMG = "itest/busybox:1";
let d: TestDaemon;
const sh = (...args: string[]) => d.shoal(...args);
const inspect = async (c: string) => JSON.parse((await sh("inspect", c)).stdout)[0];
const containers = async () => (await sh("ps", "-aq")).stdout;

beforeAll(async () => {
  d = new TestDaemon();
  await d.start();
  const work = mkdtempSync(join(d.root, "rootfs-"));
  const tar = makeBusyboxTarball(join(d.root, "busybox.tar"), work, { "var/www/index.html": "hello from shoal\n" });
  const imp = await sh("import", tar, IMG);
  expect(imp.stderr).toBe("");
  expect(imp.code).toBe(0);
});

afterAll(async () => {
  if (!d) return;
  const left = await d.destroy();
  expect(left).toEqual([]);
});

describe("run", () => {
  test("the container's shell is PID 1 and sees its own hostname", async () => {
    const r = await sh("run", "--rm", "-h", "box1", IMG, "sh", "-c", "echo $$; hostname");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("1\nbox1\n");
    const noName = await sh("run", "--rm", IMG, "hostname");
    expect(noName.stdout.trim()).toMatch(/^[0-9a-f]{12}$/);
    expect((await sh("ps", "-aq")).stdout).toBe("");
  });

  test("exits with the container's exit code", async () => {
    expect((await sh("run", "--rm", IMG, "sh", "-c", "exit 3")).code).toBe(3);
  });

  test("-d prints the 64-hex id, ps lists it, stop and rm remove it", async () => {
    const r = await sh("run", "-d", "--name", "sleeper", IMG, "sleep", "1000");
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const ps = await sh("ps");
    expect(ps.stdout.split("\n")[0]).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    expect(ps.stdout).toContain("sleeper");
    expect(ps.stdout).toContain(r.stdout.slice(0, 12));
    const dup = await sh("run", "-d", "--name", "sleeper", IMG, "true");
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/^shoal: .*already in use.*\n$/);
    expect((await sh("rm", "sleeper")).code).not.toBe(0); // running
    const t0 = Date.now();
    expect((await sh("stop", "-t", "1", "sleeper")).code).toBe(0); // sleep ignores SIGTERM as PID 1
    expect(Date.now() - t0).toBeLessThan(8000);
    const info = await inspect("sleeper");
    expect(info.State.Status).toBe("exited");
    expect(info.State.ExitCode).toBe(137);
    expect((await sh("rm", "sleeper")).code).toBe(0);
    expect((await sh("ps", "-aq")).stdout).toBe("");
  });

  test("exec runs inside a running container", async () => {
    await sh("run", "-d", "--name", "ex", IMG, "sleep", "1000");
    const r = await sh("exec", "ex", "sh", "-c", "echo in; cat /etc/hostname; exit 4");
    expect(r.stdout).toContain("in\n");
    expect(r.code).toBe(4);
    await sh("rm", "-f", "ex");
  });

  test("a started container's own layer holds only what it wrote: /etc/hosts and its kin come from the shared init layer", async () => {
    const id = (await sh("run", "-d", "-h", "tidy", IMG, "sh", "-c", "echo x > /tmp/mine; sleep 1000")).stdout.trim();
    const upper = join(d.dataRoot, "containers", id, "fs", "upper");
    await until("the container's write", async () => existsSync(join(upper, "tmp/mine")));
    expect(readdirSync(upper)).toEqual(["tmp"]);
    const r = await sh("exec", id, "cat", "/etc/hostname", "/etc/hosts");
    expect(r.stdout).toMatch(/^tidy\n127\.0\.0\.1\tlocalhost\n/);
    await sh("rm", "-f", id);
  });
});

describe("isolation and limits", () => {
  test("only lo and eth0, no host processes, no host files", async () => {
    const r = await sh("run", "--rm", IMG, "sh", "-c", "ls /sys/class/net; echo ---; ps -o pid,comm; echo ---; ls /work /etc/shadow 2>&1; true");
    const [nets, procs, files] = r.stdout.split("---\n");
    expect(nets.split(/\s+/).filter(Boolean).sort()).toEqual(["eth0", "lo"]);
    expect(procs.trim().split("\n").length).toBeLessThanOrEqual(3); // header, sh, ps
    expect(files).toMatch(/No such file/);
  });

  test("/proc/sys and mount are refused", async () => {
    expect((await sh("run", "--rm", IMG, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")).code).not.toBe(0);
    expect((await sh("run", "--rm", IMG, "mount", "-t", "tmpfs", "none", "/mnt")).code).not.toBe(0);
  });

  test("--memory 32m: a 64 MiB allocation is OOM-killed and inspect says so", async () => {
    const r = await sh("run", "--name", "oom", "--memory", "32m", IMG, "sh", "-c", "head -c 67108864 /dev/zero | tail");
    expect(r.code).toBe(137);
    const info = await inspect("oom");
    await sh("rm", "oom");
    expect(info.State.OOMKilled).toBe(true);
  });

  test("a fork bomb under --pids-limit 20 is contained", async () => {
    const id = (await sh("run", "-d", "--pids-limit", "20", IMG, "sh", "-c", "f() { f | f & }; f; sleep 1000")).stdout.trim();
    await sleep(3000);
    const pid = (await inspect(id)).State.Pid as number;
    const ns = readlinkSync(`/proc/${pid}/ns/pid`);
    const inside = readdirSync("/proc").filter((p) => /^\d+$/.test(p) && safeReadlink(`/proc/${p}/ns/pid`) === ns);
    expect(inside.length).toBeLessThanOrEqual(20);
    expect((await sh("rm", "-f", id)).code).toBe(0);
  });

  test("a busy loop under --cpus 0.5 gets about half a core", async () => {
    const id = (await sh("run", "-d", "--cpus", "0.5", IMG, "sh", "-c", "while :; do :; done")).stdout.trim();
    const pid = (await inspect(id)).State.Pid as number;
    const ticks = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ").slice(11, 13).reduce((a, b) => a + Number(b), 0);
    await sleep(500);
    const t0 = ticks();
    await sleep(3000);
    const share = (ticks() - t0) / 100 / 3;
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.7);
    await sh("rm", "-f", id);
  });
});

describe("volumes", () => {
  test("named volumes and bind mounts keep data after rm; :ro refuses writes", async () => {
    expect((await sh("run", "--rm", "-v", "vol1:/data", IMG, "sh", "-c", "echo kept > /data/f")).code).toBe(0);
    expect((await sh("run", "--rm", "-v", "vol1:/data", IMG, "cat", "/data/f")).stdout).toBe("kept\n");
    const host = mkdtempSync(join(d.root, "bind-"));
    expect((await sh("run", "--rm", "-v", `${host}:/b`, IMG, "sh", "-c", "echo bound > /b/g")).code).toBe(0);
    expect(readFileSync(join(host, "g"), "utf8")).toBe("bound\n");
    expect((await sh("run", "--rm", "-v", `${host}:/b:ro`, IMG, "sh", "-c", "echo no > /b/h")).code).not.toBe(0);
    expect(existsSync(join(host, "h"))).toBe(false);
    expect((await sh("run", "--rm", "-v", "vol1:/data:ro", IMG, "sh", "-c", "echo no > /data/x")).code).not.toBe(0);
    expect((await sh("volume", "ls")).stdout).toContain("vol1");
  });

  test("volume rm is refused while a container uses it", async () => {
    expect((await sh("volume", "create", "vol2")).stdout).toBe("vol2\n");
    await sh("run", "-d", "--name", "user2", "-v", "vol2:/d", IMG, "sleep", "1000");
    const r = await sh("volume", "rm", "vol2");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^shoal: volume vol2 is in use.*\n$/);
    await sh("rm", "-f", "user2");
    expect((await sh("volume", "rm", "vol2")).code).toBe(0);
    const info = JSON.parse((await sh("volume", "inspect", "vol1")).stdout)[0];
    expect(info.Mountpoint).toBe(join(d.dataRoot, "volumes/vol1/_data"));
  });
});

describe("networking", () => {
  test("-p publishes a port that answers on 127.0.0.1; containers reach each other", async () => {
    const port = await freePort();
    const web = await sh("run", "-d", "--name", "web", "-p", `${port}:80`, IMG, "httpd", "-f", "-p", "80", "-h", "/var/www");
    expect(web.code).toBe(0);
    const body = await until("httpd to answer", async () => {
      const r = await run("curl", ["-s", "-m", "2", `http://127.0.0.1:${port}/`]);
      return r.code === 0 && r.stdout;
    });
    expect(body).toBe("hello from shoal\n");
    expect((await sh("ps")).stdout).toContain(`0.0.0.0:${port}->80/tcp`);
    const ip = (await inspect("web")).NetworkSettings.IPAddress as string;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const peer = await sh("run", "--rm", IMG, "wget", "-qO-", `http://${ip}/`);
    expect(peer.stdout).toBe("hello from shoal\n");

    // The same host port again: refused, and nothing half-made is left.
    const before = d.leftovers();
    const listed = await containers();
    const again = await sh("run", "-d", "-p", `${port}:80`, IMG, "true");
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^shoal: port .* already .*\n$/);
    expect(await d.leftoversSettled(before)).toEqual(before);
    expect(await containers()).toBe(listed);
    await sh("rm", "-f", "web");
    expect((await run("curl", ["-s", "-m", "1", `http://127.0.0.1:${port}/`])).code).not.toBe(0);
  });

  test("a port a host socket holds is refused", async () => {
    const listed = await containers();
    const srv = createServer().listen(0, "0.0.0.0");
    await new Promise((r) => srv.once("listening", r));
    const port = (srv.address() as { port: number }).port;
    const r = await sh("run", "--rm", "-p", `${port}:80`, IMG, "true");
    srv.close();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^shoal: port .* in use.*\n$/);
    expect(await containers()).toBe(listed);
  });

  test("--network none has only lo; host shares the host's interfaces", async () => {
    expect((await sh("run", "--rm", "--network", "none", IMG, "ls", "/sys/class/net")).stdout.trim()).toBe("lo");
    const hostNets = readdirSync("/sys/class/net").sort();
    const r = await sh("run", "--rm", "--network", "host", IMG, "ls", "/sys/class/net");
    expect(r.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(hostNets);
  });
});

describe("daemon restarts and restart policies", () => {
  test("kill -9 of the daemon: the container runs on, same PID; ps and logs -f resume", async () => {
    await sh("run", "-d", "--name", "survivor", IMG, "sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done");
    const pid = (await inspect("survivor")).State.Pid;
    await d.stop("SIGKILL");
    await sleep(500);
    await d.start();
    expect((await sh("ps")).stdout).toContain("survivor");
    const info = await inspect("survivor");
    expect(info.State.Running).toBe(true);
    expect(info.State.Pid).toBe(pid);
    const follow = run("timeout", ["2", ...shoalCommand(["logs", "-f", "--tail", "1", "survivor"]).flat()], { SHOAL_HOST: d.host });
    const out = (await follow).stdout.trim().split("\n");
    expect(out.length).toBeGreaterThanOrEqual(4); // the tail line plus new ones while following
    await sh("rm", "-f", "survivor");
  });

  test("kill -9 of the daemon: running containers keep their addresses, and a new one gets another", async () => {
    const before: string[] = [];
    for (const n of ["addr-a", "addr-b"]) {
      expect((await sh("run", "-d", "--name", n, IMG, "sleep", "1000")).code).toBe(0);
      before.push((await inspect(n)).NetworkSettings.IPAddress);
    }
    await d.stop("SIGKILL");
    await d.start();
    expect((await sh("run", "-d", "--name", "addr-c", IMG, "sleep", "1000")).code).toBe(0);
    const after = [];
    for (const n of ["addr-a", "addr-b", "addr-c"]) after.push((await inspect(n)).NetworkSettings.IPAddress);
    expect(after.slice(0, 2)).toEqual(before);
    expect(new Set(after).size).toBe(3);
    // The new container reaches one that ran across the restart: its address is its own.
    expect((await sh("exec", "addr-c", "ping", "-c", "1", "-W", "2", before[0])).code).toBe(0);
    await sh("rm", "-f", "addr-a", "addr-b", "addr-c");
  });

  test("kill -9 of the daemon between a start and its record: the start is undone, and the container starts again", async () => {
    await sh("run", "-d", "--name", "unrecorded", IMG, "sleep", "1000");
    const before = await inspect("unrecorded");
    await d.stop("SIGKILL");
    // What the daemon had written when it died just after the runtime's start: the record of a
    // container created and not yet started (its save of the running state never made it).
    const file = join(d.dataRoot, "containers", before.Id, "container.json");
    const rec = JSON.parse(readFileSync(file, "utf8"));
    rec.state = { ...rec.state, status: "created", pid: 0, shimPid: 0, startedAt: "" };
    rec.network = null;
    writeFileSync(file, JSON.stringify(rec));
    await d.start();
    expect((await inspect("unrecorded")).State.Status).toBe("created");
    await until("the unrecorded process to be gone", async () => !existsSync(`/proc/${before.State.Pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${before.State.Pid}/status`, "utf8")));
    expect((await sh("start", "unrecorded")).code).toBe(0);
    expect((await inspect("unrecorded")).State.Running).toBe(true);
    await sh("rm", "-f", "unrecorded");
  });

  test("a container that died while the daemon was down is noticed", async () => {
    await sh("run", "-d", "--name", "dies", IMG, "sleep", "1000");
    const pid = (await inspect("dies")).State.Pid;
    await d.stop("SIGKILL");
    process.kill(pid, "SIGKILL");
    await sleep(300);
    await d.start();
    const info = await until("exit to be noticed", async () => {
      const i = await inspect("dies");
      return i.State.Status === "exited" && i;
    });
    expect(info.State.ExitCode).toBe(137);
    await sh("rm", "dies");
  });

  test("--restart always: a SIGKILLed container runs again", async () => {
    await sh("run", "-d", "--name", "phoenix", "--restart", "always", IMG, "sleep", "1000");
    const pid = (await inspect("phoenix")).State.Pid;
    process.kill(pid, "SIGKILL");
    const info = await until("restart", async () => {
      const i = await inspect("phoenix");
      return i.State.Running && i.State.Pid !== pid && i;
    });
    expect(info.RestartCount).toBe(1);
    expect((await sh("stop", "-t", "0", "phoenix")).code).toBe(0);
    await sleep(300);
    expect((await inspect("phoenix")).State.Running).toBe(false);
    await sh("rm", "phoenix");
  });

  test("--restart on-failure:3 gives up after three restarts", async () => {
    await sh("run", "-d", "--name", "quitter", "--restart", "on-failure:3", IMG, "sh", "-c", "exit 1");
    const info = await until("giving up", async () => {
      const i = await inspect("quitter");
      return i.State.Status === "exited" && i.RestartCount === 3 && i;
    });
    expect(info.State.ExitCode).toBe(1);
    await sleep(1500);
    expect((await inspect("quitter")).RestartCount).toBe(3);
    await sh("rm", "quitter");
  });
});

describe("bad input: one line, non-zero, nothing left behind", () => {
  const oneLine = (r: { code: number; stderr: string }) => {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^shoal: [^\n]+\n$/);
  };

  test("each bad input", async () => {
    const before = d.leftovers();
    const listed = await containers();
    const cases: string[][] = [
      ["run", "--rm", "127.0.0.1:59999/no/such-image:1", "true"], // unknown here, and its registry is unreachable
      ["run", "--rm", "-v", "nocolon", IMG, "true"],
      ["run", "--rm", "-v", "a:relative", IMG, "true"],
      ["run", "--rm", "-p", "80", IMG, "true"],
      ["run", "--rm", "-p", "99999:80", IMG, "true"],
      ["run", "--rm", "--memory", "lots", IMG, "true"],
      ["run", "--rm", "--memory", "1k", IMG, "true"],
      ["run", "--rm", "--restart", "sometimes", IMG, "true"],
      ["run", "--rm", "--network", "mesh", IMG, "true"],
      ["stop", "nosuchcontainer"],
      ["rm", "nosuchcontainer"],
      ["logs", "nosuchcontainer"],
      ["inspect", "nosuchcontainer"],
      ["volume", "rm", "nosuchvolume"],
    ];
    for (const c of cases) {
      const r = await sh(...c);
      oneLine(r);
    }
    expect(await containers()).toBe(listed);
    expect(await d.leftoversSettled(before)).toEqual(before);
  });

  test("a command that does not exist fails the run and leaves nothing", async () => {
    const before = d.leftovers();
    const listed = await containers();
    const r = await sh("run", "--rm", IMG, "/no/such/binary");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no\/such\/binary/);
    expect(await containers()).toBe(listed);
    expect(await d.leftoversSettled(before)).toEqual(before);
  });

  test("no daemon: the message says how to start one", async () => {
    const r = await run(...shoalCommand(["ps"]), { SHOAL_HOST: "unix:///run/shoal-none/x.sock" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe("shoal: cannot connect to the Shoal daemon at unix:///run/shoal-none/x.sock: is `shoal daemon` running?\n");
    const dflt = await run(...shoalCommand(["ps"]), { SHOAL_HOST: "" });
    if (!existsSync("/run/shoal/shoal.sock")) expect(dflt.stderr).toContain("unix:///run/shoal/shoal.sock: is `shoal daemon` running?");
  });

  test("a second daemon on the same data root refuses to start", async () => {
    const r = await run("node", [NODE_CLI, "daemon", "--data-root", d.dataRoot, "--exec-root", d.execRoot + "2", "--socket", d.socket + "2"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^shoal: another shoal daemon \(pid \d+\) is already using data root/);
    expect((await sh("version")).code).toBe(0);
  });
});

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return "";
  }
}
