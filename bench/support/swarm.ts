// Docker Swarm as the cluster benches' peer (Debian's docker.io 20.10, installed when missing).
// Each node is a dockerd started by hand in its own network namespace, joined by veth to a
// bridge, and in its own mount namespace with a private /run (as the lab's hosts are): docker0,
// docker_gwbridge, the iptables rules and the overlay devices dockerd makes all stay inside the
// node's namespaces and go with them. A freezer and a cpuacct cgroup per node hold dockerd,
// containerd and the shims; containers live under the node's own --cgroup-parent. Stopping is
// by PID, then every process of the node is killed and its cgroups, namespaces, links and
// directories removed. Offline: DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 and --no-resolve-image,
// images from `docker import` of busybox rootfs tarballs.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { killCgroup, makeCgroup, removeDaemonCgroups, removeCgroup } from "../../lab/cgroup.js";
import { ipBatch, processAlive } from "../../lab/host.js";
import { pickSubnet } from "../../lab/names.js";
import { killHostProcesses } from "../../lab/power.js";
import { listLabs } from "../../lab/state.js";
import { makeBusyboxTarball } from "../../test/support/busybox.js";
import { PROMPT_STOP, runCli, sleep, type CliRun, type Peer, type ServiceOptions, type TaskView } from "./peer.js";

export const DOCKER = "/usr/bin/docker"; // Debian's 20.10 client (another docker may come first on PATH)
const DOCKERD = "/usr/sbin/dockerd";
const ROOT = "/var/lib/shoal-swarmbench";
const FREEZER = "/sys/fs/cgroup/freezer/shoal-swarmbench";
const CPUACCT = "/sys/fs/cgroup/cpuacct/shoal-swarmbench";
const API = "/v1.41";

interface SwarmNode {
  name: string; // netns name and hostname: sb-<tag>-n1
  veth: string;
  address: string;
  dir: string;
  socket: string;
  cgroupParent: string; // containers' cgroups: /<cgroupParent>/<id> in every hierarchy
  pid?: number;
  mntIno?: number;
  netIno?: number;
}

interface SwarmState {
  tag: string;
  dir: string;
  bridge: string;
  prefix: string;
  nodes: SwarmNode[];
}

/** Installs Debian's docker.io when its client or daemon is missing; starts no service. */
export function ensureDockerIo(): void {
  if (existsSync(DOCKER) && existsSync(DOCKERD)) return;
  console.log("bench: Docker Swarm's side needs Debian's docker.io: apt-get install docker.io");
  // Without a policy-rc.d the package's scripts would start a dockerd on the machine itself.
  const policy = "/usr/sbin/policy-rc.d";
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "docker.io"], { env, stdio: "inherit" }).status;
    if (install() !== 0) {
      spawnSync("apt-get", ["update"], { env, stdio: "inherit" });
      install();
    }
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  if (!existsSync(DOCKER) || !existsSync(DOCKERD)) throw new Error("bench: docker.io did not install: run apt-get install docker.io and try again");
}

const stateFile = (tag: string) => join(ROOT, tag, "state.json");
const nsInode = (path: string): number | undefined => {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
};
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" });

/** Whether the machine's own namespace has docker0 or a DOCKER iptables chain (none of ours should). */
export function rootDockerTraces(): string[] {
  const out: string[] = [];
  if (spawnSync("ip", ["link", "show", "docker0"], { stdio: "ignore" }).status === 0) out.push("docker0");
  if (spawnSync("iptables", ["-n", "-L", "DOCKER"], { stdio: "ignore" }).status === 0) out.push("iptables chain DOCKER");
  return out;
}

export class SwarmCluster implements Peer {
  readonly name = "swarm" as const;
  private nodeNames = new Map<string, string>();

  private constructor(private readonly st: SwarmState) {}

  get nodes(): number {
    return this.st.nodes.length;
  }

