// Layer unpacking into real temp dirs (needs root for ownership and device nodes).
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, test } from "vitest";
import tar from "tar-stream";
import { sha256 } from "../../../agent/engine/image/digest.js";
import { LayerStore } from "../../../agent/engine/image/layers.js";
import { classify, unpackLayer } from "../../../agent/engine/image/unpack.js";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync("/tmp/shoal-unpack-");
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type E = { name: string; type?: "file" | "directory" | "symlink" | "link" | "fifo" | "character-device"; body?: string; mode?: number; linkname?: string; uid?: number; gid?: number; mtime?: Date; devmajor?: number; devminor?: number };
async function makeTar(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const h = { type: "file" as const, mode: 0o644, mtime: new Date("2020-02-02T00:00:00Z"), ...e };
    if (h.type === "file") pack.entry(h, e.body ?? "");
    else pack.entry(h);
  }
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}
const unpack = (data: Buffer, dir: string) => unpackLayer(Readable.from([data]), dir, "test layer");

describe("classify", () => {
  test("names whiteouts, opaque markers and aufs metadata", () => {
    expect(classify("./a/.wh.b", "l")).toEqual({ kind: "whiteout", path: "a/b" });
    expect(classify(".wh.top", "l")).toEqual({ kind: "whiteout", path: "top" });
    expect(classify("a/b/.wh..wh..opq", "l")).toEqual({ kind: "opaque", dir: "a/b" });
    expect(classify(".wh..wh.plnk/123", "l").kind).toBe("entry");
    expect(classify("x/.wh..wh.aufs", "l")).toEqual({ kind: "skip" });
    expect(classify("/etc/passwd", "l")).toEqual({ kind: "entry", path: "etc/passwd" });
    expect(classify("./", "l")).toEqual({ kind: "skip" });
  });
});

describe("unpackLayer", () => {
  test("writes files, dirs, symlinks, hardlinks, fifos with modes, owners and times; diff id is the tar's sha256", async () => {
    const dir = tmp();
    const data = await makeTar([
      { name: "etc/", type: "directory", mode: 0o750, uid: 12, gid: 34 },
      { name: "etc/conf", body: "hello", mode: 0o4755, uid: 1000, gid: 1001 },
      { name: "etc/link", type: "symlink", linkname: "/etc/conf", uid: 5, gid: 6 },
      { name: "etc/hard", type: "link", linkname: "etc/conf" },
      { name: "run/fifo", type: "fifo", mode: 0o600 },
      { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
    ]);
    const r = await unpack(data, dir);
    expect(r.diffId).toBe(sha256(data));
    expect(r.size).toBe(5);
    const conf = lstatSync(join(dir, "etc/conf"));
    expect([conf.mode & 0o7777, conf.uid, conf.gid, conf.nlink]).toEqual([0o4755, 1000, 1001, 2]);
    expect(conf.mtime.toISOString()).toBe("2020-02-02T00:00:00.000Z");
    const etc = lstatSync(join(dir, "etc"));
    expect([etc.mode & 0o7777, etc.uid, etc.gid, etc.mtime.toISOString()]).toEqual([0o750, 12, 34, "2020-02-02T00:00:00.000Z"]);
    expect(readlinkSync(join(dir, "etc/link"))).toBe("/etc/conf");
    expect([lstatSync(join(dir, "etc/link")).uid, lstatSync(join(dir, "etc/link")).gid]).toEqual([5, 6]);
    expect(lstatSync(join(dir, "run/fifo")).isFIFO()).toBe(true);
    const dev = lstatSync(join(dir, "dev/null"));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe(lstatSync("/dev/null").rdev);
  });

  test("turns whiteouts into 0:0 char devices and opaque markers into trusted.overlay.opaque", async () => {
    const dir = tmp();
    await unpack(await makeTar([{ name: "a/.wh.gone" }, { name: ".wh.old" }, { name: "o/", type: "directory" }, { name: "o/.wh..wh..opq" }, { name: "o/new", body: "n" }]), dir);
    for (const p of ["a/gone", "old"]) {
      const st = lstatSync(join(dir, p));
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.rdev).toBe(0);
    }
    expect(readdirSync(join(dir, "o"))).toEqual(["new"]);
    expect(execFileSync("tar", ["--xattrs", "--xattrs-include=trusted.*", "-cf", "-", "-C", dir, "o"]).includes(Buffer.from("trusted.overlay.opaque=y"))).toBe(true);
  });

  test("a later entry replaces an earlier one of the same path", async () => {
    const dir = tmp();
    await unpack(await makeTar([{ name: "x", body: "file" }, { name: "x/", type: "directory" }, { name: "x/y", body: "1" }, { name: "z", type: "symlink", linkname: "/nowhere" }, { name: "z", body: "real" }]), dir);
    expect(lstatSync(join(dir, "x")).isDirectory()).toBe(true);
    expect(readFileSync(join(dir, "z"), "utf8")).toBe("real");
  });

  test.each([
    [[{ name: "../escape", body: "x" }], /climbs out/],
    [[{ name: "a/../../escape", body: "x" }], /climbs out/],
    [[{ name: "ok", body: "x" }, { name: "h", type: "link", linkname: "../../etc/passwd" }], /climbs out/],
    [[{ name: "lnk", type: "symlink", linkname: "/tmp" }, { name: "lnk/escape", body: "x" }], /goes through the symlink "lnk"/],
    [[{ name: "rel", type: "symlink", linkname: "../../.." }, { name: "rel/x/escape", body: "x" }], /goes through the symlink/],
  ] as [E[], RegExp][])("refuses path traversal %#", async (entries, why) => {
    const dir = tmp();
    await expect(unpack(await makeTar(entries), dir)).rejects.toThrow(why);
    expect(existsSync("/tmp/escape")).toBe(false);
  });
});

