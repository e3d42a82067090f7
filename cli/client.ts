// The CLI's connection to a daemon's engine API, and the one way the CLI turns failures into a
// one-line message. A host is the local daemon's socket (unix://) or, for cluster commands from
// elsewhere, a manager's cluster port (tcp://, mutual TLS: cluster/remote.ts).
import { credentials, Metadata, status, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";
import { EngineClient } from "../proto/gen/engine.js";

export const DEFAULT_HOST = "unix:///run/shoal/shoal.sock";
/** A manager's cluster port, where a tcp:// host names none. */
export const DEFAULT_CLUSTER_PORT = 2377;

import { CliError } from "./errors.js";
export { CliError };

export function hostUrl(flag?: string): string {
  const h = flag || process.env.SHOAL_HOST || DEFAULT_HOST;
  if (h.startsWith("unix://")) return h;
  if (h.startsWith("tcp://")) {
    tcpAddr(h); // refuses a malformed one here, before any command runs
    return h;
  }
  throw new CliError(`unsupported host ${h}: use unix:///PATH/TO/shoal.sock, or tcp://HOST:PORT for a manager's cluster port`);
}

/** HOST:PORT of a tcp:// host (the cluster port by default); undefined for a local socket. */
export function tcpAddr(host: string): string | undefined {
  if (!host.startsWith("tcp://")) return undefined;
  const addr = host.slice("tcp://".length).replace(/\/$/, "");
  const m = /^(\[[^\]]+\]|[^:/[\]]+)(?::(\d{1,5}))?$/.exec(addr);
  if (!m || Number(m[2] ?? DEFAULT_CLUSTER_PORT) > 65535) throw new CliError(`invalid host ${host}: use tcp://HOST:PORT (a manager's cluster port, ${DEFAULT_CLUSTER_PORT} by default)`);
  return `${m[1]}:${m[2] ?? DEFAULT_CLUSTER_PORT}`;
}

/** What a command that needs the local daemon says when pointed at a manager's cluster port. */
export function localOnly(host: string): CliError {
  return new CliError(`this command needs the local daemon socket (-H ${DEFAULT_HOST}): ${host} serves only cluster commands (service, node, network, swarm join-token|update|unlock-key|ca)`);
}

export function connect(host: string): EngineClient {
  if (tcpAddr(host)) throw localOnly(host);
  return new EngineClient(host, credentials.createInsecure(), { "grpc.enable_retries": 0 });
}

/** One line for the user, whatever went wrong. */
export function describe(err: unknown, host: string): string {
  const e = err as Partial<ServiceError>;
  // grpc-js's own words when the socket cannot be reached (a daemon's UNAVAILABLE, e.g. a registry down, has its own details)
  const unreachable = e.code === status.UNAVAILABLE && /^(No connection established|Connection dropped|Failed to connect)/i.test(e.details ?? "");
  const remote = tcpAddr(host);
  if (remote) {
    if (unreachable) return `cannot connect to the manager at ${remote}: ${lastError(e.details!)}`;
    if (e.code === status.UNAUTHENTICATED) return `the manager at ${remote} took no certificate of its swarm from this client: use one that "shoal swarm ca --client-cert NAME" made on one of its managers`;
    if (e.code === status.PERMISSION_DENIED && e.details) return `permission denied by the manager at ${remote}: ${e.details.split("\n")[0]}`;
  }
  if (unreachable) return `cannot connect to the Shoal daemon at ${host}: is \`shoal daemon\` running?`;
  if (e.code !== undefined && e.details) return e.details.split("\n")[0];
  return ((err as Error)?.message ?? String(err)).split("\n")[0];
}

/** The reason in grpc-js's "No connection established. Last error: Error: ...", with what to check. */
function lastError(details: string): string {
  const why = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(details.split("\n")[0])?.[1];
  return why ?? "check the address, and that it is a manager's cluster port";
}

// The widest overload of a generated unary method (TypeScript infers from the last one).
type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Calls a unary method of any generated client as a promise. */
export function call<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))));
}
