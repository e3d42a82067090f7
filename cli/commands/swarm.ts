// `shoal swarm init|join|join-token|leave|update|unlock|unlock-key|ca`: this daemon's membership
// of a swarm and the swarm's security settings, as docker's.
import { resolve } from "node:path";
import type { Command } from "commander";
import { clusterAction } from "../cluster/action.js";

/** What `swarm init --autolock`, `swarm update --autolock=true` and `unlock-key` print. */
export function unlockInstructions(key: string): string {
  return (
    "To unlock a swarm manager after it restarts, run the `shoal swarm unlock`\ncommand and provide the following key:\n\n" +
    `    ${key}\n\n` +
    "Remember to store this key in a password manager, since without it you\nwill not be able to restart the manager.\n"
  );
}

/** `--autolock`, `--autolock=true|false` (commander hands over true or the text). */
function autolockFlag(v: boolean | string | undefined): boolean | undefined {
  if (v === undefined || typeof v === "boolean") return v;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new Error(`invalid --autolock ${v}: use true or false`);
}

/** The unlock key from stdin: asked for on a terminal, one line from a pipe (as docker reads it). */
async function readUnlockKey(): Promise<string> {
  const { createInterface } = await import("node:readline");
  if (process.stdin.isTTY) process.stderr.write("Enter unlock key: ");
  const rl = createInterface({ input: process.stdin });
  try {
    for await (const line of rl) return line.trim();
    return "";
  } finally {
    rl.close();
  }
}

