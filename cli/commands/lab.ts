// `shoal lab`: a multi-host lab on this machine (root only). See docs/lab.md.
import type { Command } from "commander";

const intArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${v}`);
  return n;
};

/** Runs a lab command, printing any failure as one `shoal: ` line. */
function run<A extends unknown[]>(fn: (...args: A) => Promise<number | void>) {
  return async (...args: A) => {
    try {
      process.exitCode = (await fn(...args)) ?? 0;
    } catch (err) {
      process.stderr.write(`shoal: ${((err as Error).message ?? String(err)).split("\n")[0]}\n`);
      process.exitCode = 1;
    }
  };
}

const lab = () => import("../../lab/lab.js");

export function registerLab(program: Command): void {
  const group = program.command("lab").description("A multi-host lab on this machine: each host a network namespace with its own daemon").enablePositionalOptions();
  const named = (c: Command) => c.option("--name <name>", "lab name", "shoal");

  named(group.command("up").description("Create the lab's bridge, hosts, registry and daemons"))
    .option("--managers <n>", "manager hosts", intArg, 3)
    .option("--workers <n>", "worker hosts", intArg, 2)
    .option("--store <store>", "where the swarm keeps its state: raft (the managers') or etcd (a 3-member etcd on the lab bridge)", "raft")
    .action(run(async (o: { name: string; managers: number; workers: number; store: string }) => {
      if (o.store !== "raft" && o.store !== "etcd") throw new Error(`unknown store ${o.store}: use raft or etcd`);
      const started = Date.now();
      const l = await (await lab()).labUp({ ...o, store: o.store as "raft" | "etcd" });
      process.stdout.write(`lab ${l.name} up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${l.hosts.length} hosts on ${l.prefix}.0/24, registry ${l.registry}\n`);
    }));

  named(group.command("down").description("Remove everything the lab made (also after a crashed up)"))
    .action(run(async (o: { name: string }) => (await lab()).labDown(o.name)));

  group.command("ls").description("List labs and their hosts").option("--name <name>", "only this lab")
    .action(run(async (o: { name?: string }) => {
      const rows = (await lab()).labRows(o.name);
      const table = [["LAB", "HOST", "ROLE", "ADDRESS", "PID", "STATE"], ...rows.map((r) => [r.lab, r.host, r.role, r.address, r.pid ? String(r.pid) : "-", r.state])];
      const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
      for (const row of table) process.stdout.write(row.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd() + "\n");
    }));

  named(group.command("exec").description("Run a command on a lab host (its network, mount and UTS namespaces)"))
    .argument("<host>").argument("<cmd...>")
    .passThroughOptions()
    .action(run(async (host: string, cmd: string[], o: { name: string }) => (await lab()).labExec(o.name, host, cmd[0] === "--" ? cmd.slice(1) : cmd)));

  named(group.command("kill").description("Power-loss a host: its daemon and containers die at once")).argument("<host>")
    .action(run(async (host: string, o: { name: string }) => (await lab()).labKill(o.name, host)));

  named(group.command("start").description("Boot a killed host again with the same data")).argument("<host>")
    .action(run(async (host: string, o: { name: string }) => (await lab()).labStart(o.name, host)));

  named(group.command("partition").description("Drop traffic between HOSTS and --from (default: all other hosts; `etcd` names the lab etcd of a --store etcd lab)"))
    .argument("<hosts...>")
    .option("--from <hosts...>", "the other side")
    .action(run(async (hosts: string[], o: { name: string; from?: string[] }) => (await lab()).labPartition(o.name, hosts, o.from)));

  named(group.command("heal").description("Remove every partition"))
    .action(run(async (o: { name: string }) => (await lab()).labHeal(o.name)));
}
