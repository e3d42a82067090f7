// `shoal node ls|inspect|update|promote|demote|rm`: the swarm's nodes, as docker's.
import type { Command } from "commander";
import type { Node, NodeSpec } from "../../proto/gen/cluster.js";
import { clusterAction, eachRef } from "../cluster/action.js";
import type { Cluster } from "../cluster/connect.js";
import { collect } from "../parse.js";

/** Reads the node, lets `change` edit its spec, writes it back with the version read. False: nothing to change. */
async function updateNode(c: Cluster, ref: string, change: (spec: NodeSpec, node: Node) => boolean): Promise<boolean> {
  const { call } = await import("../client.js");
  const { rereadOnConflict } = await import("../cluster/connect.js");
  const control = c.control();
  return rereadOnConflict(async () => {
    const node = await call(control, control.getNode, { ref });
    const spec = structuredClone(node.spec ?? { annotations: { name: "", labels: {} }, role: 0, availability: 0 });
    if (!change(spec, node)) return false;
    await call(control, control.updateNode, { ref: node.id, version: node.meta?.version ?? 0, spec });
    return true;
  });
}

export function register(program: Command): void {
  const node = program.command("node").description("Manage the swarm's nodes (on a manager)");

  const ls = node.command("ls").alias("list").description("List the swarm's nodes").option("-q, --quiet", "only ids");
  ls.action(
    clusterAction(ls, async (c, o: { quiet?: boolean }) => {
      const { call } = await import("../client.js");
      const { nodeTable } = await import("../cluster/tables.js");
      const control = c.control();
      // From elsewhere (tcp://) no node is this one.
      const [{ nodes }, info] = await Promise.all([call(control, control.listNodes, {}), c.remote ? { nodeId: "" } : call(c.swarm(), c.swarm().info, {})]);
      if (o.quiet) return void process.stdout.write(nodes.map((n) => n.id + "\n").join(""));
      process.stdout.write(nodeTable(nodes, info.nodeId));
    }),
  );

  const inspect = node.command("inspect").description("Show nodes in detail (JSON, or --pretty)").argument("<nodes...>", "hostnames, ids or id prefixes; self is this node").option("--pretty", "human-readable");
  inspect.action(
    clusterAction(inspect, async (c, refs: string[], o: { pretty?: boolean }) => {
      const { call } = await import("../client.js");
      const { nodeJson } = await import("../cluster/json.js");
      const { nodePretty } = await import("../cluster/pretty.js");
      const control = c.control();
      const found: Node[] = [];
      const self = refs.includes("self") ? (await call(c.swarm(), c.swarm().info, {})).nodeId : "";
      const code = await eachRef(c, refs, async (ref) => void found.push(await call(control, control.getNode, { ref: ref === "self" ? self : ref })));
      if (o.pretty) process.stdout.write(found.map(nodePretty).join("\n"));
      else process.stdout.write(JSON.stringify(found.map(nodeJson), null, 4) + "\n");
      return code;
    }),
  );

  const update = node
    .command("update")
    .description("Change a node's availability or labels")
    .argument("<node>")
    .option("--availability <state>", "active, pause (no new tasks) or drain (move its tasks away)")
    .option("--label-add <key=value>", "add or change a node label (repeatable)", collect)
    .option("--label-rm <key>", "remove a node label (repeatable)", collect)
    .option("--role <role>", "worker or manager");
  update.action(
    clusterAction(update, async (c, ref: string, o: { availability?: string; labelAdd?: string[]; labelRm?: string[]; role?: string }) => {
      const { CliError } = await import("../client.js");
      const { choice, keyValue } = await import("../cluster/flags.js");
      const { NodeAvailability, NodeRole } = await import("../../proto/gen/cluster.js");
      const availability = o.availability === undefined ? undefined : choice(o.availability, "--availability", { active: NodeAvailability.NODE_AVAILABILITY_ACTIVE, pause: NodeAvailability.NODE_AVAILABILITY_PAUSE, drain: NodeAvailability.NODE_AVAILABILITY_DRAIN });
      const role = o.role === undefined ? undefined : choice(o.role, "--role", { worker: NodeRole.NODE_ROLE_WORKER, manager: NodeRole.NODE_ROLE_MANAGER });
      const add = (o.labelAdd ?? []).map((l) => keyValue(l, "--label-add"));
      await updateNode(c, ref, (spec) => {
        if (availability !== undefined) spec.availability = availability;
        if (role !== undefined) spec.role = role;
        const labels = (spec.annotations ??= { name: "", labels: {} }).labels;
        for (const [k, v] of add) labels[k] = v;
        for (const k of o.labelRm ?? []) {
          if (!(k in labels)) throw new CliError(`node ${ref} has no label ${k}: see its labels with "shoal node inspect --pretty ${ref}"`);
          delete labels[k];
        }
        return true;
      });
      process.stdout.write(ref + "\n");
    }),
  );

  const roleChange = (name: "promote" | "demote") => {
    const cmd = node.command(name).description(name === "promote" ? "Make nodes managers (they join the Raft group)" : "Make managers workers (they leave the Raft group)").argument("<nodes...>");
    cmd.action(
      clusterAction(cmd, async (c, refs: string[]) => {
        const { NodeRole } = await import("../../proto/gen/cluster.js");
        const target = name === "promote" ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
        return eachRef(c, refs, async (ref) => {
          const changed = await updateNode(c, ref, (spec, n) => {
            if (spec.role !== target) return (spec.role = target), true;
            process.stdout.write(`Node ${n.id} is already a ${name === "promote" ? "manager" : "worker"}.\n`);
            return false;
          });
          if (changed) process.stdout.write(name === "promote" ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
        });
      }),
    );
  };
  roleChange("promote");
  roleChange("demote");

  const rm = node.command("rm").alias("remove").description("Remove nodes from the swarm").argument("<nodes...>").option("-f, --force", "remove a node that is still up");
  rm.action(
    clusterAction(rm, async (c, refs: string[], o: { force?: boolean }) => {
      const { call } = await import("../client.js");
      const control = c.control();
      return eachRef(c, refs, async (ref) => {
        await call(control, control.removeNode, { ref, force: !!o.force });
        process.stdout.write(ref + "\n");
      });
    }),
  );
}
