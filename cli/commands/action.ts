// Wraps a command's work: connects lazily, prints any failure as one `shoal: ` line, and exits
// with the command's code.
import type { Command } from "commander";
import type { EngineClient } from "../../proto/gen/engine.js";

export interface Ctx {
  host: string;
  client: () => Promise<EngineClient>;
}

export function action<A extends unknown[]>(cmd: Command, fn: (ctx: Ctx, ...args: A) => Promise<number | void>) {
  return async (...args: A) => {
    const { hostUrl, connect, describe, CliError } = await import("../client.js");
    let host = "unix:///run/shoal/shoal.sock";
    let client: EngineClient | undefined;
    try {
      host = hostUrl(cmd.optsWithGlobals().host as string | undefined);
      const code = await fn({ host, client: async () => (client ??= connect(host)) }, ...args);
      client?.close();
      process.exitCode = code ?? 0;
    } catch (err) {
      client?.close();
      process.stderr.write(`shoal: ${describe(err, host)}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
}
