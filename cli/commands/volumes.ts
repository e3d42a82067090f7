// `shoal volume create|ls|inspect|rm`.
import type { Command } from "commander";
import { action } from "./action.js";

export function register(program: Command): void {
  const volume = program.command("volume").description("Manage named volumes");

  const create = volume.command("create").description("Create a volume").argument("[name]");
  create.action(
    action(create, async (ctx, name: string | undefined) => {
      const { call } = await import("../client.js");
      const c = await ctx.client();
      process.stdout.write((await call(c, c.createVolume, { name: name ?? "", labels: {} })).name + "\n");
    }),
  );

  const ls = volume.command("ls").description("List volumes").option("-q, --quiet", "only names");
  ls.action(
    action(ls, async (ctx, o: { quiet?: boolean }) => {
      const { call } = await import("../client.js");
      const { table } = await import("../parse.js");
      const c = await ctx.client();
      const { volumes } = await call(c, c.listVolumes, {});
      if (o.quiet) return void process.stdout.write(volumes.map((v) => v.name + "\n").join(""));
      process.stdout.write(table(["DRIVER", "VOLUME NAME"], volumes.map((v) => [v.driver, v.name])));
    }),
  );

  const inspect = volume.command("inspect").description("Show volumes (JSON)").argument("<names...>");
  inspect.action(
    action(inspect, async (ctx, names: string[]) => {
      const { call } = await import("../client.js");
      const c = await ctx.client();
      const out = [];
      for (const name of names) {
        const v = await call(c, c.inspectVolume, { name });
        out.push({ CreatedAt: new Date(v.createdUnix * 1000).toISOString(), Driver: v.driver, Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Scope: "local", UsedBy: v.usedBy });
      }
      process.stdout.write(JSON.stringify(out, null, 4) + "\n");
    }),
  );

  const rm = volume.command("rm").description("Remove volumes (refused while a container uses them)").argument("<names...>").option("-f, --force", "accepted for docker compatibility");
  rm.action(
    action(rm, async (ctx, names: string[]) => {
      const { call } = await import("../client.js");
      const c = await ctx.client();
      for (const name of names) {
        await call(c, c.removeVolume, { name, force: false });
        process.stdout.write(name + "\n");
      }
    }),
  );
}
