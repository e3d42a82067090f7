// `push`: uploads an image's layer blobs and config, then an OCI manifest under the tag.
// pushManifest works from any blob source, so tests can push an OCI layout without a store.
import { status } from "@grpc/grpc-js";
import { Readable } from "node:stream";
import { EngineError } from "../errors.js";
import type { Credentials } from "./auth.js";
import { clientFor, shortId, type Progress, type StoreContext } from "./context.js";
import { sha256 } from "./digest.js";
import type { ImageRecord } from "./image.js";
import { MEDIA } from "./manifest.js";
import { familiarName, parseReference } from "./reference.js";
import type { RegistryClient } from "./registry-client.js";

export interface PushOptions {
  auth?: Credentials;
  onProgress?: (p: Progress) => void;
}

export interface PushBlob {
  digest: string;
  size: number;
  mediaType: string;
  open: () => Readable;
}

/** Uploads blobs and config, then puts the manifest; returns the manifest digest. */
export async function pushManifest(client: RegistryClient, repo: string, tag: string, config: Buffer, layers: PushBlob[], say: (p: Progress) => void = () => undefined): Promise<string> {
  for (const l of layers) {
    say({ status: "Pushing", id: shortId(l.digest), total: l.size });
    await client.uploadBlob(repo, l.digest, l.open);
    say({ status: "Pushed", id: shortId(l.digest) });
  }
  const configDigest = sha256(config);
  await client.uploadBlob(repo, configDigest, () => Readable.from([config]));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  await client.putManifest(repo, tag, manifest, MEDIA.ociManifest);
  return sha256(manifest);
}

export async function pushImage(ctx: StoreContext, rec: ImageRecord, ref: string, o: PushOptions = {}): Promise<string> {
  const r = parseReference(ref);
  if (r.digest) throw new EngineError(status.INVALID_ARGUMENT, `push ${ref}: push a tag, not a digest`);
  const client = clientFor(r, ctx.registries, o.auth, true);
  const layers: PushBlob[] = rec.layers.map((l) => {
    if (!ctx.layers.hasBlob(l.digest)) throw new EngineError(status.FAILED_PRECONDITION, `push ${ref}: the blob of layer ${shortId(l.diffId)} is missing from the store: pull or load the image again`);
    return { digest: l.digest, size: l.blobSize, mediaType: pushable(l.mediaType), open: () => ctx.layers.openBlob(l.digest) };
  });
  const say = o.onProgress ?? (() => undefined);
  say({ status: `The push refers to repository [${familiarName(r)}]` });
  try {
    const digest = await pushManifest(client, r.repository, r.tag!, ctx.layers.readBlob(rec.id), layers, say);
    say({ status: `${r.tag}: digest: ${digest}` });
    return digest;
  } catch (e) {
    if (e instanceof EngineError) throw new EngineError(e.code, `push ${ref}: ${e.message}`);
    throw new EngineError(status.UNKNOWN, `push ${ref}: ${(e as Error).message}`);
  }
}

/** OCI media types for the layer formats the store keeps (docker's gzip type maps to OCI's). */
function pushable(mediaType: string): string {
  if (mediaType === MEDIA.dockerLayerGzip) return MEDIA.ociLayerGzip;
  return mediaType;
}