/** The lines `swarm init` and `swarm join-token` print to let another node join. */
export function joinInstructions(role: "worker" | "manager", token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    shoal swarm join --token ${token} ${addr}\n\n`;
}

interface EtcdTlsOpts {
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
}

interface InitOpts extends EtcdTlsOpts {
  certExpiry?: string;
  autolock?: boolean;
  advertiseAddr?: string;
  listenAddr?: string;
  store: string;
  etcdEndpoints?: string;
  etcdPrefix: string;
}

/** TLS files for etcd, as absolute paths: the daemon reads them, from its own working directory. */
function etcdTls(o: EtcdTlsOpts): { caFile: string; certFile: string; keyFile: string } {
  const abs = (f?: string) => (f ? resolve(f) : "");
  return { caFile: abs(o.etcdCacert), certFile: abs(o.etcdCert), keyFile: abs(o.etcdKey) };
}

export function register(program: Command): void {
  const swarm = program.command("swarm").description("Manage the swarm this node belongs to");

  const init = swarm
    .command("init")
    .description("Initialize a swarm with this node as its first manager")
    .option("--advertise-addr <addr>", "address other nodes reach this one at (host[:port], port 2377 by default)")
    .option("--listen-addr <addr>", "where the cluster port listens (default 0.0.0.0 with the advertised port)")
    .option("--cert-expiry <duration>", "validity of node certificates (e.g. 2160h, 1m; at least 1m)", "2160h0m0s")
    .option("--autolock", "keep the managers' keys locked when they restart: each then needs \"swarm unlock\"")
    .option("--store <store>", "where the managers keep the swarm's state: raft (embedded) or etcd", "raft")
    .option("--etcd-endpoints <urls>", "etcd members, comma-separated (e.g. http://10.0.0.5:2379,http://10.0.0.6:2379)")
    .option("--etcd-prefix <prefix>", "key prefix of this swarm in etcd", "/shoal/")
    .option("--etcd-cacert <file>", "CA certificate that signed etcd's server certificates")
    .option("--etcd-cert <file>", "this manager's client certificate for etcd")
    .option("--etcd-key <file>", "this manager's client key for etcd");
  init.action(
    clusterAction(init, async (c, o: InitOpts) => {
      const { call } = await import("../client.js");
      const { parseDuration } = await import("../cluster/duration.js");
      const s = c.swarm();
      const res = await call(s, s.init, {
        nodeCertExpiryMs: parseDuration(o.certExpiry ?? "0", "--cert-expiry"),
        autolock: !!o.autolock,
        advertiseAddr: o.advertiseAddr ?? "",
        listenAddr: o.listenAddr ?? "",
        store: o.store,
        etcd: { endpoints: (o.etcdEndpoints ?? "").split(",").map((e) => e.trim()).filter(Boolean), prefix: o.etcdPrefix },
        etcdTls: etcdTls(o),
      });
      const info = await call(s, s.info, {});
      process.stdout.write(
        `Swarm initialized: current node (${res.nodeId}) is now a manager.\n\n` +
          joinInstructions("worker", res.workerToken, info.nodeAddr) +
          "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.\n\n" +
          (res.unlockKey ? unlockInstructions(res.unlockKey) : ""),
      );
    }),
  );

  const join = swarm
    .command("join")
    .description("Join a swarm as a worker or a manager (the token decides)")
    .argument("<host:port>", "a manager's cluster address")
    .requiredOption("--token <token>", "the join token (shoal swarm join-token worker|manager on a manager)")
    .option("--advertise-addr <addr>", "address other nodes reach this one at")
    .option("--listen-addr <addr>", "where the cluster port listens")
    .option("--etcd-cacert <file>", "an etcd-backed swarm: the CA certificate of etcd's servers, on this host")
    .option("--etcd-cert <file>", "an etcd-backed swarm: this manager's client certificate for etcd")
    .option("--etcd-key <file>", "an etcd-backed swarm: this manager's client key for etcd");
  join.action(
    clusterAction(join, async (c, remote: string, o: { token: string; advertiseAddr?: string; listenAddr?: string } & EtcdTlsOpts) => {
      const { call } = await import("../client.js");
      const { NodeRole } = await import("../../proto/gen/cluster.js");
      const s = c.swarm();
      const res = await call(s, s.join, { remoteAddr: remote, token: o.token, advertiseAddr: o.advertiseAddr ?? "", listenAddr: o.listenAddr ?? "", etcdTls: etcdTls(o) });
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
      const addr = c.remote ?? (await call(c.swarm(), c.swarm().info, {})).nodeAddr;
      process.stdout.write((o.rotate ? `Successfully rotated ${role} join token.\n\n` : "") + joinInstructions(role, token, addr));
    }),
  );

  const update = swarm
    .command("update")
    .description("Change the swarm's certificate validity or autolock")
    .option("--cert-expiry <duration>", "validity of node certificates from their next renewal (at least 1m)")
    .option("--autolock [bool]", "lock restarted managers until \"swarm unlock\" (true|false)");
  update.action(
    clusterAction(update, async (c, o: { certExpiry?: string; autolock?: boolean | string }) => {
      const { call, CliError } = await import("../client.js");
      const { parseDuration } = await import("../cluster/duration.js");
      let autolock: boolean | undefined;
      try {
        autolock = autolockFlag(o.autolock);
      } catch (err) {
        throw new CliError((err as Error).message, 125);
      }
      const expiry = o.certExpiry === undefined ? 0 : parseDuration(o.certExpiry, "--cert-expiry");
      if (o.certExpiry !== undefined && expiry === 0) throw new CliError("invalid --cert-expiry 0: give a duration such as 2160h", 125);
      const control = c.control();
      const res = await call(control, control.updateCluster, { nodeCertExpiryMs: expiry, setAutolock: autolock !== undefined, autolock: !!autolock });
      process.stdout.write("Swarm updated.\n" + (res.unlockKey ? unlockInstructions(res.unlockKey) : ""));
    }),
  );

  const unlock = swarm.command("unlock").description("Unlock a manager restarted under autolock (the key is read from stdin)");
  unlock.action(
    clusterAction(unlock, async (c) => {
      const { call, CliError } = await import("../client.js");
      const key = await readUnlockKey();
      if (!key) throw new CliError("no unlock key given: type it, or pipe it in", 125);
      const s = c.swarm();
      await call(s, s.unlock, { unlockKey: key });
    }),
  );

  const unlockKey = swarm
    .command("unlock-key")
    .description("Show (or rotate) the key that unlocks restarted managers")
    .option("-q, --quiet", "only the key")
    .option("--rotate", "make a new key; managers reseal their keys under it (keep the old one until they all have)");
  unlockKey.action(
    clusterAction(unlockKey, async (c, o: { quiet?: boolean; rotate?: boolean }) => {
      const { call } = await import("../client.js");
      const control = c.control();
      const res = await call(control, control.getUnlockKey, { rotate: !!o.rotate });
      if (o.quiet) return void process.stdout.write(res.unlockKey + "\n");
      process.stdout.write((o.rotate ? "Successfully rotated manager unlock key.\n\n" : "") + unlockInstructions(res.unlockKey));
    }),
  );

  const ca = swarm
    .command("ca")
    .description("Issue an admin client certificate: its holder runs cluster commands from elsewhere (-H tcp://MANAGER:2377)")
    .requiredOption("--client-cert <name>", "the client's name (letters, digits, '-', '_' and '.')")
    .requiredOption("--out <dir>", "where to write ca.pem, cert.pem and key.pem (never over existing files)");
  ca.action(
    clusterAction(ca, async (c, o: { clientCert: string; out: string }) => {
      const { issueClientCertificate } = await import("../cluster/client-cert.js");
      process.stdout.write(await issueClientCertificate(c, o.clientCert, resolve(o.out)));
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