  /** A swarm of `nodes` dockerds (the first the manager) with busybox:1 and busybox:2 on each. */
  static async up(tag: string, nodes: number): Promise<SwarmCluster> {
    ensureDockerIo();
    await SwarmCluster.down(tag);
    const before = rootDockerTraces();
    const dir = join(ROOT, tag);
    const taken = new Set(listLabs().map((l) => l.prefix));
    const prefix = pickSubnet(`swarmbench-${tag}`, taken);
    const st: SwarmState = {
      tag,
      dir,
      bridge: `sb-${tag}`.slice(0, 15),
      prefix,
      nodes: Array.from({ length: nodes }, (_, i) => {
        const name = `sb-${tag}-n${i + 1}`;
        const ndir = join(dir, `n${i + 1}`);
        return { name, veth: `sb${tag}v${i + 1}`.slice(0, 15), address: `${prefix}.${10 + i}`, dir: ndir, socket: join(ndir, "docker.sock"), cgroupParent: `shoal-swarmbench-${tag}-n${i + 1}` };
      }),
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(stateFile(tag), JSON.stringify(st, null, 2)); // before anything exists: down undoes what it finds
    const c = new SwarmCluster(st);
    try {
      ipBatch([`link add ${st.bridge} type bridge`, `addr add ${prefix}.1/24 dev ${st.bridge}`, `link set ${st.bridge} up`]);
      for (const n of st.nodes) {
        ipBatch([`netns add ${n.name}`, `link add ${n.veth} type veth peer name eth0 netns ${n.name}`, `link set ${n.veth} master ${st.bridge} up`]);
        ipBatch([`addr add ${n.address}/24 dev eth0`, "link set eth0 up", "link set lo up"], n.name);
        n.pid = c.startNode(n);
        n.netIno = nsInode(`/run/netns/${n.name}`);
        writeFileSync(stateFile(tag), JSON.stringify(st, null, 2));
      }
      await Promise.all(st.nodes.map((n) => c.waitPing(n)));
      for (const n of st.nodes) n.mntIno = nsInode(`/proc/${n.pid}/ns/mnt`);
      writeFileSync(stateFile(tag), JSON.stringify(st, null, 2));
      await c.formSwarm();
      await c.importImages();
      const after = rootDockerTraces().filter((x) => !before.includes(x));
      if (after.length) throw new Error(`dockerd touched the machine's own namespace (${after.join(", ")}): the bench's isolation is broken`);
    } catch (err) {
      await SwarmCluster.down(tag);
      throw err;
    }
    return c;
  }

  /** Stops every node by PID and removes all the swarm's processes, cgroups, links and files. */
  static async down(tag: string): Promise<void> {
    if (!existsSync(stateFile(tag))) return;
    const st = JSON.parse(readFileSync(stateFile(tag), "utf8")) as SwarmState;
    await Promise.all(st.nodes.map((n) => stopNode(st, n)));
    const removeOrSay = (dir: string) => {
      try {
        removeCgroup(dir);
      } catch (err) {
        console.error(`bench: cannot remove cgroup ${dir}: ${(err as Error).message}`);
      }
    };
    for (const n of st.nodes) {
      removeDaemonCgroups(n.cgroupParent);
      removeOrSay(join(FREEZER, tag, n.name));
      removeOrSay(join(CPUACCT, tag, n.name));
      quiet("ip", ["netns", "del", n.name]);
      quiet("ip", ["link", "del", n.veth]);
    }
    removeOrSay(join(FREEZER, tag));
    removeOrSay(join(CPUACCT, tag));
    quiet("ip", ["link", "del", st.bridge]);
    rmSync(st.dir, { recursive: true, force: true });
    // The shared parents go with the last swarm of the bench.
    for (const d of [FREEZER, CPUACCT, ROOT]) {
      try {
        rmdirSync(d);
      } catch {
        // another swarm still uses it
      }
    }
  }

  async stop(): Promise<void> {
    await SwarmCluster.down(this.st.tag);
  }

  /** dockerd in the node's netns and a private mount namespace with its own /run; returns its PID. */
  private startNode(n: SwarmNode): number {
    mkdirSync(n.dir, { recursive: true });
    const freezer = join(FREEZER, this.st.tag, n.name);
    const cpuacct = join(CPUACCT, this.st.tag, n.name);
    makeCgroup(freezer);
    makeCgroup(cpuacct);
    const config = join(n.dir, "daemon.json");
    writeFileSync(config, JSON.stringify({ "log-level": "warn" }));
    const script = [
      "set -e",
      `echo $$ > ${freezer}/cgroup.procs`,
      `echo $$ > ${cpuacct}/cgroup.procs`,
      `echo ${n.name} > /proc/sys/kernel/hostname`,
      "mount -t tmpfs -o mode=755 swarmbench-run /run",
      "mkdir -p /run/netns /run/lock",
      'exec "$@"',
    ].join("\n");
    const args = [
      DOCKERD,
      "--config-file", config,
      "--data-root", join(n.dir, "data"),
      "--exec-root", "/run/docker",
      "--pidfile", join(n.dir, "dockerd.pid"),
      "-H", `unix://${n.socket}`,
      "--cgroup-parent", `/${n.cgroupParent}`,
    ];
    const log = openSync(join(n.dir, "dockerd.log"), "a");
    const child = spawn("unshare", ["--mount", "--uts", "--propagation", "private", "--", "nsenter", `--net=/run/netns/${n.name}`, "--", "sh", "-c", script, "swarm-node", ...args], {
      detached: true,
      stdio: ["ignore", log, log],
      env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: "1" },
    });
    child.unref();
    if (!child.pid) throw new Error(`could not start dockerd for ${n.name}: see ${join(n.dir, "dockerd.log")}`);
    return child.pid;
  }

