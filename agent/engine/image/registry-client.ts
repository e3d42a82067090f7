// A client for one registry speaking the distribution API v2: manifests, blobs (download with
// an idle watchdog, upload in one chunk), auth challenges answered on the first 401, and retries
// of transient failures (network errors, 429, 5xx) with backoff.
import { status } from "@grpc/grpc-js";
import { Readable } from "node:stream";
import { EngineError } from "../errors.js";
import { authError, basicHeader, fetchToken, parseChallenge, type Credentials } from "./auth.js";
import { MANIFEST_ACCEPT } from "./manifest.js";

export interface RegistryClientOptions {
  endpoint: string; // host[:port] to contact (a mirror for Docker Hub names)
  secure: boolean; // https, else http
  auth?: Credentials;
  push?: boolean; // ask for push rights in bearer scopes
  retries?: number; // attempts for a transient failure (default 4)
  timeoutMs?: number; // per request, and idle time inside a blob download (default 60 s)
}

interface Req {
  method?: string;
  headers?: Record<string, string>;
  body?: () => Buffer | Readable | undefined;
  ok?: number[];
}

const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);

export class RegistryClient {
  private authorization = new Map<string, string>(); // repository → Authorization header
  readonly base: string;

  constructor(private o: RegistryClientOptions) {
    this.base = `${o.secure ? "https" : "http"}://${o.endpoint}`;
  }

  get endpoint(): string {
    return this.o.endpoint;
  }

