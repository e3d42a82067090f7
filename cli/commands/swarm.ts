// `shoal swarm init|join|join-token|leave`: this daemon's membership of a swarm, as docker's.
import type { Command } from "commander";
import { clusterAction } from "../cluster/action.js";

/** The lines `swarm init` and `swarm join-token` print to let another node join. */
export function joinInstructions(role: "worker" | "manager", token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    shoal swarm join --token ${token} ${addr}\n\n`;
}

export function register(program: Command): void {
  const swarm = program.command("swarm").description("Manage the swarm this node belongs to");

  const init = swarm
    .command("init")
    .description("Initialize a swarm with this node as its first manager")
    .option("--advertise-addr <addr>", "address other nodes reach this one at (host[:port], port 2377 by default)")
    .option("--listen-addr <addr>", "where the cluster port listens (default 0.0.0.0 with the advertised port)");
  init.action(
    clusterAction(init, async (c, o: { advertiseAddr?: string; listenAddr?: string }) => {
      const { call } = await import("../client.js");
      const s = c.swarm();
      const res = await call(s, s.init, { advertiseAddr: o.advertiseAddr ?? "", listenAddr: o.listenAddr ?? "" });
      const info = await call(s, s.info, {});
      process.stdout.write(
        `Swarm initialized: current node (${res.nodeId}) is now a manager.\n\n` +
          joinInstructions("worker", res.workerToken, info.nodeAddr) +
          "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.\n\n",
      );
    }),
  );

  const join = swarm
    .command("join")
    .description("Join a swarm as a worker or a manager (the token decides)")
    .argument("<host:port>", "a manager's cluster address")
    .requiredOption("--token <token>", "the join token (shoal swarm join-token worker|manager on a manager)")
    .option("--advertise-addr <addr>", "address other nodes reach this one at")
    .option("--listen-addr <addr>", "where the cluster port listens");
  join.action(
    clusterAction(join, async (c, remote: string, o: { token: string; advertiseAddr?: string; listenAddr?: string }) => {
      const { call } = await import("../client.js");
      const { NodeRole } = await import("../../proto/gen/cluster.js");
      const s = c.swarm();
      const res = await call(s, s.join, { remoteAddr: remote, token: o.token, advertiseAddr: o.advertiseAddr ?? "", listenAddr: o.listenAddr ?? "" });
      process.stdout.write(`This node joined a swarm as a ${res.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker"}.\n`);
    }),
  );

  const joinToken = swarm
    .command("join-token")
    .description("Show (or rotate) the token a node joins with")
    .argument("<role>", "worker or manager")
    .option("-q, --quiet", "only the token")
    .option("--rotate", "replace the token; the old one stops working (nodes already in keep running)");
  joinToken.action(
    clusterAction(joinToken, async (c, role: string, o: { quiet?: boolean; rotate?: boolean }) => {
      const { call, CliError } = await import("../client.js");
      if (role !== "worker" && role !== "manager") throw new CliError(`unknown role ${role}: use worker or manager`, 125);
      const control = c.control();
      const tokens = await call(control, control.getJoinTokens, { rotateWorker: !!o.rotate && role === "worker", rotateManager: !!o.rotate && role === "manager" });
      const token = role === "worker" ? tokens.worker : tokens.manager;
      if (o.quiet) return void process.stdout.write(token + "\n");
      const s = c.swarm();
      const info = await call(s, s.info, {});
      process.stdout.write((o.rotate ? `Successfully rotated ${role} join token.\n\n` : "") + joinInstructions(role, token, info.nodeAddr));
    }),
  );

  const leave = swarm.command("leave").description("Leave the swarm (its tasks move to other nodes)").option("-f, --force", "leave even as a manager, at the risk of the swarm's majority");
  leave.action(
    clusterAction(leave, async (c, o: { force?: boolean }) => {
      const { call } = await import("../client.js");
      const s = c.swarm();
      await call(s, s.leave, { force: !!o.force });
      process.stdout.write("Node left the swarm.\n");
    }),
  );
}
