// sha256 digests ("sha256:<hex>") and the stream taps that compute them while data flows.
import { createHash, type Hash } from "node:crypto";

export const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function hexOf(digest: string): string {
  if (!DIGEST_RE.test(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice(7);
}

/** A running sha256 with a byte count; `digest()` once the stream has ended. */
export class Digester {
  private hash: Hash = createHash("sha256");
  bytes = 0;
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/** A pipeline stage passing chunks through unchanged while feeding them to `d`. */
export function tap(d: Digester) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      d.update(chunk);
      yield chunk;
    }
  };
}

export class DigestMismatch extends Error {}

export function verifyDigest(what: string, expected: string, got: string): void {
  if (expected !== got) throw new DigestMismatch(`${what}: digest mismatch (expected ${expected}, got ${got}): the data is corrupt; nothing was stored`);
}
