// `pull`: manifest (through an index to this platform's manifest), config, then the layers,
// each verified against its digest and diff id before it enters the store.
import { status } from "@grpc/grpc-js";
import { EngineError } from "../errors.js";
import type { Credentials } from "./auth.js";
import { clientFor, shortId, type Progress, type StoreContext } from "./context.js";
import { DigestMismatch, sha256 } from "./digest.js";
import { parseConfig, type ImageRecord, type LayerRef } from "./image.js";
import { parseManifest, platformsOf, selectPlatform, type Descriptor, type ImageManifest } from "./manifest.js";
import { DOCKER_HUB, familiarName, familiarString, parseReference } from "./reference.js";
import type { RegistryClient } from "./registry-client.js";

export interface PullOptions {
  auth?: Credentials;
  onProgress?: (p: Progress) => void;
}

const PARALLEL_LAYERS = 3;
const MAX_CONFIG = 8 << 20;

export async function pullImage(ctx: StoreContext, ref: string, o: PullOptions = {}): Promise<ImageRecord> {
  const r = parseReference(ref);
  const name = familiarString(r);
  const say = o.onProgress ?? (() => undefined);
  const client = clientFor(r, ctx.registries, o.auth, false);
  try {
    say({ status: `Pulling from ${familiarName(r)}`, id: r.tag ?? r.digest });
    const { repo, manifest, topDigest } = await fetchManifest(client, r.repository, r.digest ?? r.tag!, r.registry === DOCKER_HUB && !!ctx.registries.mirror, name);
    if (r.digest && topDigest !== r.digest) throw new DigestMismatch(`manifest of ${name}: digest mismatch (expected ${r.digest}, got ${topDigest})`);
    const configData = await readAll((await client.getBlob(repo, manifest.config.digest)).stream, MAX_CONFIG, `config of ${name}`);
    if (sha256(configData) !== manifest.config.digest) throw new DigestMismatch(`config of ${name}: digest mismatch (expected ${manifest.config.digest}, got ${sha256(configData)})`);
    const config = parseConfig(configData, name);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) throw new Error(`${name}: the manifest has ${manifest.layers.length} layers but the config lists ${diffIds.length}`);
    const release = ctx.layers.pin([...diffIds, ...manifest.layers.map((l) => l.digest)]);
    const created: string[] = [];
    let done = false;
    try {
      const refs = await mapLimit(manifest.layers, PARALLEL_LAYERS, (l, i) => pullLayer(ctx, client, repo, l, diffIds[i], name, say, created));
      const upToDate = !!r.tag && !r.digest && ctx.hasTag(manifest.config.digest, name);
      const rec = await ctx.commit(configData, refs, r.tag && !r.digest ? [name] : [], [`${familiarName(r)}@${topDigest}`]);
      done = true;
      say({ status: `Digest: ${topDigest}` });
      say({ status: upToDate ? `Status: Image is up to date for ${name}` : `Status: Downloaded newer image for ${name}` });
      return rec;
    } finally {
      release();
      if (!done) ctx.collect(created, manifest.layers.map((l) => l.digest)); // layers this failed pull stored
    }
  } catch (e) {
    throw explain(e, name);
  }
}

async function pullLayer(ctx: StoreContext, client: RegistryClient, repo: string, l: Descriptor, diffId: string, name: string, say: (p: Progress) => void, created: string[]): Promise<LayerRef> {
  const id = shortId(l.digest);
  const ref: LayerRef = { diffId, digest: l.digest, mediaType: l.mediaType, blobSize: l.size };
  if (ctx.layers.hasLayer(diffId) && ctx.layers.hasBlob(l.digest)) {
    say({ status: "Already exists", id });
    return ref;
  }
  if (l.mediaType.includes("zstd")) throw new Error(`${name}: layer ${id} is zstd-compressed, which is not supported: push the image with gzip layers`);
  say({ status: "Pulling fs layer", id });
  const isNew = !ctx.layers.hasLayer(diffId);
  await ctx.layers.addLayer(
    async () => {
      const { stream } = await client.getBlob(repo, l.digest);
      return counted(stream, (current) => say({ status: "Downloading", id, current, total: l.size }));
    },
    { digest: l.digest, diffId },
    `layer ${l.digest} of ${name}`,
  );
  if (isNew) created.push(diffId);
  say({ status: "Pull complete", id });
  return ref;
}

/** The image manifest for this platform, with the digest of the document first fetched. */
async function fetchManifest(client: RegistryClient, repo: string, reference: string, viaMirror: boolean, name: string) {
  let got;
  try {
    got = await client.getManifest(repo, reference);
  } catch (e) {
    // A mirror filled by hand may hold Hub's official images without the `library/` prefix.
    if (!(viaMirror && repo.startsWith("library/") && (e as EngineError).code === status.NOT_FOUND)) throw e;
    repo = repo.slice("library/".length);
    got = await client.getManifest(repo, reference);
  }
  const topDigest = sha256(got.body);
  let doc = parseManifest(got.body, got.contentType, name);
  if (doc.kind === "index") {
    const pick = selectPlatform(doc.index);
    if (!pick) throw new EngineError(status.NOT_FOUND, `${name} has no linux/amd64 image (it has ${platformsOf(doc.index) || "none"})`);
    const sub = await client.getManifest(repo, pick.digest);
    if (sha256(sub.body) !== pick.digest) throw new DigestMismatch(`manifest ${pick.digest} of ${name}: digest mismatch (got ${sha256(sub.body)})`);
    doc = parseManifest(sub.body, sub.contentType, name);
    if (doc.kind !== "manifest") throw new Error(`${name}: an index inside an index is not supported`);
  }
  return { repo, manifest: doc.manifest as ImageManifest, topDigest };
}

/** One line for the user: what failed for which image. */
function explain(e: unknown, name: string): Error {
  if (e instanceof EngineError) {
    if (e.code === status.NOT_FOUND && /manifests\//.test(e.message)) return new EngineError(status.NOT_FOUND, `pull ${name}: image not found in the registry (${e.message.replace(/^.*?: not found ?/, "").replace(/^\(|\)$/g, "") || "manifest unknown"})`);
    return new EngineError(e.code, `pull ${name}: ${e.message}`);
  }
  if (e instanceof DigestMismatch) return new EngineError(status.DATA_LOSS, `pull ${name}: ${(e as Error).message}`);
  return new EngineError(status.UNKNOWN, `pull ${name}: ${(e as Error).message}`);
}

async function* counted(source: AsyncIterable<Buffer>, report: (n: number) => void): AsyncGenerator<Buffer> {
  let n = 0;
  let last = 0;
  for await (const chunk of source) {
    n += chunk.length;
    if (n - last >= 512 * 1024) {
      last = n;
      report(n);
    }
    yield chunk;
  }
  report(n);
}

async function readAll(s: AsyncIterable<Buffer>, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += c.length;
    if (n > max) throw new Error(`${what} is larger than ${max >> 20} MiB: refusing it`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}
