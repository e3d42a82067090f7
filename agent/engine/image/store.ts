// ImageStore: the node's images. Everything lives under one root directory:
//   blobs/sha256/<hex>   manifests' blobs: configs and layer blobs as pulled/loaded (for push)
//   layers/<hex>/fs      a layer unpacked once per diff id (sha256 of its uncompressed tar),
//                        whiteouts as overlayfs expects; layers/<hex>/layer.json its size
//   images.json          image records and tags (replaced atomically)
//   tmp/                 work in progress, renamed into place when complete, emptied on start
// One ImageStore per root at a time (the daemon's lock): opening one empties tmp/ and drops
// layers and blobs that no image references (left by a crash between unpack and record).
//
// API (all methods async; errors are EngineError with a one-line message and a gRPC status):
//   new ImageStore(root, { mirror?, insecure?, isInUse?, credentials?(registry) })
//     mirror: "127.0.0.1:5000" serves Docker Hub names (busybox:1 → <mirror>/library/busybox:1,
//       falling back to <mirror>/busybox:1); mirror and loopback registries and `insecure` ones
//       are reached over http. isInUse(imageId) refuses `remove` while containers use an image.
//   pull(ref, { auth?: {username,password}, onProgress?(p: {status, id?, current?, total?}) })
//     → ImageSummary { id, repoTags, repoDigests, created (RFC 3339), size (unpacked bytes) }
//   importRootfs(tarPath, reference?)  → ImageSummary   (a rootfs tar, gzip or plain; no Cmd)
//   load(tarPath)  → string[] tags loaded (ids for untagged images); docker save or OCI layout
//   list()  → ImageSummary[] newest first; inspect(ref) → docker-style inspect object
//   resolve(ref) → { id, layerDirs, config }: layerDirs absolute, LOWEST FIRST (overlayfs's
//     lowerdir= option lists the top first: reverse them), config = the image's Env, Cmd, …
//   tag(source, target); remove(ref, { force? }) → { untagged, deleted }
//     (removing a tag of an image with other tags only untags it; deleting an image is refused
//     while isInUse(id), even with force; `force` allows deleting by id an image with several
//     tags; layers and blobs go when no other image uses them)
//   push(ref, { auth?, onProgress? }) → manifest digest (an OCI manifest; tag the image first)
//   layersUnpacked: layers unpacked since open (shared layers count once)
// refs: name[:tag], name@sha256:…, registry:port/name:tag, sha256:<id>, or a unique id prefix.
import { precondition, conflict } from "../errors.js";
import type { Credentials } from "./auth.js";
import { ImageCatalog } from "./catalog.js";
import type { Progress, RegistrySettings, StoreContext } from "./context.js";
import { sha256 } from "./digest.js";
import { importRootfs } from "./import.js";
import { inspectView, parseConfig, summary, type ContainerDefaults, type ImageRecord, type ImageSummary, type LayerRef } from "./image.js";
import { LayerStore } from "./layers.js";
import { loadTarball } from "./load.js";
import { pullImage } from "./pull.js";
import { pushImage } from "./push.js";
import { familiarString, parseReference, tagString } from "./reference.js";

export interface ImageStoreOptions {
  mirror?: string;
  insecure?: string[];
  isInUse?: (imageId: string) => boolean;
  /** Stored logins by registry host ("docker.io" for Hub names), used when a call passes none. */
  credentials?: (registry: string) => Credentials | undefined;
}

export interface ResolvedImage {
  id: string;
  layerDirs: string[];
  config: ContainerDefaults;
}

export class ImageStore {
  private layers: LayerStore;
  private catalog: ImageCatalog;
  private ctx: StoreContext;

  constructor(readonly root: string, private o: ImageStoreOptions = {}) {
    this.layers = new LayerStore(root);
    this.catalog = new ImageCatalog(root);
    const registries: RegistrySettings = { mirror: o.mirror || undefined, insecure: o.insecure ?? [] };
    this.ctx = {
      layers: this.layers,
      registries,
      commit: (config, layers, tags, digests) => this.commit(config, layers, tags, digests),
      collect: (diffIds, digests) => this.collect(diffIds, digests),
      hasTag: (id, tag) => this.catalog.get(id)?.repoTags.includes(tag) ?? false,
    };
    // Content left by an operation that crashed between storing a layer and recording its image.
    const stray = this.layers.contents();
    this.collect(stray.diffIds, stray.digests);
  }

  async pull(ref: string, o: { auth?: Credentials; onProgress?: (p: Progress) => void } = {}): Promise<ImageSummary> {
    return summary(await pullImage(this.ctx, ref, { ...o, auth: o.auth ?? this.loginFor(ref) }));
  }

