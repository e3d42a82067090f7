// Test images built from the machine's busybox without docker: layers as tar-stream tarballs
// (sorted entries, fixed times, so digests repeat from run to run), OCI image configs, and
// writers for an OCI image layout, a `docker save` tarball, or a registry (push).
//   busybox:1 / busybox:2   busybox rootfs layer + a layer with /var/www/index.html "shoal v1"/"v2"
//                          (they share the rootfs layer); Cmd: httpd on port 80 serving /var/www
//   shoal/layered:1         rootfs + files, then a layer deleting some (whiteouts) and an opaque dir
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, lstatSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";
import { sha256 } from "../../agent/engine/image/digest.js";
import type { ContainerDefaults, ImageConfigDoc } from "../../agent/engine/image/image.js";
import { MEDIA } from "../../agent/engine/image/manifest.js";
import { pushManifest } from "../../agent/engine/image/push.js";
import { RegistryClient } from "../../agent/engine/image/registry-client.js";
import { makeBusyboxRootfs } from "./busybox.js";
import type { Login } from "./registry.js";

const EPOCH = new Date("2024-01-01T00:00:00Z");

export interface LayerEntry {
  path: string;
  type?: "file" | "directory" | "symlink" | "link";
  content?: string;
  mode?: number;
  linkname?: string;
}

export interface TestImage {
  name: string; // "busybox:1"
  config: Buffer;
  layers: Buffer[]; // gzip blobs, lowest first
}

/** An uncompressed layer tar from explicit entries. */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(pack as unknown as AsyncIterable<Buffer>);
  for (const e of entries) {
    const type = e.type ?? "file";
    const h = { name: e.path, type, mode: e.mode ?? (type === "directory" ? 0o755 : 0o644), mtime: EPOCH, uid: 0, gid: 0, linkname: e.linkname };
    if (type === "file") pack.entry(h, e.content ?? "");
    else pack.entry(h);
  }
  pack.finalize();
  return done;
}

/** An uncompressed layer tar of a directory tree, entries sorted. */
export async function dirTar(root: string): Promise<Buffer> {
  const entries: LayerEntry[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      if (st.isSymbolicLink()) entries.push({ path, type: "symlink", linkname: readlinkSync(join(root, path)), mode: 0o777 });
      else if (st.isDirectory()) {
        entries.push({ path, type: "directory", mode: st.mode & 0o7777 });
        walk(path);
      } else entries.push({ path, content: readFileSync(join(root, path)).toString("latin1"), mode: st.mode & 0o7777 });
    }
  };
  walk("");
  const pack = tar.pack();
  const done = collect(pack as unknown as AsyncIterable<Buffer>);
  for (const e of entries) {
    const h = { name: e.path, type: e.type ?? "file", mode: e.mode, mtime: EPOCH, uid: 0, gid: 0, linkname: e.linkname };
    if ((e.type ?? "file") === "file") pack.entry(h, Buffer.from(e.content ?? "", "latin1"));
    else pack.entry(h);
  }
  pack.finalize();
  return done;
}

/** An image from uncompressed layer tars (stored gzip-compressed, as registries serve them). */
export function makeImage(name: string, tars: Buffer[], defaults: ContainerDefaults = {}): TestImage {
  const config: ImageConfigDoc = {
    created: EPOCH.toISOString(),
    architecture: "amd64",
    os: "linux",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], ...defaults },
    rootfs: { type: "layers", diff_ids: tars.map((t) => sha256(t)) },
    history: tars.map(() => ({ created: EPOCH.toISOString(), created_by: "test/support/images.ts" })),
  };
  return { name, config: Buffer.from(JSON.stringify(config)), layers: tars.map((t) => gzipSync(t)) };
}

