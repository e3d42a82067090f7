// `shoal network create|ls|inspect|rm`: the swarm's overlay networks, as docker's.
import type { Command } from "commander";
import type { Network } from "../../proto/gen/cluster.js";
import { clusterAction, eachRef } from "../cluster/action.js";
import { collect } from "../parse.js";

interface CreateFlags {
  driver: string;
  subnet?: string[];
  gateway?: string[];
  attachable?: boolean;
  ingress?: boolean;
  label?: string[];
}

export function register(program: Command): void {
  const network = program.command("network").description("Manage the swarm's overlay networks (on a manager)");

  const create = network
    .command("create")
    .description("Create an overlay network")
    .argument("<name>")
    .option("-d, --driver <driver>", "network driver (overlay)", "overlay")
    .option("--subnet <cidr>", "subnet, e.g. 10.1.0.0/24 (default: the next free /24 of 10.0.0.0/9)", collect)
    .option("--gateway <ip>", "the subnet's gateway (default: its first address)", collect)
    .option("--attachable", "let standalone containers attach")
    .option("--ingress", "make it the routing mesh's network (the swarm has one: remove it first)")
    .option("-l, --label <key=value>", "network label (repeatable)", collect);
  create.action(
    clusterAction(create, async (c, name: string, o: CreateFlags) => {
      const { call, CliError } = await import("../client.js");
      const { keyValue } = await import("../cluster/flags.js");
      const subnets = o.subnet ?? [];
      const gateways = o.gateway ?? [];
      if (gateways.length > subnets.length) throw new CliError("a --gateway needs the --subnet it belongs to: give --subnet as well", 125);
      const configs = subnets.map((subnet, i) => ({ subnet, gateway: gateways[i] ?? "", range: "" }));
      const control = c.control();
      const n = await call(control, control.createNetwork, {
        spec: {
          annotations: { name, labels: Object.fromEntries((o.label ?? []).map((l) => keyValue(l, "--label"))) },
          driver: o.driver,
          ipam: { driver: "default", configs },
          attachable: !!o.attachable,
          ingress: !!o.ingress,
        },
      });
      process.stdout.write(n.id + "\n");
    }),
  );

  const ls = network.command("ls").alias("list").description("List networks").option("-q, --quiet", "only ids").option("--no-trunc", "full ids");
  ls.action(
    clusterAction(ls, async (c, o: { quiet?: boolean; trunc?: boolean }) => {
      const { call } = await import("../client.js");
      const { networkTable } = await import("../cluster/networks.js");
      const control = c.control();
      const { networks } = await call(control, control.listNetworks, {});
      const noTrunc = o.trunc === false;
      if (o.quiet) return void process.stdout.write(networks.map((n) => (noTrunc ? n.id : n.id.slice(0, 12)) + "\n").join(""));
      process.stdout.write(networkTable(networks, { noTrunc }));
    }),
  );

  const inspect = network.command("inspect").description("Show networks in detail (JSON)").argument("<networks...>", "names, ids or id prefixes");
  inspect.action(
    clusterAction(inspect, async (c, refs: string[]) => {
      const { call } = await import("../client.js");
      const { networkJson } = await import("../cluster/networks.js");
      const control = c.control();
      const found: Network[] = [];
      const code = await eachRef(c, refs, async (ref) => void found.push(await call(control, control.getNetwork, { ref })));
      process.stdout.write(JSON.stringify(found.map(networkJson), null, 4) + "\n");
      return code;
    }),
  );

  const rm = network.command("rm").alias("remove").description("Remove networks (refused while a service or task uses one)").argument("<networks...>");
  rm.action(
    clusterAction(rm, async (c, refs: string[]) => {
      const { call } = await import("../client.js");
      const control = c.control();
      return eachRef(c, refs, async (ref) => {
        await call(control, control.removeNetwork, { ref });
        process.stdout.write(ref + "\n");
      });
    }),
  );
}