  async importRootfs(tarPath: string, reference?: string): Promise<ImageSummary> {
    return summary(await importRootfs(this.ctx, tarPath, reference));
  }

  async load(tarPath: string, onProgress?: (p: Progress) => void): Promise<string[]> {
    return loadTarball(this.ctx, tarPath, onProgress);
  }

  async list(): Promise<ImageSummary[]> {
    return this.catalog.all().map(summary);
  }

  async inspect(ref: string): Promise<ReturnType<typeof inspectView>> {
    return inspectView(this.catalog.find(ref));
  }

  async resolve(ref: string): Promise<ResolvedImage> {
    const rec = this.catalog.find(ref);
    for (const l of rec.layers) {
      if (!this.layers.hasLayer(l.diffId)) throw precondition(`image ${ref}: layer ${l.diffId} is missing from the store: remove the image and pull it again`);
    }
    return { id: rec.id, layerDirs: rec.layers.map((l) => this.layers.layerDir(l.diffId)), config: rec.config.config ?? {} };
  }

  async tag(source: string, target: string): Promise<void> {
    const rec = this.catalog.find(source);
    this.catalog.put(rec, [tagString(target)]);
  }

  async remove(ref: string, o: { force?: boolean } = {}): Promise<{ untagged: string[]; deleted: string[] }> {
    const rec = this.catalog.find(ref);
    const tag = this.tagNamed(ref, rec);
    if (tag && rec.repoTags.length > 1) {
      this.catalog.untag(tag);
      return { untagged: [tag], deleted: [] };
    }
    if (this.o.isInUse?.(rec.id)) throw conflict(`image ${ref} (${rec.id.slice(7, 19)}) is used by a container: remove the container first`);
    if (!tag && rec.repoTags.length > 1 && !o.force) throw conflict(`image ${ref} has several tags (${rec.repoTags.join(", ")}): remove them by name, or force`);
    this.catalog.delete(rec.id);
    const deleted = [rec.id, ...this.collect(rec.layers.map((l) => l.diffId), [rec.id, ...rec.layers.map((l) => l.digest)])];
    return { untagged: [...rec.repoTags, ...rec.repoDigests], deleted };
  }

  async push(ref: string, o: { auth?: Credentials; onProgress?: (p: Progress) => void } = {}): Promise<string> {
    return pushImage(this.ctx, this.catalog.find(ref), ref, { ...o, auth: o.auth ?? this.loginFor(ref) });
  }

  private loginFor(ref: string): Credentials | undefined {
    if (!this.o.credentials) return undefined;
    return this.o.credentials(parseReference(ref).registry);
  }

  /** Layers unpacked since the store was opened: layers shared between images count once. */
  get layersUnpacked(): number {
    return this.layers.unpacked;
  }

  /** The tag `ref` names on `rec`, if `ref` is a name rather than an id. */
  private tagNamed(ref: string, rec: ImageRecord): string | undefined {
    try {
      const t = familiarString(parseReference(ref));
      return rec.repoTags.includes(t) ? t : undefined;
    } catch {
      return undefined;
    }
  }

  private async commit(config: Buffer, layers: LayerRef[], tags: string[], digests: string[]): Promise<ImageRecord> {
    const id = sha256(config);
    await this.layers.putBlob(id, config, "image config");
    const doc = parseConfig(config, id);
    const size = layers.reduce((n, l) => n + this.layers.layerInfo(l.diffId).size, 0);
    const rec: ImageRecord = { id, repoTags: [], repoDigests: [], created: doc.created ?? new Date(0).toISOString(), size, layers, config: doc };
    return this.catalog.put(rec, tags, digests);
  }

  /** Removes the given layers and blobs that no image references and nothing in flight pins. */
  private collect(diffIds: string[], digests: string[]): string[] {
    const usedLayers = new Set<string>();
    const usedBlobs = new Set<string>();
    for (const r of this.catalog.all()) {
      usedBlobs.add(r.id);
      for (const l of r.layers) {
        usedLayers.add(l.diffId);
        usedBlobs.add(l.digest);
      }
    }
    const removed: string[] = [];
    for (const d of new Set(diffIds)) {
      if (usedLayers.has(d) || this.layers.pinned(d)) continue;
      this.layers.removeLayer(d);
      removed.push(d);
    }
    for (const d of new Set(digests)) if (!usedBlobs.has(d) && !this.layers.pinned(d)) this.layers.removeBlob(d);
    return removed;
  }
}
