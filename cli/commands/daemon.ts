// `shoal daemon`: runs the engine on this host (later also the agent and the manager).
import type { Command } from "commander";
import { collect } from "../parse.js";

export function register(program: Command): void {
  const cmd = program
    .command("daemon")
    .description("Run the Shoal daemon (root only)")
    .option("--data-root <dir>", "persistent state", "/var/lib/shoal")
    .option("--exec-root <dir>", "runtime state (sockets, shim state)", "/run/shoal")
    .option("--socket <path>", "engine API socket (default EXEC-ROOT/shoal.sock)")
    .option("--registry-mirror <host:port>", "pull through this registry mirror")
    .option("--insecure-registry <host:port>", "registry reached over plain HTTP (repeatable)", collect)
    .option("--bridge-subnet <cidr>", "subnet of the default bridge (default: a free one, 172.30.0.0/16 first)")
    .option("--keep-cgroup-mount", "leave the cgroup2 mount as it is (by default favordynmods is added: a start's cgroup move then takes ~50 µs, not 10-20 ms)");
  cmd.action(async (o: { dataRoot: string; execRoot: string; socket?: string; registryMirror?: string; insecureRegistry?: string[]; bridgeSubnet?: string; keepCgroupMount?: boolean }) => {
    const { runDaemon } = await import("../../agent/daemon/daemon.js");
    const { resolve, join } = await import("node:path");
    try {
      await runDaemon({
        dataRoot: resolve(o.dataRoot),
        execRoot: resolve(o.execRoot),
        socket: resolve(o.socket ?? join(o.execRoot, "shoal.sock")),
        registryMirror: o.registryMirror,
        insecureRegistries: o.insecureRegistry ?? [],
        bridgeSubnet: o.bridgeSubnet,
        keepCgroupMount: o.keepCgroupMount,
      });
    } catch (err) {
      process.stderr.write(`shoal: ${((err as Error).message ?? String(err)).split("\n")[0]}\n`);
      process.exit(1);
    }
  });
}
