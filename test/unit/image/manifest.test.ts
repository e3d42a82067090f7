import { describe, expect, test } from "vitest";
import { MEDIA, parseManifest, selectPlatform, type ImageIndex } from "../../../agent/engine/image/manifest.js";
import { parseChallenge } from "../../../agent/engine/image/auth.js";

const d = (c: string) => "sha256:" + c.repeat(64);
const manifest = { schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, digest: d("c"), size: 1 }, layers: [{ mediaType: MEDIA.ociLayerGzip, digest: d("1"), size: 2 }] };

describe("manifests", () => {
  test("tells image manifests from indexes, by media type or shape", () => {
    expect(parseManifest(Buffer.from(JSON.stringify({ ...manifest, mediaType: MEDIA.dockerManifest })), null, "x").kind).toBe("manifest");
    expect(parseManifest(Buffer.from(JSON.stringify(manifest)), MEDIA.ociManifest, "x").kind).toBe("manifest");
    expect(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: [] })), null, "x").kind).toBe("index");
    expect(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), MEDIA.ociIndex, "x").kind).toBe("index");
  });

  test("refuses schema 1 and non-JSON with one line", () => {
    expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, fsLayers: [] })), null, "img")).toThrow(/schema 1/);
    expect(() => parseManifest(Buffer.from("<html>"), null, "img")).toThrow(/img: the manifest is not JSON/);
  });

  test("picks linux/amd64 from an index, skipping attestations and other platforms", () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MEDIA.ociManifest, digest: d("a"), size: 1, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
        { mediaType: MEDIA.ociManifest, digest: d("9"), size: 1, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
        { mediaType: MEDIA.ociManifest, digest: d("b"), size: 1, platform: { os: "windows", architecture: "amd64" } },
        { mediaType: MEDIA.ociManifest, digest: d("e"), size: 1, platform: { os: "linux", architecture: "amd64" } },
      ],
    };
    expect(selectPlatform(index, { os: "linux", architecture: "amd64" })?.digest).toBe(d("e"));
    expect(selectPlatform(index, { os: "linux", architecture: "arm64" })?.digest).toBe(d("a"));
    expect(selectPlatform(index, { os: "linux", architecture: "s390x" })).toBeUndefined();
    expect(selectPlatform({ schemaVersion: 2, manifests: [{ mediaType: MEDIA.ociManifest, digest: d("f"), size: 1 }] })?.digest).toBe(d("f"));
  });
});

describe("auth challenges", () => {
  test("parses bearer and basic challenges", () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')).toEqual({
      scheme: "bearer",
      params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull" },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: "basic", params: { realm: "x" } });
    expect(parseChallenge("Negotiate")).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });
});