  /** Fetches a manifest by tag or digest: the raw bytes (for digest checks) and content type. */
  async getManifest(repo: string, reference: string): Promise<{ body: Buffer; contentType: string | null }> {
    const res = await this.request(repo, `/v2/${repo}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } });
    return { body: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get("content-type") };
  }

  /** Streams a blob; the caller verifies its digest. The stream fails if no byte comes for timeoutMs. */
  async getBlob(repo: string, digest: string): Promise<{ stream: Readable; size?: number }> {
    const ctl = new AbortController();
    const res = await this.request(repo, `/v2/${repo}/blobs/${digest}`, {}, ctl);
    if (!res.body) throw this.unavailable(`blob ${digest} came without a body`);
    const timeout = this.o.timeoutMs ?? 60_000;
    const web = Readable.fromWeb(res.body as any);
    async function* watched(): AsyncGenerator<Buffer> {
      let timer = setTimeout(() => ctl.abort(new Error("no data for too long")), timeout);
      try {
        for await (const chunk of web) {
          timer.refresh();
          yield chunk as Buffer;
        }
      } finally {
        clearTimeout(timer);
      }
    }
    const len = Number(res.headers.get("content-length"));
    return { stream: Readable.from(watched(), { objectMode: false }), size: Number.isFinite(len) && len > 0 ? len : undefined };
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.request(repo, `/v2/${repo}/blobs/${digest}`, { method: "HEAD", ok: [200, 404] });
    return res.status === 200;
  }

  /** Uploads a blob in one PATCH and commits it under `digest` (the registry checks the digest). */
  async uploadBlob(repo: string, digest: string, open: () => Readable): Promise<void> {
    if (await this.hasBlob(repo, digest)) return;
    const start = await this.request(repo, `/v2/${repo}/blobs/uploads/`, { method: "POST", ok: [202] });
    let loc = this.location(start);
    const patched = await this.request(repo, loc, { method: "PATCH", headers: { "content-type": "application/octet-stream" }, body: open, ok: [202] });
    loc = this.location(patched);
    const url = new URL(loc);
    url.searchParams.set("digest", digest);
    await this.request(repo, url.toString(), { method: "PUT", body: () => Buffer.alloc(0), ok: [201] });
  }

  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string): Promise<void> {
    await this.request(repo, `/v2/${repo}/manifests/${reference}`, { method: "PUT", headers: { "content-type": mediaType }, body: () => body, ok: [201] });
  }

  private location(res: Response): string {
    const loc = res.headers.get("location");
    if (!loc) throw this.unavailable("upload answer carried no Location");
    return new URL(loc, this.base).toString();
  }

  /** One request with auth and retries; throws a one-line EngineError unless the status is ok. */
  private async request(repo: string, path: string, r: Req, ctl?: AbortController): Promise<Response> {
    const url = path.startsWith("http") ? path : `${this.base}${path}`;
    const attempts = this.o.retries ?? 4;
    let challenged = false;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { ...r.headers };
      const auth = this.authorization.get(repo);
      if (auth) headers.authorization = auth;
      const body = r.body?.();
      const signal = ctl?.signal ?? AbortSignal.timeout(this.o.timeoutMs ?? 60_000);
      let res: Response;
      try {
        res = await fetch(url, {
          method: r.method ?? "GET",
          headers,
          body: body instanceof Readable ? (Readable.toWeb(body) as any) : body,
          signal,
          ...(body instanceof Readable ? { duplex: "half" } : {}),
        } as RequestInit);
      } catch (e) {
        if (attempt < attempts && !(body instanceof Readable && ctl?.signal.aborted)) {
          await backoff(attempt);
          continue;
        }
        const cause = (e as any)?.cause?.code ?? (e as any)?.cause?.message ?? (e as Error).message;
        throw this.unavailable(`${r.method ?? "GET"} ${new URL(url).pathname} failed: ${cause}`);
      }
      if (res.status === 401 && !challenged) {
        await res.arrayBuffer().catch(() => undefined);
        challenged = true;
        await this.answerChallenge(repo, res.headers.get("www-authenticate"));
        attempt--;
        continue;
      }
      if (TRANSIENT.has(res.status) && attempt < attempts) {
        await res.arrayBuffer().catch(() => undefined);
        await backoff(attempt);
        continue;
      }
      if ((r.ok ?? [200]).includes(res.status)) return res;
      throw await this.failure(url, r.method ?? "GET", res);
    }
  }

  private async answerChallenge(repo: string, header: string | null): Promise<void> {
    const ch = parseChallenge(header);
    if (!ch) throw new EngineError(status.UNAUTHENTICATED, `registry ${this.o.endpoint} answered 401 without a usable challenge ("${header ?? ""}")`);
    if (ch.scheme === "basic") {
      if (!this.o.auth) throw authError(this.o.endpoint, undefined);
      this.authorization.set(repo, basicHeader(this.o.auth));
      return;
    }
    const scope = `repository:${repo}:${this.o.push ? "pull,push" : "pull"}`;
    const token = await fetchToken(this.o.endpoint, ch, scope, this.o.auth, AbortSignal.timeout(this.o.timeoutMs ?? 60_000));
    this.authorization.set(repo, `Bearer ${token}`);
  }

  private async failure(url: string, method: string, res: Response): Promise<EngineError> {
    const text = await res.text().catch(() => "");
    let detail = "";
    try {
      const errs = (JSON.parse(text).errors ?? []) as { code?: string; message?: string }[];
      detail = errs.map((e) => `${e.code ?? ""}${e.message ? `: ${e.message}` : ""}`).join("; ");
    } catch {
      detail = text.split("\n")[0].slice(0, 200);
    }
    const what = `${method} ${new URL(url).pathname} on ${this.o.endpoint}`;
    if (res.status === 401 || res.status === 403) return authError(this.o.endpoint, this.o.auth);
    if (res.status === 404) return new EngineError(status.NOT_FOUND, `${what}: not found${detail ? ` (${detail})` : ""}`);
    return this.unavailable(`${what} answered ${res.status}${detail ? ` (${detail})` : ""}`);
  }

  private unavailable(m: string): EngineError {
    return new EngineError(status.UNAVAILABLE, `registry ${this.o.endpoint}: ${m}`);
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(200 * 4 ** (attempt - 1), 3000)));
}
