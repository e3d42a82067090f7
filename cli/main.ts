#!/usr/bin/env node
// `shoal`: a thin registry of command groups. Each group registers its commands and imports its
// heavy modules (gRPC, generated code, the daemon) only when one of its commands runs.
import { Command } from "commander";

// `shoal service logs web | head`: a reader that went away ends the command quietly, as in any Unix tool.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

const program = new Command("shoal")
  .description("Shoal: containers on one host, and swarms of hosts")
  .option("-H, --host <url>", "daemon socket to talk to (default unix:///run/shoal/shoal.sock, or $SHOAL_HOST), or tcp://HOST:PORT: a manager's cluster port, for cluster commands")
  .option("--tlscacert <file>", "with a tcp:// host: the swarm's root CA certificate (default $SHOAL_CERT_PATH/ca.pem)")
  .option("--tlscert <file>", "with a tcp:// host: the client certificate (default $SHOAL_CERT_PATH/cert.pem)")
  .option("--tlskey <file>", "with a tcp:// host: the client key (default $SHOAL_CERT_PATH/key.pem)")
  .enablePositionalOptions()
  .showHelpAfterError(false)
  .configureOutput({ outputError: (str, write) => write(`shoal: ${str.replace(/^error: /, "").trim()}\n`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

const groups = [
  () => import("./commands/daemon.js"),
  () => import("./commands/run.js"),
  () => import("./commands/containers.js"),
  () => import("./commands/images.js"),
  () => import("./commands/volumes.js"),
  () => import("./commands/system.js"),
  () => import("./commands/swarm.js"),
  () => import("./commands/node.js"),
  () => import("./commands/service.js"),
  () => import("./commands/network.js"),
];
for (const g of await Promise.all(groups.map((load) => load()))) g.register(program);
(await import("./commands/lab.js")).registerLab(program);

await program.parseAsync(process.argv);
