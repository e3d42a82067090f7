// The image records and the tags pointing at them, in one JSON file replaced atomically, so a
// tag moves from one image to another in a single write.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import { conflict, notFound } from "../errors.js";
import { familiarName, familiarString, parseReference } from "./reference.js";
import type { ImageRecord } from "./image.js";

export class ImageCatalog {
  private images = new Map<string, ImageRecord>();
  private file: string;

  constructor(root: string) {
    this.file = join(root, "images.json");
    if (existsSync(this.file)) {
      const doc = JSON.parse(readFileSync(this.file, "utf8")) as { images: ImageRecord[] };
      for (const r of doc.images) this.images.set(r.id, r);
    }
  }

  all(): ImageRecord[] {
    return [...this.images.values()].sort((a, b) => b.created.localeCompare(a.created));
  }

  get(id: string): ImageRecord | undefined {
    return this.images.get(id);
  }

  /**
   * Finds an image by `sha256:<id>`, unique id prefix, tag (`busybox`, `busybox:1`) or digest
   * reference (`busybox@sha256:…`), as docker does.
   */
  find(ref: string): ImageRecord {
    const id = ref.startsWith("sha256:") ? ref : undefined;
    if (id && this.images.has(id)) return this.images.get(id)!;
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed && !id) {
      const key = familiarString(parsed);
      const hit = this.all().find((r) => (parsed!.digest ? r.repoDigests.includes(key) : r.repoTags.includes(key)));
      if (hit) return hit;
    }
    const prefix = id ? id : /^[0-9a-f]{4,64}$/.test(ref) ? `sha256:${ref}` : undefined;
    if (prefix) {
      const matches = [...this.images.keys()].filter((k) => k.startsWith(prefix));
      if (matches.length === 1) return this.images.get(matches[0])!;
      if (matches.length > 1) throw conflict(`image id prefix ${ref} is ambiguous: give more characters`);
    }
    throw notFound(`no such image: ${ref}: pull, load or import it first`);
  }

  /** Adds or updates an image and points `tags` at it (taking them from any other image). */
  put(rec: ImageRecord, tags: string[] = [], digests: string[] = []): ImageRecord {
    const cur = this.images.get(rec.id);
    const next: ImageRecord = { ...rec, repoTags: [...(cur?.repoTags ?? rec.repoTags)], repoDigests: [...(cur?.repoDigests ?? rec.repoDigests)] };
    for (const t of tags) {
      for (const other of this.images.values()) if (other.id !== rec.id) other.repoTags = other.repoTags.filter((x) => x !== t);
      if (!next.repoTags.includes(t)) next.repoTags.push(t);
    }
    for (const d of digests) if (!next.repoDigests.includes(d)) next.repoDigests.push(d);
    this.images.set(rec.id, next);
    this.save();
    return next;
  }

  /** Removes one tag; returns the image it pointed at. */
  untag(tag: string): ImageRecord {
    const rec = this.all().find((r) => r.repoTags.includes(tag));
    if (!rec) throw notFound(`no such image: ${tag}`);
    rec.repoTags = rec.repoTags.filter((t) => t !== tag);
    // A name's digest references go with its last tag, as in docker.
    const name = familiarName(parseReference(tag));
    if (!rec.repoTags.some((t) => familiarName(parseReference(t)) === name)) rec.repoDigests = rec.repoDigests.filter((d) => !d.startsWith(`${name}@`));
    this.save();
    return rec;
  }

  delete(id: string): void {
    this.images.delete(id);
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, JSON.stringify({ images: [...this.images.values()] }));
  }
}
