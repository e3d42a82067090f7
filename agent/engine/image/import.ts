// `import`: a rootfs tarball (as `docker export` writes, gzip or plain) becomes a one-layer
// image with no default command.
import { createReadStream } from "node:fs";
import type { StoreContext } from "./context.js";
import type { ImageConfigDoc, ImageRecord } from "./image.js";
import { hostPlatform, MEDIA } from "./manifest.js";
import { tagString } from "./reference.js";

export async function importRootfs(ctx: StoreContext, tarPath: string, reference?: string): Promise<ImageRecord> {
  const tag = reference ? tagString(reference) : undefined; // refuse a bad name before any work
  const layer = await ctx.layers.addLayer(async () => createReadStream(tarPath), {}, `import ${tarPath}`);
  const release = ctx.layers.pin([layer.diffId, layer.digest]);
  try {
    const now = new Date().toISOString();
    const config: ImageConfigDoc = {
      created: now,
      ...hostPlatform(),
      config: {},
      rootfs: { type: "layers", diff_ids: [layer.diffId] },
      history: [{ created: now, created_by: "shoal import", comment: "Imported from tarball" }],
    };
    const ref = { diffId: layer.diffId, digest: layer.digest, mediaType: layer.gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer, blobSize: layer.blobSize };
    return await ctx.commit(Buffer.from(JSON.stringify(config)), [ref], tag ? [tag] : [], []);
  } finally {
    release();
  }
}
