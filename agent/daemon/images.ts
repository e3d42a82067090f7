// The daemon's image store (agent/engine/image), shaped to what the engine API and the container
// engine ask of it.
import type { ImagesPort, ImageRow } from "../engine/api/images-port.js";
import type { ImagePort } from "../engine/containers/launch.js";
import { ImageStore, type ImageSummary } from "../engine/image/index.js";

export interface ImageStoreOptions {
  mirror?: string;
  insecure: string[];
  isInUse: (imageId: string) => boolean;
}

const row = (i: ImageSummary): ImageRow => ({
  id: i.id,
  references: i.repoTags,
  createdUnix: Math.max(0, Math.floor(Date.parse(i.created) / 1000) || 0),
  size: i.size,
});

export async function openImages(root: string, o: ImageStoreOptions): Promise<ImagesPort & ImagePort> {
  const store = new ImageStore(root, { mirror: o.mirror, insecure: o.insecure, isInUse: o.isInUse });
  return {
    pull: async (ref, onProgress) => void (await store.pull(ref, { onProgress })),
    importRootfs: async (tar, reference) => row(await store.importRootfs(tar, reference || undefined)),
    load: (tar) => store.load(tar),
    list: async () => (await store.list()).map(row),
    inspect: (ref) => store.inspect(ref),
    remove: (ref, force) => store.remove(ref, { force }),
    resolve: (ref) => store.resolve(ref),
  };
}
