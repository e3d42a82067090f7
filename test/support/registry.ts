// A private registry for tests and the lab: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1:<free port> with filesystem storage in a temp dir, optionally behind htpasswd basic
// auth; and a bearer-token front for it (a small Node proxy with its own token realm), to
// exercise the WWW-Authenticate Bearer flow against real registry content.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { registryConfig } from "../../lab/registry.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";

export const REGISTRY_BIN = "/usr/bin/docker-registry";

export interface Login {
  username: string;
  password: string;
}

export interface TestRegistry {
  addr: string; // "127.0.0.1:PORT"
  dir: string;
  /** Where the registry keeps a blob's bytes (tests corrupt it to check digest verification). */
  blobPath(digest: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts docker-registry; with `auth`, every request needs those basic credentials. */
export async function startRegistry(o: { auth?: Login } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync("/tmp/shoal-registry-");
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  let htpasswd: string | undefined;
  if (o.auth) {
    htpasswd = join(dir, "htpasswd");
    execFileSync("htpasswd", ["-Bbc", htpasswd, o.auth.username, o.auth.password], { stdio: "ignore" });
  }
  const config = registryConfig({ dataDir: join(dir, "data"), addr, htpasswd, secret: randomBytes(16).toString("hex") });
  writeFileSync(join(dir, "config.yml"), config);
  const proc = spawn(REGISTRY_BIN, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr!.on("data", (d: Buffer) => (log = (log + d).slice(-4000)));
  const stop = async () => {
    await stopProcess(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(async () => {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited ${proc.exitCode}: ${log}`);
      const res = await fetch(`http://${addr}/v2/`).catch(() => undefined);
      return res !== undefined && (res.status === 200 || res.status === 401);
    }, `docker-registry on ${addr}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    addr,
    dir,
    blobPath: (digest) => {
      const hex = digest.replace(/^sha256:/, "");
      return join(dir, "data/docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    },
    stop,
  };
}

export interface TokenFront {
  addr: string;
  tokensIssued: number;
  stop(): Promise<void>;
}

/**
 * A registry front that demands bearer tokens: /v2/* answers 401 with a Bearer challenge unless
 * it carries a token from /token, which checks `login` (basic auth) when given, else issues
 * anonymous tokens. Authorised requests are passed to `upstream` (an unauthenticated registry).
 */
export async function startTokenFront(upstream: string, login?: Login): Promise<TokenFront> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const tokens = new Set<string>();
  const front: TokenFront = { addr, tokensIssued: 0, stop: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", `http://${addr}`);
    if (url.pathname === "/token") {
      const given = req.headers.authorization?.startsWith("Basic ") ? Buffer.from(req.headers.authorization.slice(6), "base64").toString() : undefined;
      if (login && given !== `${login.username}:${login.password}`) {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ details: "bad credentials" }));
        return;
      }
      if (!url.searchParams.get("scope")?.startsWith("repository:")) {
        res.writeHead(400).end();
        return;
      }
      const token = randomBytes(16).toString("hex");
      tokens.add(token);
      front.tokensIssued++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const bearer = req.headers.authorization?.startsWith("Bearer ") ? req.headers.authorization.slice(7) : undefined;
    if (!bearer || !tokens.has(bearer)) {
      const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname)?.[1];
      const scope = repo ? `,scope="repository:${repo}:pull"` : "";
      res.writeHead(401, { "www-authenticate": `Bearer realm="http://${addr}/token",service="shoal-test"${scope}`, "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      return;
    }
    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    const up = request({ host: upstream.split(":")[0], port: Number(upstream.split(":")[1]), method: req.method, path: req.url, headers }, (ur) => {
      const h = { ...ur.headers };
      if (h.location) h.location = h.location.replace(`http://${upstream}`, `http://${addr}`);
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
    });
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  front.stop = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return front;
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
