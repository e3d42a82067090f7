// `shoal version`: the client's version always; the daemon's when one answers.
import type { Command } from "commander";
import { action } from "./action.js";

export function register(program: Command): void {
  const version = program.command("version").description("Show the client and daemon versions");
  version.action(
    action(version, async (ctx) => {
      const { readFileSync } = await import("node:fs");
      const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
      process.stdout.write(`Client:\n Version:\t${pkg.version}\n OS/Arch:\t${process.platform}/${process.arch}\n Node:\t\t${process.version}\n\n`);
      const { call } = await import("../client.js");
      const c = await ctx.client();
      const v = await call(c, c.version, {});
      process.stdout.write(
        `Server:\n Version:\t${v.version}\n API version:\t${v.apiVersion}\n OS/Arch:\t${v.os}/${v.arch}\n Kernel:\t${v.kernel}\n Data root:\t${v.dataRoot}\n Bridge:\t${v.bridge} ${v.bridgeSubnet}\n Cgroups:\t${v.cgroupVersion}\n Containers:\t${v.containers} (${v.containersRunning} running)\n Images:\t${v.images}\n`,
      );
    }),
  );
}