  private async waitPing(n: SwarmNode, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.http(n, "GET", "/_ping");
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`dockerd of ${n.name} did not answer on ${n.socket}: see ${join(n.dir, "dockerd.log")}`);
        await sleep(100);
      }
    }
  }

  private async formSwarm(): Promise<void> {
    const [m, ...workers] = this.st.nodes;
    must(await this.docker(0, "swarm", "init", "--advertise-addr", m.address), "docker swarm init");
    const token = must(await this.docker(0, "swarm", "join-token", "-q", "worker"), "docker swarm join-token").out.trim();
    for (const [i, w] of workers.entries()) must(await this.docker(i + 1, "swarm", "join", "--token", token, "--advertise-addr", w.address, `${m.address}:2377`), `docker swarm join on ${w.name}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const nodes = (await this.api(0, "/nodes")) as { ID: string; Description: { Hostname: string }; Status: { State: string } }[];
      if (nodes.length === this.st.nodes.length && nodes.every((x) => x.Status.State === "ready")) {
        for (const x of nodes) this.nodeNames.set(x.ID, x.Description.Hostname);
        return;
      }
      if (Date.now() > deadline) throw new Error("the swarm's nodes are not all ready after 60 s");
      await sleep(200);
    }
  }

  /** busybox:1 and busybox:2 on every node: rootfs tarballs (index.html says v1 / v2), httpd as CMD. */
  private async importImages(): Promise<void> {
    for (const v of [1, 2]) {
      const work = mkdtempSync(join(this.st.dir, `rootfs${v}-`));
      const tar = makeBusyboxTarball(join(this.st.dir, `busybox${v}.tar`), work, { "var/www/index.html": `shoal v${v}\n` });
      for (const i of this.st.nodes.keys()) {
        must(await this.docker(i, "import", "--change", 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]', tar, `busybox:${v}`), `docker import busybox:${v}`);
      }
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** The docker CLI against node `i` (0: the manager). */
  docker(i: number, ...args: string[]): Promise<CliRun> {
    return runCli(DOCKER, args, { ...process.env, DOCKER_HOST: `unix://${this.st.nodes[i].socket}` });
  }

  private http(n: SwarmNode, method: string, path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: n.socket, method, path, timeout: 10_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => (res.statusCode && res.statusCode < 300 ? resolve(body) : reject(new Error(`${method} ${path}: ${res.statusCode} ${body.trim()}`))));
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
      req.on("error", reject);
      req.end();
    });
  }

  /** The Engine API of node `i`, as JSON. */
  async api(i: number, path: string): Promise<unknown> {
    return JSON.parse(await this.http(this.st.nodes[i], "GET", API + path));
  }

  create(service: string, replicas: number, o: ServiceOptions): Promise<CliRun> {
    const flags = ["--replicas", String(replicas)];
    if (o.onManager) flags.push("--constraint", "node.role==manager");
    if (o.restartDelay0) flags.push("--restart-delay", "0s");
    return this.docker(0, "service", "create", "-d", "--no-resolve-image", "--name", service, ...flags, o.image, ...PROMPT_STOP);
  }

  scale(service: string, replicas: number): Promise<CliRun> {
    return this.docker(0, "service", "scale", "-d", `${service}=${replicas}`);
  }

  update(service: string, image: string, parallelism: number): Promise<CliRun> {
    return this.docker(0, "service", "update", "-d", "--no-resolve-image", "--image", image, "--update-parallelism", String(parallelism), "--update-delay", "0s", service);
  }

  remove(service: string): Promise<CliRun> {
    return this.docker(0, "service", "rm", service);
  }

  async tasks(service: string): Promise<TaskView[]> {
    const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
    const ts = (await this.api(0, `/tasks?filters=${filters}`)) as SwarmTask[];
    return ts.map((t) => ({
      id: t.ID,
      slot: t.Slot ?? 0,
      node: this.nodeNames.get(t.NodeID) ?? t.NodeID ?? "",
      state: t.Status.State,
      desired: t.DesiredState,
      image: t.Spec.ContainerSpec.Image,
      pid: t.Status.ContainerStatus?.PID ?? 0,
      containerId: t.Status.ContainerStatus?.ContainerID ?? "",
      createdAt: Date.parse(t.CreatedAt),
      stateAt: Date.parse(t.Status.Timestamp),
    }));
  }

  async containerTimes(node: string, containerId: string): Promise<{ created: number; started: number }> {
    const i = this.st.nodes.findIndex((n) => n.name === node);
    const c = (await this.api(i, `/containers/${containerId}/json`)) as { Created: string; State: { StartedAt: string } };
    return { created: Date.parse(c.Created), started: Date.parse(c.State.StartedAt) };
  }

  async serviceCreatedAt(service: string): Promise<number> {
    return Date.parse(((await this.api(0, `/services/${service}`)) as { CreatedAt: string }).CreatedAt);
  }

  async containers(): Promise<number> {
    const counts = await Promise.all(this.st.nodes.map((_, i) => this.api(i, "/containers/json?all=1") as Promise<unknown[]>));
    return counts.reduce((a, b) => a + b.length, 0);
  }

  /** dockerd + containerd + shims + runc of each node (their cpuacct cgroup; containers excluded). */
  cpuMs(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.st.nodes) out[n.name.replace(`sb-${this.st.tag}-`, "")] = Number(readFileSync(join(CPUACCT, this.st.tag, n.name, "cpuacct.usage"), "utf8")) / 1e6;
    return out;
  }

  /** Memory of a node's daemons (RSS KiB of dockerd and containerd). */
  rssKiB(i: number): Record<string, number> {
    const n = this.st.nodes[i];
    const out: Record<string, number> = {};
    const procs = readFileSync(join(FREEZER, this.st.tag, n.name, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
    for (const pid of procs) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const name = /Name:\s+(\S+)/.exec(status)![1];
        out[name] = (out[name] ?? 0) + Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      } catch {
        // gone
      }
    }
    return out;
  }
}

