// The content-addressed part of the image store: blobs by digest (blobs/sha256/<hex>) and
// unpacked layers by diff id (layers/<hex>/fs). Everything is built under tmp/ and renamed into
// place, so a crash leaves either nothing or a complete entry. A layer being fetched by two
// pulls at once is fetched and unpacked once; pins keep in-flight content safe from removal.
import { randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, promises as fsp, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { DigestMismatch, Digester, hexOf, tap, verifyDigest } from "./digest.js";
import { unpackLayer } from "./unpack.js";

export interface StoredLayer {
  diffId: string;
  digest: string; // of the blob as stored (compressed or not)
  size: number; // uncompressed file content in bytes
  blobSize: number;
  gzip: boolean;
}

export class LayerStore {
  private inflight = new Map<string, Promise<StoredLayer>>();
  /** Layers unpacked since this store was opened (a statistic; tests check sharing with it). */
  unpacked = 0;
  private pins = new Map<string, number>();

  constructor(readonly root: string) {
    for (const d of ["blobs/sha256", "layers", "tmp"]) mkdirSync(join(root, d), { recursive: true, mode: 0o700 });
    // Leftovers of a crash or of an interrupted removal: never referenced, safe to drop.
    rmSync(join(root, "tmp"), { recursive: true, force: true });
    mkdirSync(join(root, "tmp"), { mode: 0o700 });
  }

  blobPath(digest: string): string {
    return join(this.root, "blobs/sha256", hexOf(digest));
  }
  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }
  readBlob(digest: string): Buffer {
    return readFileSync(this.blobPath(digest));
  }
  layerDir(diffId: string): string {
    return join(this.root, "layers", hexOf(diffId), "fs");
  }
  hasLayer(diffId: string): boolean {
    return existsSync(join(this.root, "layers", hexOf(diffId), "layer.json"));
  }
  layerInfo(diffId: string): StoredLayer {
    return JSON.parse(readFileSync(join(this.root, "layers", hexOf(diffId), "layer.json"), "utf8"));
  }

  /** Marks content as in use by an operation in flight; returns the release function. */
  pin(keys: string[]): () => void {
    for (const k of keys) this.pins.set(k, (this.pins.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) {
        const n = (this.pins.get(k) ?? 1) - 1;
        if (n <= 0) this.pins.delete(k);
        else this.pins.set(k, n);
      }
    };
  }
  pinned(key: string): boolean {
    return this.pins.has(key);
  }

  /** A fresh private directory under tmp/ (same filesystem as the store, for atomic renames). */
  tempPath(kind: string): string {
    return join(this.root, "tmp", `${kind}-${randomBytes(6).toString("hex")}`);
  }

  /** Stores a small blob held in memory after checking its digest. */
  async putBlob(digest: string, data: Buffer, what: string): Promise<void> {
    const d = new Digester();
    d.update(data);
    verifyDigest(what, digest, d.digest());
    if (this.hasBlob(digest)) return;
    const tmp = this.tempPath("blob");
    await fsp.writeFile(tmp, data, { mode: 0o600 });
    renameSync(tmp, this.blobPath(digest));
  }

  /**
   * Stores one layer from its blob stream (gzip or plain tar): keeps the blob, unpacks it once per
   * diff id, and checks the blob digest and the diff id when they are known. Concurrent calls
   * for the same diff id share one unpack.
   */
  addLayer(open: () => Promise<AsyncIterable<Buffer>>, want: { digest?: string; diffId?: string }, what: string): Promise<StoredLayer> {
    const key = want.diffId ?? want.digest;
    if (key && want.diffId && this.hasLayer(want.diffId) && (!want.digest || this.hasBlob(want.digest))) return Promise.resolve(this.layerInfo(want.diffId));
    const running = key ? this.inflight.get(key) : undefined;
    if (running) return running;
    const p = this.fetchAndUnpack(open, want, what).finally(() => key && this.inflight.delete(key));
    if (key) this.inflight.set(key, p);
    return p;
  }

  private async fetchAndUnpack(open: () => Promise<AsyncIterable<Buffer>>, want: { digest?: string; diffId?: string }, what: string): Promise<StoredLayer> {
    // The blob is downloaded and verified first, then unpacked from disk: a corrupt download is
    // reported as such (not as whatever the decompressor makes of it) and never unpacked.
    const work = this.tempPath("layer");
    const blobTmp = `${work}.blob`;
    try {
      let digest: string;
      let blobFile: string;
      if (want.digest && this.hasBlob(want.digest)) {
        digest = want.digest;
        blobFile = this.blobPath(digest);
      } else {
        digest = await this.download(open, blobTmp, want.digest, what);
        blobFile = blobTmp;
      }
      mkdirSync(join(work, "fs"), { recursive: true, mode: 0o755 });
      let gzip = false;
      const plain = gunzipIfNeeded(createReadStream(blobFile), (z) => (gzip = z));
      const { diffId, size } = await unpackLayer(plain, join(work, "fs"), what);
      if (want.diffId) verifyDigest(`${what} (uncompressed)`, want.diffId, diffId);
      const info: StoredLayer = { diffId, digest, size, blobSize: (await fsp.stat(blobFile)).size, gzip };
      await fsp.writeFile(join(work, "layer.json"), JSON.stringify(info));
      if (blobFile === blobTmp) {
        if (this.hasBlob(digest)) rmSync(blobTmp, { force: true });
        else renameSync(blobTmp, this.blobPath(digest));
      }
      const dest = join(this.root, "layers", hexOf(diffId));
      if (this.hasLayer(diffId)) rmSync(work, { recursive: true, force: true });
      else {
        rmSync(dest, { recursive: true, force: true }); // a layer dir without layer.json never finished
        renameSync(work, dest);
        this.unpacked++;
      }
      return info;
    } catch (e) {
      rmSync(work, { recursive: true, force: true });
      rmSync(blobTmp, { force: true });
      throw e;
    }
  }

  /** Writes a blob stream to `file`, verifying `digest`; retries transient failures from scratch. */
  private async download(open: () => Promise<AsyncIterable<Buffer>>, file: string, digest: string | undefined, what: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const d = new Digester();
      const fh = await fsp.open(file, "w", 0o600);
      try {
        for await (const chunk of tap(d)(await open())) await fh.write(chunk);
        await fh.sync();
      } catch (e) {
        await fh.close();
        if (attempt < 3 && isTransient(e)) continue;
        throw e;
      }
      await fh.close();
      const got = d.digest();
      if (digest) verifyDigest(what, digest, got);
      return got;
    }
  }

  /** Every layer (diff id) and blob (digest) on disk. */
  contents(): { diffIds: string[]; digests: string[] } {
    const hex = (d: string) => readdirSync(join(this.root, d)).filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
    return { diffIds: hex("layers"), digests: hex("blobs/sha256") };
  }

  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /** Takes a layer and its blob out of the store (renamed away first, so the removal is atomic). */
  removeLayer(diffId: string): void {
    const dir = join(this.root, "layers", hexOf(diffId));
    if (!existsSync(dir)) return;
    const trash = this.tempPath("trash");
    renameSync(dir, trash);
    rmSync(trash, { recursive: true, force: true });
  }

  removeBlob(digest: string): void {
    rmSync(this.blobPath(digest), { force: true });
  }
}

/** Network trouble worth a fresh attempt (not a digest mismatch, an auth or a not-found answer). */
function isTransient(e: unknown): boolean {
  if (e instanceof DigestMismatch) return false;
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "number") return code === 14; // grpc UNAVAILABLE, as the registry client reports
  return true;
}

/** Decompresses gzip (by its magic bytes) and passes plain tar through; zstd is refused. */
async function* gunzipIfNeeded(source: AsyncIterable<Buffer>, seen: (gzip: boolean) => void): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let first = Buffer.alloc(0);
  let done = false;
  while (first.length < 4 && !done) {
    const n = await it.next();
    if (n.done) done = true;
    else first = Buffer.concat([first, n.value]);
  }
  const rest = (async function* () {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  if (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd) throw new Error("zstd-compressed layers are not supported: push the image with gzip layers");
  const gzip = first[0] === 0x1f && first[1] === 0x8b;
  seen(gzip);
  if (!gzip) return yield* rest;
  const src = Readable.from(rest);
  const z = createGunzip();
  src.on("error", (e) => z.destroy(e));
  yield* src.pipe(z);
}