let rootfsTar: Buffer | undefined;
/** The busybox rootfs as one layer tar (built once per process). */
export async function busyboxLayer(): Promise<Buffer> {
  if (!rootfsTar) {
    const dir = mkdtempSync("/tmp/shoal-bb-");
    try {
      rootfsTar = await dirTar(makeBusyboxRootfs(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rootfsTar;
}

const WEB: ContainerDefaults = { Cmd: ["httpd", "-f", "-p", "80", "-h", "/var/www"], ExposedPorts: { "80/tcp": {} }, WorkingDir: "/" };

/** busybox:1 ("shoal v1") or busybox:2 ("shoal v2"). */
export async function busyboxWeb(version: 1 | 2, name = `busybox:${version}`): Promise<TestImage> {
  const page = await layerTar([{ path: "var/www", type: "directory" }, { path: "var/www/index.html", content: `shoal v${version}\n` }]);
  return makeImage(name, [await busyboxLayer(), page], { ...WEB, Labels: { "shoal.test.version": String(version) } });
}

/**
 * Two layers over busybox: the first adds data/keep.txt, data/gone.txt, olddir/a, opq/x, opq/y;
 * the second deletes data/gone.txt and olddir (whiteouts) and makes opq opaque with a new opq/z.
 * Seen through overlayfs: data/keep.txt, opq/z only.
 */
export async function layeredImage(name = "shoal/layered:1"): Promise<TestImage> {
  const files = await layerTar([
    { path: "data", type: "directory" },
    { path: "data/keep.txt", content: "keep\n" },
    { path: "data/gone.txt", content: "gone\n" },
    { path: "olddir", type: "directory" },
    { path: "olddir/a", content: "a\n" },
    { path: "opq", type: "directory" },
    { path: "opq/x", content: "x\n" },
    { path: "opq/y", content: "y\n" },
  ]);
  const deletes = await layerTar([
    { path: "data", type: "directory" },
    { path: "data/.wh.gone.txt" },
    { path: ".wh.olddir" },
    { path: "opq", type: "directory" },
    { path: "opq/.wh..wh..opq" },
    { path: "opq/z", content: "z\n" },
  ]);
  return makeImage(name, [await busyboxLayer(), files, deletes], { Cmd: ["sh"] });
}

/** Writes an OCI image layout directory holding `images` (each named by a ref.name annotation). */
export function writeOciLayout(dir: string, images: TestImage[]): string {
  mkdirSync(join(dir, "blobs/sha256"), { recursive: true });
  const put = (data: Buffer) => {
    const d = sha256(data);
    writeFileSync(join(dir, "blobs/sha256", d.slice(7)), data);
    return { digest: d, size: data.length };
  };
  const manifests = images.map((img) => {
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, ...put(img.config) },
      layers: img.layers.map((l) => ({ mediaType: MEDIA.ociLayerGzip, ...put(l) })),
    }));
    return { mediaType: MEDIA.ociManifest, ...put(manifest), annotations: { "org.opencontainers.image.ref.name": img.name } };
  });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  return dir;
}

/** Writes a `docker save` tarball (manifest.json, repositories, <id>/layer.tar uncompressed). */
export function writeDockerSave(tarPath: string, images: TestImage[]): string {
  const dir = mkdtempSync("/tmp/shoal-save-");
  try {
    const manifest = images.map((img) => {
      const configName = `${sha256(img.config).slice(7)}.json`;
      writeFileSync(join(dir, configName), img.config);
      const layers = img.layers.map((gz) => {
        const plain = execFileSync("gzip", ["-dc"], { input: gz, maxBuffer: 1 << 30 });
        const id = sha256(plain).slice(7);
        mkdirSync(join(dir, id), { recursive: true });
        writeFileSync(join(dir, id, "layer.tar"), plain);
        return `${id}/layer.tar`;
      });
      return { Config: configName, RepoTags: [img.name], Layers: layers };
    });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    const repos: Record<string, Record<string, string>> = {};
    for (const [i, img] of images.entries()) {
      const [repo, tag] = img.name.split(":");
      (repos[repo] ??= {})[tag] = manifest[i].Layers.at(-1)!.split("/")[0];
    }
    writeFileSync(join(dir, "repositories"), JSON.stringify(repos));
    execFileSync("tar", ["-C", dir, "-cf", tarPath, "."]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tarPath;
}

/** Tars an OCI layout directory into an OCI layout tarball. */
export function tarDir(dir: string, tarPath: string): string {
  execFileSync("tar", ["-C", dir, "-cf", tarPath, "."]);
  return tarPath;
}

/** Pushes `img` to the registry at `addr` as `repo:tag` (http, as for any loopback registry). */
export async function pushImage(img: TestImage, addr: string, repoTag: string, auth?: Login): Promise<string> {
  const [repo, tag] = repoTag.split(":");
  const client = new RegistryClient({ endpoint: addr, secure: false, auth, push: true });
  const layers = img.layers.map((l) => ({ digest: sha256(l), size: l.length, mediaType: MEDIA.ociLayerGzip, open: () => Readable.from([l]) }));
  return pushManifest(client, repo, tag ?? "latest", img.config, layers);
}

/**
 * Fills a registry used as the daemon's mirror: busybox:1 and busybox:2 (under library/busybox,
 * where a mirror serves Docker Hub's official images) and shoal/layered:1.
 */
export async function pushTestImages(addr: string, auth?: Login): Promise<void> {
  await pushImage(await busyboxWeb(1), addr, "library/busybox:1", auth);
  await pushImage(await busyboxWeb(2), addr, "library/busybox:2", auth);
  await pushImage(await layeredImage(), addr, "shoal/layered:1", auth);
}

async function collect(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}
