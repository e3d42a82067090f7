// The CLI's connection to a daemon's engine API, and the one way the CLI turns failures into a
// one-line message.
import { credentials, Metadata, status, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";
import { EngineClient } from "../proto/gen/engine.js";

export const DEFAULT_HOST = "unix:///run/shoal/shoal.sock";

import { CliError } from "./errors.js";
export { CliError };

export function hostUrl(flag?: string): string {
  const h = flag || process.env.SHOAL_HOST || DEFAULT_HOST;
  if (!h.startsWith("unix://")) throw new CliError(`unsupported host ${h}: use unix:///PATH/TO/shoal.sock`);
  return h;
}

export function connect(host: string): EngineClient {
  return new EngineClient(host, credentials.createInsecure(), { "grpc.enable_retries": 0 });
}

/** One line for the user, whatever went wrong. */
export function describe(err: unknown, host: string): string {
  const e = err as Partial<ServiceError>;
  // grpc-js's own words when the socket cannot be reached (a daemon's UNAVAILABLE, e.g. a registry down, has its own details)
  const unreachable = e.code === status.UNAVAILABLE && /^(No connection established|Connection dropped|Failed to connect)/i.test(e.details ?? "");
  if (unreachable) return `cannot connect to the Shoal daemon at ${host}: is \`shoal daemon\` running?`;
  if (e.code !== undefined && e.details) return e.details.split("\n")[0];
  return ((err as Error)?.message ?? String(err)).split("\n")[0];
}

// The widest overload of a generated unary method (TypeScript infers from the last one).
type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Calls a unary method of any generated client as a promise. */
export function call<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))));
}
