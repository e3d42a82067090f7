// `load`: a `docker save` tarball (manifest.json, configs, layer tars) or an OCI image layout
// tarball (oci-layout, index.json, blobs/). The tarball is unpacked into the store's tmp/ first
// (its entries may come in any order), then each image is stored like a pull from disk.
import { createReadStream, existsSync, mkdirSync, promises as fsp, readFileSync, rmSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { invalid } from "../errors.js";
import { shortId, type Progress, type StoreContext } from "./context.js";
import { DigestMismatch, hexOf, sha256 } from "./digest.js";
import { parseConfig, type LayerRef } from "./image.js";
import { MEDIA, parseManifest, selectPlatform, type Descriptor } from "./manifest.js";
import { tagString } from "./reference.js";
import { safePath } from "./unpack.js";

/** Loads every image in the tarball; returns the tags loaded (or ids of untagged images). */
export async function loadTarball(ctx: StoreContext, tarPath: string, say: (p: Progress) => void = () => undefined): Promise<string[]> {
  const dir = ctx.layers.tempPath("load");
  mkdirSync(dir, { mode: 0o700 });
  try {
    await extractPlain(tarPath, dir);
    if (existsSync(join(dir, "manifest.json"))) return await loadDockerSave(ctx, dir, say);
    if (existsSync(join(dir, "index.json")) && existsSync(join(dir, "oci-layout"))) return await loadOciLayout(ctx, dir, say);
    throw invalid(`load ${tarPath}: neither a docker save tarball (manifest.json) nor an OCI image layout (oci-layout, index.json)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDockerSave(ctx: StoreContext, dir: string, say: (p: Progress) => void): Promise<string[]> {
  const entries = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as SaveEntry[];
  const loaded: string[] = [];
  for (const e of entries) {
    const configData = readFileSync(join(dir, safePath(e.Config, "manifest.json")));
    const config = parseConfig(configData, e.Config);
    if (config.rootfs.diff_ids.length !== e.Layers.length) throw invalid(`load: ${e.Config} lists ${config.rootfs.diff_ids.length} layers, manifest.json ${e.Layers.length}`);
    const tags = (e.RepoTags ?? []).map(tagString);
    const layers = await storeLayers(ctx, e.Layers.map((path, i) => ({ file: join(dir, safePath(path, "manifest.json")), diffId: config.rootfs.diff_ids[i] })), say);
    const rec = await ctx.commit(configData, layers, tags, []);
    loaded.push(...(tags.length ? tags : [rec.id]));
  }
  return loaded;
}

async function loadOciLayout(ctx: StoreContext, dir: string, say: (p: Progress) => void): Promise<string[]> {
  const blob = (d: string) => join(dir, "blobs/sha256", hexOf(d));
  const read = (d: Descriptor, what: string) => {
    const data = readFileSync(blob(d.digest));
    if (sha256(data) !== d.digest) throw new DigestMismatch(`load: ${what} ${d.digest}: digest mismatch (got ${sha256(data)})`);
    return data;
  };
  const index = parseManifest(readFileSync(join(dir, "index.json")), null, "index.json");
  if (index.kind !== "index") throw invalid("load: index.json is not an image index");
  const loaded: string[] = [];
  for (const top of index.index.manifests) {
    let desc = top;
    let doc = parseManifest(read(desc, "manifest"), desc.mediaType, desc.digest);
    if (doc.kind === "index") {
      const pick = selectPlatform(doc.index);
      if (!pick) continue; // no image for this platform under this name
      desc = pick;
      doc = parseManifest(read(desc, "manifest"), desc.mediaType, desc.digest);
    }
    if (doc.kind !== "manifest") continue;
    const m = doc.manifest;
    const configData = read(m.config, "config");
    const config = parseConfig(configData, m.config.digest);
    if (config.rootfs.diff_ids.length !== m.layers.length) throw invalid(`load: manifest ${desc.digest} has ${m.layers.length} layers, its config ${config.rootfs.diff_ids.length}`);
    const layers = await storeLayers(ctx, m.layers.map((l, i) => ({ file: blob(l.digest), digest: l.digest, diffId: config.rootfs.diff_ids[i], mediaType: l.mediaType })), say);
    const name = top.annotations?.["io.containerd.image.name"] ?? top.annotations?.["org.opencontainers.image.ref.name"];
    const tags = name && /[:/]/.test(name) ? [tagString(name)] : [];
    const rec = await ctx.commit(configData, layers, tags, []);
    loaded.push(...(tags.length ? tags : [rec.id]));
  }
  return loaded;
}

async function storeLayers(ctx: StoreContext, files: { file: string; diffId: string; digest?: string; mediaType?: string }[], say: (p: Progress) => void): Promise<LayerRef[]> {
  const out: LayerRef[] = [];
  const release = ctx.layers.pin(files.map((f) => f.diffId));
  try {
    for (const f of files) {
      const stored = await ctx.layers.addLayer(async () => createReadStream(f.file), { digest: f.digest, diffId: f.diffId }, `load: layer ${f.digest ?? f.file}`);
      say({ status: "Loading layer", id: shortId(stored.diffId) });
      out.push({ diffId: stored.diffId, digest: stored.digest, mediaType: f.mediaType ?? (stored.gzip ? MEDIA.ociLayerGzip : MEDIA.ociLayer), blobSize: stored.blobSize });
    }
  } finally {
    release();
  }
  return out;
}

/** Writes the tarball's regular files and directories under `dir` (nothing else is needed). */
async function extractPlain(tarPath: string, dir: string): Promise<void> {
  const extract = tar.extract();
  const feeding = pipeline(createReadStream(tarPath), extract as NodeJS.WritableStream);
  let failure: unknown;
  feeding.catch((e) => (failure = e));
  try {
    for await (const entry of extract) {
      const path = safePath(entry.header.name, `load ${tarPath}`);
      if (path && entry.header.type === "file") {
        const file = join(dir, path);
        mkdirSync(dirname(file), { recursive: true });
        await pipeline(entry as unknown as NodeJS.ReadableStream, (await fsp.open(file, "wx", 0o600)).createWriteStream());
      } else if (path && (entry.header.type === "symlink" || entry.header.type === "link") && entry.header.linkname) {
        // docker save (before 25) links repeated layers to their first copy
        const base = entry.header.type === "symlink" ? posix.dirname(path) : "";
        const target = posix.normalize(posix.join(base, entry.header.linkname));
        if (!target.startsWith("..") && !posix.isAbsolute(target)) {
          mkdirSync(dirname(join(dir, path)), { recursive: true });
          await fsp.symlink(join(dir, target), join(dir, path));
        }
        entry.resume();
      } else {
        entry.resume();
      }
    }
  } catch (e) {
    throw invalid(`load ${tarPath}: ${(failure as Error)?.message ?? (e as Error).message}`);
  }
  await feeding.catch(() => undefined);
  if (failure) throw invalid(`load ${tarPath}: ${(failure as Error).message}`);
}
