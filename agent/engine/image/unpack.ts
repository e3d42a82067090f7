// Unpacks one layer tarball into a directory that overlayfs can stack as a lowerdir.
// Whiteouts become what overlayfs reads as whiteouts: `.wh.NAME` → char device 0:0 at NAME,
// `.wh..wh..opq` → xattr trusted.overlay.opaque=y on its directory. Node can make neither a
// device node nor an xattr, so those (and the layer's own devices and fifos) are written at the
// end in one batch by GNU tar (Debian essential), fed a small tar built here with tar-stream.
// Entries whose path climbs out with `..` or passes through a symlink are refused, so a layer
// can never write outside its directory.
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { Digester, tap } from "./digest.js";

export interface UnpackResult {
  diffId: string; // sha256 of the uncompressed tar stream
  size: number; // bytes of file content
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

export type EntryKind = { kind: "whiteout"; path: string } | { kind: "opaque"; dir: string } | { kind: "skip" } | { kind: "entry"; path: string };

/** Normalises a tar entry name to a relative path ("" for the root); throws on `..`. */
export function safePath(name: string, what: string): string {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new Error(`${what}: entry "${name}" climbs out of the layer with "..": refusing the layer`);
  return parts.join("/");
}

/** What one tar entry means for the layer directory. */
export function classify(name: string, what: string): EntryKind {
  const path = safePath(name, what);
  const base = path.slice(path.lastIndexOf("/") + 1);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  if (base === OPAQUE) return { kind: "opaque", dir };
  if (base.startsWith(WHITEOUT + WHITEOUT)) return { kind: "skip" }; // aufs metadata (.wh..wh.plnk …)
  if (base.startsWith(WHITEOUT)) {
    const target = base.slice(WHITEOUT.length);
    if (!target || target === "." || target === "..") throw new Error(`${what}: bad whiteout "${name}"`);
    return { kind: "whiteout", path: dir ? `${dir}/${target}` : target };
  }
  return path ? { kind: "entry", path } : { kind: "skip" };
}

type H = Partial<tar.Header> & { name: string };

interface Special {
  path: string;
  header: H;
}

/** Unpacks the uncompressed tar stream `source` into `dir` (which must exist and be empty). */
export async function unpackLayer(source: AsyncIterable<Buffer>, dir: string, what: string): Promise<UnpackResult> {
  const digest = new Digester();
  const extract = tar.extract();
  let feedError: unknown;
  let entryFailed = false; // then the feed's own failure is only the consequence
  const feeding = pipeline(source as AsyncIterable<Buffer>, tap(digest), extract as NodeJS.WritableStream).catch((e) => {
    if (!entryFailed) feedError = e;
    extract.destroy(e);
  });
  const w = new LayerWriter(dir, what);
  try {
    for await (const entry of extract) {
      try {
        await w.add(entry.header, entry as AsyncIterable<Buffer>);
      } catch (e) {
        entryFailed = true;
        throw e;
      }
    }
  } catch (e) {
    extract.destroy();
    await feeding;
    throw feedError ?? e;
  }
  await feeding;
  if (feedError) throw feedError;
  await w.finish();
  return { diffId: digest.digest(), size: w.size };
}

class LayerWriter {
  size = 0;
  private realDirs = new Set<string>([""]); // paths known to be real directories (not symlinks)
  private dirMeta = new Map<string, H>();
  private specials: Special[] = [];
  private opaque = new Set<string>();
  private readonly asRoot = process.getuid?.() === 0;

  constructor(private root: string, private what: string) {}

