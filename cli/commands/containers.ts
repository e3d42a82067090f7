// Container commands other than run: ps, logs, exec, start, stop, restart, kill, rm, inspect, wait.
import type { Command } from "commander";
import { action } from "./action.js";
import { collect } from "../parse.js";

const ellipsis = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

export function register(program: Command): void {
  const ps = program.command("ps").description("List containers").option("-a, --all", "show all containers (default shows running)").option("-q, --quiet", "only ids");
  ps.action(
    action(ps, async (ctx, o: { all?: boolean; quiet?: boolean }) => {
      const { call } = await import("../client.js");
      const { ago, table } = await import("../parse.js");
      const c = await ctx.client();
      const { containers } = await call(c, c.listContainers, { all: !!o.all });
      if (o.quiet) return void process.stdout.write(containers.map((x) => x.id.slice(0, 12) + "\n").join(""));
      const ports = (x: (typeof containers)[number]) => x.ports.map((p) => `${p.hostIp || "0.0.0.0"}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(", ");
      const rows = containers.map((x) => [x.id.slice(0, 12), x.image, JSON.stringify(ellipsis(x.command, 20)), ago(x.createdUnix), x.status, ports(x), x.name]);
      process.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows));
    }),
  );

  const logs = program.command("logs").description("Show a container's output").argument("<container>").option("-f, --follow", "follow the output").option("-n, --tail <n>", "lines from the end (default all)", "all").option("-t, --timestamps", "show timestamps");
  logs.action(
    action(logs, async (ctx, id: string, o: { follow?: boolean; tail: string; timestamps?: boolean }) => {
      const { CliError } = await import("../client.js");
      if (o.tail !== "all" && !/^\d+$/.test(o.tail)) throw new CliError(`invalid --tail ${o.tail}: use a number or all`);
      const c = await ctx.client();
      const stream = c.containerLogs({ id, follow: !!o.follow, tail: o.tail === "all" ? -1 : Number(o.tail), timestamps: !!o.timestamps });
      await new Promise<void>((resolve, reject) => {
        stream.on("data", (ch: { stream: string; data: Buffer; time: string }) => {
          const out = ch.stream === "stderr" ? process.stderr : process.stdout;
          if (ch.stream) out.write(ch.time ? Buffer.concat([Buffer.from(ch.time + " "), ch.data]) : ch.data);
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
    }),
  );

  const exec = program
    .command("exec")
    .description("Run a command in a running container")
    .argument("<container>")
    .argument("<command...>")
    .option("-i, --interactive", "keep stdin open and send it to the command")
    .option("-e, --env <KEY=VALUE>", "environment variable (repeatable)", collect)
    .option("-w, --workdir <dir>", "working directory")
    .option("-u, --user <user>", "user[:group]")
    .passThroughOptions();
  exec.action(
    action(exec, async (ctx, id: string, cmd: string[], o: { interactive?: boolean; env?: string[]; workdir?: string; user?: string }) => {
      const c = await ctx.client();
      const s = c.exec();
      s.write({ input: { $case: "start", value: { id, cmd, env: o.env ?? [], workingDir: o.workdir ?? "", user: o.user ?? "", stdin: !!o.interactive } } });
      if (o.interactive) {
        process.stdin.on("data", (b: Buffer) => s.write({ input: { $case: "stdin", value: b } }));
        process.stdin.on("end", () => (s.write({ input: { $case: "stdinClose", value: true } }), s.end()));
      } else s.end();
      return await new Promise<number>((resolve, reject) => {
        let code = 0;
        s.on("data", (m: { output?: { $case: string; value: Buffer | number } }) => {
          const out = m.output;
          if (out?.$case === "stdout") process.stdout.write(out.value as Buffer);
          else if (out?.$case === "stderr") process.stderr.write(out.value as Buffer);
          else if (out?.$case === "exitCode") code = out.value as number;
        });
        s.on("end", () => (process.stdin.pause(), resolve(code)));
        s.on("error", reject);
      });
    }),
  );

  const each = (name: string, desc: string, fn: (ctx: Parameters<Parameters<typeof action>[1]>[0], id: string, o: Record<string, string | boolean | undefined>) => Promise<void>) => {
    const cmd = program.command(name).description(desc).argument("<containers...>");
    return {
      cmd,
      done: () =>
        cmd.action(
          action(cmd, async (ctx, ids: string[], o: Record<string, string | boolean | undefined>) => {
            const { describe } = await import("../client.js");
            let failed = 0;
            for (const id of ids) {
              try {
                await fn(ctx, id, o);
                if (name !== "inspect" && name !== "wait") process.stdout.write(id + "\n");
              } catch (err) {
                failed++;
                process.stderr.write(`shoal: ${describe(err, ctx.host)}\n`);
              }
            }
            return failed ? 1 : 0;
          }),
        ),
    };
  };
  const timeout = (o: Record<string, unknown>) => (o.time !== undefined ? { timeout: Number(o.time), timeoutSet: true } : { timeout: 0, timeoutSet: false });
  const client = async (ctx: { client: () => Promise<import("../../proto/gen/engine.js").EngineClient> }) => ({ c: await ctx.client(), call: (await import("../client.js")).call });

  const stop = each("stop", "Stop running containers (stop signal, then SIGKILL after the grace period)", async (ctx, id, o) => {
    const { c, call } = await client(ctx);
    await call(c, c.stopContainer, { id, ...timeout(o) });
  });
  stop.cmd.option("-t, --time <seconds>", "grace period before SIGKILL");
  stop.done();
  const restart = each("restart", "Restart containers", async (ctx, id, o) => {
    const { c, call } = await client(ctx);
    await call(c, c.restartContainer, { id, ...timeout(o) });
  });
  restart.cmd.option("-t, --time <seconds>", "grace period before SIGKILL");
  restart.done();
  each("start", "Start stopped containers", async (ctx, id) => {
    const { c, call } = await client(ctx);
    await call(c, c.startContainer, { id });
  }).done();
  const kill = each("kill", "Send a signal to containers (default SIGKILL)", async (ctx, id, o) => {
    const { c, call } = await client(ctx);
    await call(c, c.killContainer, { id, signal: String(o.signal ?? "SIGKILL") });
  });
  kill.cmd.option("-s, --signal <signal>", "signal to send", "SIGKILL");
  kill.done();
  const rm = each("rm", "Remove containers", async (ctx, id, o) => {
    const { c, call } = await client(ctx);
    await call(c, c.removeContainer, { id, force: !!o.force });
  });
  rm.cmd.option("-f, --force", "kill and remove a running container");
  rm.done();
  each("wait", "Wait for containers to stop and print their exit codes", async (ctx, id) => {
    const c = await ctx.client();
    const s = c.waitContainer({ id });
    const code = await new Promise<number>((resolve, reject) => {
      s.on("data", (w: { registered: boolean; exitCode: number }) => !w.registered && resolve(w.exitCode));
      s.on("error", reject);
    });
    process.stdout.write(`${code}\n`);
  }).done();

  const inspect = program.command("inspect").description("Show low-level information on containers, volumes or images (JSON)").argument("<names...>");
  inspect.action(
    action(inspect, async (ctx, names: string[]) => {
      const { call, describe } = await import("../client.js");
      const c = await ctx.client();
      const out: unknown[] = [];
      let failed = 0;
      for (const id of names) {
        try {
          out.push(JSON.parse((await call(c, c.inspectContainer, { id })).json));
        } catch (err) {
          try {
            out.push(JSON.parse((await call(c, c.inspectImage, { reference: id })).json));
          } catch {
            failed++;
            process.stderr.write(`shoal: ${describe(err, ctx.host).replace(/^no such container/, "no such object")}\n`);
          }
        }
      }
      process.stdout.write(JSON.stringify(out, null, 4) + "\n");
      return failed ? 1 : 0;
    }),
  );
}
