// The registry client against a loopback fake: retries of transient answers, one-line errors.
import { createServer, type Server } from "node:http";
import { afterEach, expect, test } from "vitest";
import { RegistryClient } from "../../../agent/engine/image/registry-client.js";
import { MEDIA } from "../../../agent/engine/image/manifest.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `127.0.0.1:${(server!.address() as { port: number }).port}`;
}

test("retries 503s and connection resets, then succeeds", async () => {
  let calls = 0;
  const endpoint = await serve((req, res) => {
    calls++;
    if (calls === 1) return res.writeHead(503).end();
    if (calls === 2) return req.socket.destroy();
    expect(req.headers.accept).toContain(MEDIA.ociIndex);
    res.writeHead(200, { "content-type": MEDIA.ociManifest }).end("{}");
  });
  const c = new RegistryClient({ endpoint, secure: false });
  const m = await c.getManifest("x/y", "1");
  expect(m.body.toString()).toBe("{}");
  expect(calls).toBe(3);
});

test("gives up after the attempts with one line naming the registry", async () => {
  const endpoint = await serve((_req, res) => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ errors: [{ code: "UNKNOWN", message: "boom" }] })));
  const c = new RegistryClient({ endpoint, secure: false, retries: 2 });
  await expect(c.getManifest("x/y", "1")).rejects.toThrow(new RegExp(`^registry ${endpoint}: GET /v2/x/y/manifests/1 on ${endpoint} answered 500 \\(UNKNOWN: boom\\)$`));
});

test("answers a bearer challenge with an anonymous token", async () => {
  let tokenScope = "";
  const endpoint = await serve((req, res) => {
    const url = new URL(req.url!, "http://x");
    if (url.pathname === "/token") {
      tokenScope = url.searchParams.get("scope") ?? "";
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "t0k" }));
    }
    if (req.headers.authorization !== "Bearer t0k") return res.writeHead(401, { "www-authenticate": `Bearer realm="http://${req.headers.host}/token",service="fake"` }).end();
    res.writeHead(200).end("{}");
  });
  await new RegistryClient({ endpoint, secure: false }).getManifest("a/b", "latest");
  expect(tokenScope).toBe("repository:a/b:pull");
});
