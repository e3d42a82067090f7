// Registry authentication: the WWW-Authenticate challenge of a 401, then either HTTP basic
// credentials or a bearer token from the challenge's realm (anonymous or with credentials).
import { EngineError } from "../errors.js";
import { status } from "@grpc/grpc-js";

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: "basic" | "bearer";
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p; (p = re.exec(m[2])); ) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  return { scheme, params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export function authError(registry: string, creds: Credentials | undefined): EngineError {
  return creds
    ? new EngineError(status.UNAUTHENTICATED, `registry ${registry} refused the credentials of user "${creds.username}": check the username and password`)
    : new EngineError(status.UNAUTHENTICATED, `registry ${registry} requires authentication: pass a username and password`);
}

/** Asks the challenge's realm for a bearer token covering `scope`. */
export async function fetchToken(registry: string, ch: Challenge, scope: string, creds: Credentials | undefined, signal: AbortSignal): Promise<string> {
  const realm = ch.params.realm;
  if (!realm) throw new EngineError(status.UNAVAILABLE, `registry ${registry} asked for a bearer token but named no realm`);
  const url = new URL(realm);
  if (ch.params.service) url.searchParams.set("service", ch.params.service);
  url.searchParams.set("scope", scope);
  const headers: Record<string, string> = {};
  if (creds) headers.authorization = basicHeader(creds);
  let res: Response;
  try {
    res = await fetch(url, { headers, signal });
  } catch (e) {
    throw new EngineError(status.UNAVAILABLE, `token server ${url.origin} for registry ${registry} is unreachable: ${(e as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) throw authError(registry, creds);
  if (!res.ok) throw new EngineError(status.UNAVAILABLE, `token server ${url.origin} for registry ${registry} answered ${res.status}`);
  const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new EngineError(status.UNAVAILABLE, `token server ${url.origin} for registry ${registry} sent no token`);
  return token;
}
