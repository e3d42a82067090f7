// What the store records about an image: its config (the OCI image config, whose digest is the
// image id), its layer chain, and the names that point at it.

/** The container defaults an image carries (docker's and OCI's `config` object). */
export interface ContainerDefaults {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  Labels?: Record<string, string>;
  StopSignal?: string;
}

/** The OCI image config document. */
export interface ImageConfigDoc {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  config?: ContainerDefaults;
  rootfs: { type: string; diff_ids: string[] };
  history?: { created?: string; created_by?: string; empty_layer?: boolean; comment?: string }[];
}

export interface LayerRef {
  diffId: string; // sha256 of the uncompressed tar; names the unpacked layer
  digest: string; // the blob as stored and pushed
  mediaType: string;
  blobSize: number;
}

export interface ImageRecord {
  id: string; // digest of the config blob
  repoTags: string[]; // "busybox:1"
  repoDigests: string[]; // "busybox@sha256:…" (the manifest it was pulled by)
  created: string; // RFC 3339, from the config
  size: number; // unpacked bytes over all layers
  layers: LayerRef[]; // lowest first
  config: ImageConfigDoc;
}

/** A row of `images`. */
export interface ImageSummary {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  created: string;
  size: number;
}

export function summary(r: ImageRecord): ImageSummary {
  return { id: r.id, repoTags: [...r.repoTags], repoDigests: [...r.repoDigests], created: r.created, size: r.size };
}

/** Reads and checks a config blob. */
export function parseConfig(data: Buffer, what: string): ImageConfigDoc {
  let doc: ImageConfigDoc;
  try {
    doc = JSON.parse(data.toString("utf8"));
  } catch {
    throw new Error(`${what}: the image config is not JSON`);
  }
  if (!doc?.rootfs || !Array.isArray(doc.rootfs.diff_ids)) throw new Error(`${what}: the image config has no rootfs.diff_ids`);
  if (doc.os && doc.os !== "linux") throw new Error(`${what}: the image is for ${doc.os}, not linux`);
  return doc;
}

/** Docker's `inspect` view of an image. */
export function inspectView(r: ImageRecord) {
  return {
    Id: r.id,
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Created: r.created,
    Size: r.size,
    Architecture: r.config.architecture,
    Os: r.config.os,
    Author: r.config.author ?? "",
    Config: r.config.config ?? {},
    RootFS: { Type: "layers", Layers: r.layers.map((l) => l.diffId) },
  };
}
