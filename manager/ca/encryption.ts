// Encryption at rest for the Raft log and snapshots. Each manager has a random data encryption
// key (DEK) that seals every record with AES-256-GCM, so a copied WAL or snapshot reads as
// noise and a changed byte is caught. The DEK lives in a key file in the data dir: in clear by
// default, or sealed under a key derived from the unlock key (autolock), which is kept out of
// the data dir: a manager restarted under autolock cannot read its Raft files until unlocked.
// The node's TLS private key is sealed the same way under autolock (sealSecret).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../../agent/engine/store/atomic.js";

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** What sealing adds to a record: version byte, nonce, tag. */
export const RECORD_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;
export const UNLOCK_KEY_PREFIX = "SWMKEY-1-";

/** A sealed record or secret that does not open: tampered, truncated, or the wrong key. */
export class DecryptError extends Error {}
/** The secret is sealed under autolock and no unlock key, or the wrong one, was given. */
export class LockedError extends Error {}

/**
 * Seals and opens records under one key. `context` names what a record is ("raft-entry",
 * "raft-snapshot"): it is authenticated with the record, so one kind cannot be passed off as
 * another. Nonces are random (96 bits): well within GCM's bounds for 2^32 records per key.
 */
export interface RecordCipher {
  encrypt(plain: Uint8Array, context: string): Buffer;
  decrypt(sealed: Uint8Array, context: string): Buffer;
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function recordCipher(key: Buffer): RecordCipher {
  if (key.length !== KEY_BYTES) throw new Error(`a data encryption key is ${KEY_BYTES} bytes, got ${key.length}`);
  const aad = (context: string) => Buffer.from(`shoal/${context}`);
  return {
    encrypt(plain, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv("aes-256-gcm", key, nonce);
      c.setAAD(aad(context));
      const body = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([Buffer.of(VERSION), nonce, body, c.getAuthTag()]);
    },
    decrypt(sealed, context) {
      const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      if (b.length < RECORD_OVERHEAD) throw new DecryptError(`sealed record too short (${b.length} bytes)`);
      if (b[0] !== VERSION) throw new DecryptError(`sealed record of unknown version ${b[0]}`);
      const d = createDecipheriv("aes-256-gcm", key, b.subarray(1, 1 + NONCE_BYTES));
      d.setAAD(aad(context));
      d.setAuthTag(b.subarray(b.length - TAG_BYTES));
      try {
        return Buffer.concat([d.update(b.subarray(1 + NONCE_BYTES, b.length - TAG_BYTES)), d.final()]);
      } catch {
        throw new DecryptError(`a ${context} record does not authenticate: it was changed, or sealed under another key`);
      }
    },
  };
}

/** A new unlock key, shown once to the operator by `swarm init --autolock` (and never stored). */
export function newUnlockKey(): string {
  return UNLOCK_KEY_PREFIX + randomBytes(KEY_BYTES).toString("base64url");
}

function unlockKeyBytes(unlockKey: string): Buffer {
  const k = unlockKey.trim();
  const body = k.startsWith(UNLOCK_KEY_PREFIX) ? k.slice(UNLOCK_KEY_PREFIX.length) : "";
  const bytes = Buffer.from(body, "base64url");
  // Strict: base64 decoders ignore the last character's spare bits, so two spellings would open.
  if (bytes.length !== KEY_BYTES || bytes.toString("base64url") !== body) throw new LockedError(`invalid unlock key: it should look like ${UNLOCK_KEY_PREFIX}…, as "swarm init --autolock" printed it`);
  return bytes;
}

// The unlock key is random, not a password: HKDF suffices to derive the sealing key, no slow KDF.
function kek(unlockKey: string, salt: Buffer): RecordCipher {
  return recordCipher(Buffer.from(hkdfSync("sha256", unlockKeyBytes(unlockKey), salt, "shoal key-encryption key", KEY_BYTES)));
}

interface SealedFile {
  version: number;
  /** In clear (no autolock). */
  secret?: string;
  /** Under autolock: salt and the secret sealed by the key derived from the unlock key. */
  salt?: string;
  sealed?: string;
}

/** A secret as the data dir keeps it (one JSON line): sealed if an unlock key is given. */
export function sealSecret(secret: Buffer, unlockKey?: string): string {
  if (unlockKey === undefined) return JSON.stringify({ version: VERSION, secret: secret.toString("base64") } satisfies SealedFile) + "\n";
  const salt = randomBytes(16);
  const sealed = kek(unlockKey, salt).encrypt(secret, "sealed-secret");
  return JSON.stringify({ version: VERSION, salt: salt.toString("base64"), sealed: sealed.toString("base64") } satisfies SealedFile) + "\n";
}

export function isSealed(text: string): boolean {
  return parseSealed(text).sealed !== undefined;
}

function parseSealed(text: string): SealedFile {
  let f: SealedFile;
  try {
    f = JSON.parse(text) as SealedFile;
  } catch {
    throw new DecryptError("the key file is not readable JSON: it was damaged");
  }
  if (f.version !== VERSION) throw new DecryptError(`the key file has unknown version ${f.version}`);
  return f;
}

/** Opens what sealSecret wrote; throws LockedError when it needs the unlock key and has not got the right one. */
export function openSecret(text: string, unlockKey?: string): Buffer {
  const f = parseSealed(text);
  if (f.secret !== undefined) return Buffer.from(f.secret, "base64");
  if (f.sealed === undefined || f.salt === undefined) throw new DecryptError("the key file holds no key");
  if (unlockKey === undefined) throw new LockedError('this manager is locked: run "shoal swarm unlock" and give the unlock key');
  try {
    return kek(unlockKey, Buffer.from(f.salt, "base64")).decrypt(Buffer.from(f.sealed, "base64"), "sealed-secret");
  } catch (err) {
    if (err instanceof DecryptError) throw new LockedError('the unlock key is wrong: give the one "swarm init --autolock" or "swarm unlock-key --rotate" printed');
    throw err;
  }
}

/** The manager's DEK from its key file, or a new one written there (mode 0600) if there is none. */
export function loadOrCreateDataKey(path: string, unlockKey?: string): Buffer {
  if (existsSync(path)) return openSecret(readFileSync(path, "utf8"), unlockKey);
  const key = newDataKey();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, sealSecret(key, unlockKey));
  return key;
}

/** Re-seals the key file: autolock on (`to` given), off (`to` undefined), or a new unlock key. */
export function resealDataKey(path: string, from: string | undefined, to: string | undefined): void {
  writeFileAtomic(path, sealSecret(openSecret(readFileSync(path, "utf8"), from), to));
}