describe("LayerStore", () => {
  test("keeps the blob, unpacks once per diff id, and shares concurrent unpacks", async () => {
    const store = new LayerStore(tmp());
    const plain = await makeTar([{ name: "f", body: "content" }]);
    const blob = gzipSync(plain);
    const open = async () => Readable.from([blob]);
    const want = { digest: sha256(blob), diffId: sha256(plain) };
    const [a, b] = await Promise.all([store.addLayer(open, want, "l"), store.addLayer(open, want, "l")]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ diffId: sha256(plain), digest: sha256(blob), gzip: true, size: 7 });
    expect(store.unpacked).toBe(1);
    await store.addLayer(open, want, "l");
    expect(store.unpacked).toBe(1);
    expect(readFileSync(join(store.layerDir(want.diffId), "f"), "utf8")).toBe("content");
    expect(store.hasBlob(want.digest)).toBe(true);
  });

  test("a digest mismatch is refused and leaves nothing behind", async () => {
    const root = tmp();
    const store = new LayerStore(root);
    const plain = await makeTar([{ name: "f", body: "content" }]);
    const blob = gzipSync(plain);
    const corrupt = Buffer.from(blob);
    corrupt[corrupt.length - 10] ^= 0xff;
    await expect(store.addLayer(async () => Readable.from([corrupt]), { digest: sha256(blob), diffId: sha256(plain) }, "layer X")).rejects.toThrow(/layer X: digest mismatch/);
    await expect(store.addLayer(async () => Readable.from([blob]), { digest: sha256(blob), diffId: sha256(Buffer.from("other")) }, "layer Y")).rejects.toThrow(/layer Y \(uncompressed\): digest mismatch/);
    expect(readdirSync(join(root, "layers"))).toEqual([]);
    expect(readdirSync(join(root, "blobs/sha256"))).toEqual([]);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
  });
});

describe("ImageStore start", () => {
  test("drops work in progress and content no image references (a crash mid-pull)", async () => {
    const { ImageStore } = await import("../../../agent/engine/image/store.js");
    const root = tmp();
    const layers = new LayerStore(root);
    const plain = await makeTar([{ name: "f", body: "x" }]);
    const stored = await layers.addLayer(async () => Readable.from([plain]), {}, "l");
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(join(root, "tmp/layer-half/fs/usr"), { recursive: true });
    writeFileSync(join(root, "tmp/blob-half"), "partial");
    new ImageStore(root);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
    expect(layers.hasLayer(stored.diffId)).toBe(false);
    expect(readdirSync(join(root, "blobs/sha256"))).toEqual([]);
  });
});
