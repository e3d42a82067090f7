// The four manifest formats a registry may answer with, and the choice of one platform from an
// index. Docker schema2 and OCI manifests have the same shape; so do manifest lists and indexes.
export const MEDIA = {
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(", ");

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export type AnyManifest = { kind: "manifest"; manifest: ImageManifest } | { kind: "index"; index: ImageIndex };

/** Reads a manifest body, telling index from image manifest by media type or, failing that, shape. */
export function parseManifest(body: Buffer, contentType: string | null, what: string): AnyManifest {
  let doc: any;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw new Error(`${what}: the manifest is not JSON`);
  }
  const type = (doc?.mediaType as string | undefined) ?? contentType?.split(";")[0].trim() ?? "";
  if (doc?.schemaVersion === 1 || type.includes("manifest.v1+prettyjws") || type.includes("manifest.v1+json") && !type.includes("oci")) {
    throw new Error(`${what}: Docker schema 1 manifests are not supported: push the image again with a current client`);
  }
  if (type === MEDIA.dockerList || type === MEDIA.ociIndex || (Array.isArray(doc?.manifests) && !doc?.config)) {
    if (!Array.isArray(doc.manifests)) throw new Error(`${what}: the index has no manifests`);
    return { kind: "index", index: doc as ImageIndex };
  }
  if (!doc?.config?.digest || !Array.isArray(doc?.layers)) throw new Error(`${what}: unsupported manifest (media type "${type}")`);
  return { kind: "manifest", manifest: doc as ImageManifest };
}

/** This host's platform in OCI terms (amd64 on x64, arm64 on arm64). */
export function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

/** Picks the manifest for `want` (default: this host) from an index; attestations are skipped. */
export function selectPlatform(index: ImageIndex, want = hostPlatform()): Descriptor | undefined {
  const images = index.manifests.filter((m) => m.annotations?.["vnd.docker.reference.type"] !== "attestation-manifest");
  const match = images.filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
  if (match.length) return match.find((m) => !m.platform?.variant || m.platform.variant === "v8") ?? match[0];
  // Single-platform indexes (e.g. OCI layouts written by tools) often carry no platform at all.
  const untagged = images.filter((m) => !m.platform);
  return untagged.length === 1 ? untagged[0] : undefined;
}

export function platformsOf(index: ImageIndex): string {
  return index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? "/" + m.platform.variant : ""}` : "unknown")).join(", ");
}
