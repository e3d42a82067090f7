// Image commands: images, pull, import, load, rmi.
import type { Command } from "commander";
import type { Writable } from "node:stream";
import { action, type Ctx } from "./action.js";

/** Pulls with one progress line per layer event, as docker prints when not on a terminal. */
export async function pullImage(ctx: Ctx, reference: string, out: Writable): Promise<void> {
  const c = await ctx.client();
  const s = c.pullImage({ reference });
  await new Promise<void>((resolve, reject) => {
    s.on("data", (p: { status: string; id: string }) => {
      if (!/^(Downloading|Extracting)/.test(p.status)) out.write(p.id ? `${p.id}: ${p.status}\n` : `${p.status}\n`);
    });
    s.on("end", resolve);
    s.on("error", reject);
  });
}

export function register(program: Command): void {
  const images = program.command("images").description("List images").option("-q, --quiet", "only ids");
  images.action(
    action(images, async (ctx, o: { quiet?: boolean }) => {
      const { call } = await import("../client.js");
      const { ago, humanSize, table } = await import("../parse.js");
      const c = await ctx.client();
      const { images: list } = await call(c, c.listImages, {});
      const short = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);
      if (o.quiet) return void process.stdout.write(list.map((i) => short(i.id) + "\n").join(""));
      const rows: string[][] = [];
      for (const i of list) {
        const refs = i.references.length ? i.references : ["<none>:<none>"];
        for (const r of refs) {
          const at = r.lastIndexOf(":");
          const [repo, tag] = at > r.lastIndexOf("/") ? [r.slice(0, at), r.slice(at + 1)] : [r, "latest"];
          rows.push([repo, tag, short(i.id), ago(i.createdUnix), humanSize(i.size)]);
        }
      }
      process.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows));
    }),
  );

  const pull = program.command("pull").description("Pull an image from a registry").argument("<reference>");
  pull.action(action(pull, async (ctx, ref: string) => pullImage(ctx, ref, process.stdout)));

  const imp = program.command("import").description("Create an image from a rootfs tarball").argument("<file>").argument("[reference]");
  imp.action(
    action(imp, async (ctx, file: string, reference: string | undefined) => {
      const { call, CliError } = await import("../client.js");
      const { existsSync } = await import("node:fs");
      const { resolve } = await import("node:path");
      if (file === "-") throw new CliError("import from stdin is not supported: give a tarball path");
      if (!existsSync(file)) throw new CliError(`no such file: ${file}`);
      const c = await ctx.client();
      const img = await call(c, c.importImage, { path: resolve(file), reference: reference ?? "" });
      process.stdout.write(img.id + "\n");
    }),
  );

  const load = program.command("load").description("Load images from a `docker save` tarball or OCI layout").requiredOption("-i, --input <file>", "tarball to read");
  load.action(
    action(load, async (ctx, o: { input: string }) => {
      const { call, CliError } = await import("../client.js");
      const { existsSync } = await import("node:fs");
      const { resolve } = await import("node:path");
      if (!existsSync(o.input)) throw new CliError(`no such file: ${o.input}`);
      const c = await ctx.client();
      const { references } = await call(c, c.loadImage, { path: resolve(o.input) });
      for (const r of references) process.stdout.write(`Loaded image: ${r}\n`);
    }),
  );

  const rmi = program.command("rmi").description("Remove images").argument("<images...>").option("-f, --force", "remove even if tagged several times or in use by stopped containers");
  rmi.action(
    action(rmi, async (ctx, refs: string[], o: { force?: boolean }) => {
      const { call, describe } = await import("../client.js");
      const c = await ctx.client();
      let failed = 0;
      for (const reference of refs) {
        try {
          const r = await call(c, c.removeImage, { reference, force: !!o.force });
          for (const u of r.untagged) process.stdout.write(`Untagged: ${u}\n`);
          for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
        } catch (err) {
          failed++;
          process.stderr.write(`shoal: ${describe(err, ctx.host)}\n`);
        }
      }
      return failed ? 1 : 0;
    }),
  );
}