  async add(h: H, body: AsyncIterable<Buffer>): Promise<void> {
    const c = classify(h.name, this.what);
    if (c.kind === "skip") return drain(body);
    if (c.kind === "opaque") {
      await this.ensureDir(c.dir);
      this.opaque.add(c.dir);
      return drain(body);
    }
    if (c.kind === "whiteout") {
      await this.parentOf(c.path);
      this.specials.push({ path: c.path, header: { name: c.path, type: "character-device", devmajor: 0, devminor: 0, mode: 0, uid: 0, gid: 0, mtime: h.mtime } });
      return drain(body);
    }
    const path = c.path;
    const abs = await this.parentOf(path);
    switch (h.type) {
      case "directory":
        await this.ensureDir(path);
        this.dirMeta.set(path, h);
        await this.dirAttrs(path, h);
        return drain(body);
      case "file":
      case "contiguous-file":
        await this.clear(abs, path);
        await this.writeFile(abs, h, body);
        return;
      case "symlink":
        await this.clear(abs, path);
        await fsp.symlink(h.linkname ?? "", abs);
        await this.own(abs, h, true);
        await fsp.lutimes(abs, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
        return drain(body);
      case "link": {
        const target = safePath(h.linkname ?? "", this.what);
        const targetAbs = await this.parentOf(target);
        await this.clear(abs, path);
        try {
          await fsp.link(targetAbs, abs);
        } catch (e: any) {
          throw new Error(`${this.what}: hard link "${h.name}" → "${h.linkname}": ${e.code ?? e.message}`);
        }
        return drain(body);
      }
      case "character-device":
      case "block-device":
      case "fifo":
        await this.clear(abs, path);
        this.specials.push({ path, header: { ...h, name: path } });
        return drain(body);
      default:
        return drain(body); // pax/gnu metadata handled by tar-stream; anything else has no file
    }
  }

  /** Writes the batch (whiteouts, devices, fifos, opaque dirs) and the directories' times. */
  async finish(): Promise<void> {
    if (this.specials.length || this.opaque.size) await this.writeSpecials();
    const dirs = [...this.dirMeta.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [path, h] of dirs) {
      const abs = join(this.root, path);
      await fsp.utimes(abs, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
    }
  }

  private async writeSpecials(): Promise<void> {
    const pack = tar.pack();
    const child = spawn("tar", ["--xattrs", "--xattrs-include=trusted.overlay.*", "--numeric-owner", "-xpf", "-", "-C", this.root], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    const fed = pipeline(pack, child.stdin!).catch(() => undefined);
    for (const s of this.specials) pack.entry({ ...s.header, size: 0 });
    for (const dir of this.opaque) {
      const st = await fsp.lstat(join(this.root, dir));
      const h = this.dirMeta.get(dir);
      pack.entry({ name: dir || ".", type: "directory", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: h?.mtime ?? st.mtime, pax: { "SCHILY.xattr.trusted.overlay.opaque": "y" } });
    }
    pack.finalize();
    await fed;
    const code = await exited;
    if (code !== 0) throw new Error(`${this.what}: writing whiteouts and device nodes with tar failed: ${stderr.trim().split("\n")[0] || `exit ${code}`}`);
  }

  /** The absolute path for `path`, after checking that every parent is a real directory here. */
  private async parentOf(path: string): Promise<string> {
    const parts = path.split("/");
    let cur = "";
    for (const p of parts.slice(0, -1)) {
      cur = cur ? `${cur}/${p}` : p;
      if (this.realDirs.has(cur)) continue;
      const st = await fsp.lstat(join(this.root, cur)).catch(() => undefined);
      if (st?.isSymbolicLink()) throw new Error(`${this.what}: entry "${path}" goes through the symlink "${cur}": refusing the layer`);
      if (st && !st.isDirectory()) throw new Error(`${this.what}: entry "${path}" needs "${cur}" to be a directory, but it is a file`);
      if (!st) {
        await fsp.mkdir(join(this.root, cur), { mode: 0o755 });
      }
      this.realDirs.add(cur);
    }
    return join(this.root, path);
  }

  private async ensureDir(path: string): Promise<void> {
    const abs = await this.parentOf(path || ".");
    const target = path ? abs : this.root;
    if (path && !this.realDirs.has(path)) {
      const st = await fsp.lstat(target).catch(() => undefined);
      if (st && !st.isDirectory()) await fsp.rm(target, { force: true });
      if (!st || !st.isDirectory()) await fsp.mkdir(target, { mode: 0o755 });
      this.realDirs.add(path);
    }
  }

  /** Applies a directory entry's owner and mode (times are set in finish, after the children). */
  private async dirAttrs(path: string, h: H): Promise<void> {
    const abs = path ? join(this.root, path) : this.root;
    await this.own(abs, h, false);
    await fsp.chmod(abs, (h.mode ?? 0o755) & 0o7777);
  }

  /** Removes whatever a later entry replaces (tar semantics: the last entry for a path wins). */
  private async clear(abs: string, path: string): Promise<void> {
    const under = (p: string) => p === path || p.startsWith(path + "/");
    this.specials = this.specials.filter((s) => !under(s.path));
    for (const d of this.opaque) if (under(d)) this.opaque.delete(d);
    const st = await fsp.lstat(abs).catch(() => undefined);
    if (!st) return;
    if (st.isDirectory()) {
      await fsp.rm(abs, { recursive: true, force: true });
      for (const d of this.realDirs) if (under(d)) this.realDirs.delete(d);
      for (const d of this.dirMeta.keys()) if (under(d)) this.dirMeta.delete(d);
    } else {
      await fsp.unlink(abs);
    }
  }

  private async writeFile(abs: string, h: H, body: AsyncIterable<Buffer>): Promise<void> {
    const fh = await fsp.open(abs, "wx", 0o600);
    try {
      for await (const chunk of body) {
        await fh.write(chunk);
        this.size += chunk.length;
      }
      if (this.asRoot) await fh.chown(h.uid ?? 0, h.gid ?? 0);
      await fh.chmod((h.mode ?? 0o644) & 0o7777); // after chown, which clears setuid bits
      await fh.utimes(h.mtime ?? new Date(0), h.mtime ?? new Date(0));
    } finally {
      await fh.close();
    }
  }

  private async own(abs: string, h: H, link: boolean): Promise<void> {
    if (!this.asRoot) return;
    if (link) await fsp.lchown(abs, h.uid ?? 0, h.gid ?? 0);
    else await fsp.chown(abs, h.uid ?? 0, h.gid ?? 0);
  }
}

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of body) void _;
}