interface SwarmTask {
  ID: string;
  Slot?: number;
  NodeID: string;
  CreatedAt: string;
  DesiredState: string;
  Spec: { ContainerSpec: { Image: string } };
  Status: { State: string; Timestamp: string; ContainerStatus?: { PID?: number; ContainerID?: string } };
}

function must(r: CliRun, what: string): CliRun {
  if (r.code !== 0) throw new Error(`${what} failed: ${(r.err || r.out).trim().split("\n")[0]}`);
  return r;
}

/** SIGTERM to dockerd (it stops its containers and containerd), SIGKILL after 20 s; then the rest. */
async function stopNode(st: SwarmState, n: SwarmNode): Promise<void> {
  // Only the dockerd we started: a PID left in the state file by a crashed run may be reused.
  const freezer = join(FREEZER, st.tag, n.name);
  const ours = n.pid !== undefined && existsSync(join(freezer, "cgroup.procs")) && readFileSync(join(freezer, "cgroup.procs"), "utf8").split("\n").includes(String(n.pid));
  if (n.pid && ours) {
    try {
      process.kill(n.pid, "SIGTERM");
    } catch {
      // gone
    }
    for (let i = 0; i < 200 && processAlive(n.pid); i++) await sleep(100);
  }
  await killCgroup(freezer);
  // Containers (own namespaces, under the node's cgroup parent) and anything in the node's namespaces.
  const nsInodes = [n.netIno ?? nsInode(`/run/netns/${n.name}`), n.mntIno].filter((x): x is number => x !== undefined);
  await killHostProcesses({ freezer: `/shoal-swarmbench/${st.tag}/${n.name}`, cgroupParent: n.cgroupParent, nsInodes });
}
