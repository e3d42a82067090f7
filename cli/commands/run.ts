// `shoal run`: create (pulling an unknown image first), start, and in the foreground stream the
// output and exit with the container's code.
import type { Command } from "commander";
import { action, type Ctx } from "./action.js";
import { collect } from "../parse.js";

interface RunOpts {
  detach?: boolean;
  rm?: boolean;
  name?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  volume?: string[];
  publish?: string[];
  network: string;
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  restart?: string;
  stopTimeout?: string;
  stopSignal?: string;
  entrypoint?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command("run")
    .description("Run a command in a new container")
    .argument("<image>")
    .argument("[command...]")
    .option("-d, --detach", "run in the background and print the container id")
    .option("--rm", "remove the container when it exits")
    .option("--name <name>", "container name")
    .option("-e, --env <KEY=VALUE>", "environment variable (repeatable)", collect)
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user>", "user[:group] to run as")
    .option("-h, --hostname <name>", "container host name")
    .option("-v, --volume <SRC:DST[:ro]>", "bind mount or named volume (repeatable)", collect)
    .option("-p, --publish <[IP:]HOSTPORT:PORT[/udp]>", "publish a port (repeatable)", collect)
    .option("--network <mode>", "bridge, host or none", "bridge")
    .option("-m, --memory <size>", "memory limit (e.g. 32m)")
    .option("--cpus <n>", "CPU limit in cores (e.g. 0.5)")
    .option("--pids-limit <n>", "maximum number of processes")
    .option("--restart <policy>", "no, on-failure[:N], always or unless-stopped", "no")
    .option("--stop-timeout <seconds>", "grace period before SIGKILL on stop")
    .option("--stop-signal <signal>", "signal that stops the container", "SIGTERM")
    .option("--entrypoint <cmd>", "override the image's entrypoint")
    .helpOption("--help", "display help for command")
    .passThroughOptions();
  cmd.action(action(cmd, (ctx, image: string, args: string[], opts: RunOpts) => run(ctx, image, args, opts)));
}

async function run(ctx: Ctx, image: string, args: string[], o: RunOpts): Promise<number> {
  const { CliError, call } = await import("../client.js");
  const { parseCpus, parseEnv, parseSize, parseVolume } = await import("../parse.js");
  const { parsePublish } = await import("../../agent/network/ports.js");
  const { parseRestartPolicy } = await import("../../agent/engine/containers/restart-policy.js");
  const bad = (f: () => unknown) => {
    try {
      return f();
    } catch (e) {
      throw new CliError((e as Error).message, 125);
    }
  };
  const intOpt = (v: string | undefined, flag: string, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v) || Number(v) < min) throw new CliError(`invalid ${flag} ${JSON.stringify(v)}: use a whole number of at least ${min}`, 125);
    return Number(v);
  };
  const config = {
    image,
    cmd: args,
    entrypoint: o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : []) : [],
    entrypointSet: o.entrypoint !== undefined,
    env: (o.env ?? []).map(parseEnv),
    workingDir: o.workdir ?? "",
    user: o.user ?? "",
    hostname: o.hostname ?? "",
    mounts: (o.volume ?? []).map(parseVolume),
    ports: (o.publish ?? []).map((p) => bad(() => parsePublish(p)) as ReturnType<typeof parsePublish>),
    networkMode: o.network,
    memoryBytes: o.memory ? parseSize(o.memory, "--memory") : 0,
    nanoCpus: o.cpus ? parseCpus(o.cpus) : 0,
    pidsLimit: intOpt(o.pidsLimit, "--pids-limit", 1) ?? 0,
    restartPolicy: bad(() => parseRestartPolicy(o.restart ?? "no")) as { name: string; maximumRetryCount: number },
    autoRemove: !!o.rm,
    stopTimeout: intOpt(o.stopTimeout, "--stop-timeout", 0) ?? -1,
    stopSignal: o.stopSignal ?? "SIGTERM",
    openStdin: false,
  };
  const client = await ctx.client();
  // Detached, the daemon starts it in the same call (and removes it again if the start fails).
  const create = () => call(client, client.createContainer, { name: o.name ?? "", config, start: !!o.detach });
  let created;
  try {
    created = await create();
  } catch (err) {
    if (!/^no such image/.test((err as { details?: string }).details ?? "")) throw new CliError((await import("../client.js")).describe(err, ctx.host), 125);
    // Progress only for a person watching: a script sees just the outcome (one line if it fails).
    const { Writable } = await import("node:stream");
    const out = process.stderr.isTTY ? process.stderr : new Writable({ write: (_c, _e, cb) => cb() });
    out.write(`Unable to find image '${image}' locally\n`);
    const { pullImage } = await import("./images.js");
    await pullImage(ctx, image, out).catch(async (e) => {
      throw new CliError((await import("../client.js")).describe(e, ctx.host), 125);
    });
    created = await create();
  }
  const id = created.id;
  const removeAfterFailure = async (err: unknown) => {
    await call(client, client.removeContainer, { id, force: true }).catch(() => undefined);
    throw new CliError((await import("../client.js")).describe(err, ctx.host), 125);
  };

  if (o.detach) {
    // An older daemon ignores `start`: it is started here then.
    if (!created.started) await call(client, client.startContainer, { id }).catch(removeAfterFailure);
    process.stdout.write(id + "\n");
    return 0;
  }

  // Follow the log and wait for the exit before starting, so a fast container loses nothing.
  const logs = client.containerLogs({ id, follow: true, tail: -1, timestamps: false });
  const logsDone = new Promise<void>((resolve, reject) => {
    logs.on("data", (c: { stream: string; data: Buffer }) => {
      if (c.stream === "stderr") process.stderr.write(c.data);
      else if (c.stream === "stdout") process.stdout.write(c.data);
    });
    logs.on("end", resolve);
    logs.on("error", reject);
  });
  const waiter = client.waitContainer({ id });
  const exit = new Promise<{ exitCode: number; oomKilled: boolean }>((resolve, reject) => {
    waiter.on("data", (w: { registered: boolean; exitCode: number; oomKilled: boolean }) => {
      if (!w.registered) resolve(w);
    });
    waiter.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => {
    let n = 0;
    const one = () => ++n === 2 && resolve();
    logs.once("data", one);
    waiter.once("data", one);
    logs.once("error", reject);
    waiter.once("error", reject);
  });
  await call(client, client.startContainer, { id }).catch(removeAfterFailure);
  const forward = (sig: NodeJS.Signals) => void call(client, client.killContainer, { id, signal: sig }).catch(() => undefined);
  process.on("SIGINT", forward).on("SIGTERM", forward);
  const status = await exit;
  await logsDone.catch(() => undefined);
  return status.exitCode;
}
