// Encryption at rest: records sealed under the data key, and the data key sealed under autolock.
import { describe, expect, it } from "vitest";
import {
  DecryptError,
  isSealed,
  LockedError,
  newDataKey,
  newUnlockKey,
  openSecret,
  RECORD_OVERHEAD,
  recordCipher,
  sealSecret,
} from "../../../manager/ca/encryption.js";

const plain = Buffer.from("raft entry: create service web, secret env TOKEN=s3cr3t");

describe("records", () => {
  it("round-trip, and read as noise at rest", () => {
    const c = recordCipher(newDataKey());
    const sealed = c.encrypt(plain, "raft-entry");
    expect(sealed.length).toBe(plain.length + RECORD_OVERHEAD);
    expect(sealed.includes(Buffer.from("s3cr3t"))).toBe(false);
    expect(c.decrypt(sealed, "raft-entry")).toEqual(plain);
    expect(c.encrypt(plain, "raft-entry")).not.toEqual(sealed); // a fresh nonce every time
    expect(c.decrypt(c.encrypt(Buffer.alloc(0), "raft-entry"), "raft-entry")).toEqual(Buffer.alloc(0));
  });

  it("detect any changed byte: version, nonce, body or tag", () => {
    const c = recordCipher(newDataKey());
    const sealed = c.encrypt(plain, "raft-entry");
    for (const at of [1, 5, 13, 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] ^= 0x01;
      expect(() => c.decrypt(bad, "raft-entry")).toThrow(DecryptError);
    }
    const wrongVersion = Buffer.from(sealed);
    wrongVersion[0] = 9;
    expect(() => c.decrypt(wrongVersion, "raft-entry")).toThrow(/unknown version/);
    expect(() => c.decrypt(sealed.subarray(0, 10), "raft-entry")).toThrow(/too short/);
  });

  it("do not open under another key or as another kind of record", () => {
    const sealed = recordCipher(newDataKey()).encrypt(plain, "raft-snapshot");
    expect(() => recordCipher(newDataKey()).decrypt(sealed, "raft-snapshot")).toThrow(DecryptError);
    const c = recordCipher(newDataKey());
    expect(() => c.decrypt(c.encrypt(plain, "raft-snapshot"), "raft-entry")).toThrow(/raft-entry record does not authenticate/);
  });

  it("take only 32-byte keys", () => {
    expect(() => recordCipher(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});

describe("sealed secrets", () => {
  const secret = newDataKey();

  it("are kept in clear without autolock", () => {
    const text = sealSecret(secret);
    expect(isSealed(text)).toBe(false);
    expect(openSecret(text)).toEqual(secret);
  });

  it("need the unlock key under autolock, and refuse a wrong or missing one", () => {
    const key = newUnlockKey();
    expect(key).toMatch(/^SWMKEY-1-[A-Za-z0-9_-]{43}$/);
    const text = sealSecret(secret, key);
    expect(isSealed(text)).toBe(true);
    expect(text.includes(secret.toString("base64"))).toBe(false);
    expect(openSecret(text, key)).toEqual(secret);
    expect(() => openSecret(text)).toThrow(LockedError);
    expect(() => openSecret(text)).toThrow(/shoal swarm unlock/);
    expect(() => openSecret(text, newUnlockKey())).toThrow(/unlock key is wrong/);
    expect(() => openSecret(text, "SWMKEY-1-short")).toThrow(/invalid unlock key/);
  });

  it("take the unlock key in its one spelling: the last character's spare bits count", () => {
    const key = newUnlockKey();
    const text = sealSecret(secret, key);
    // 32 bytes are 43 base64url characters; the last carries 4 bits and 2 that decoders ignore.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(key.at(-1)!);
    const twin = key.slice(0, -1) + alphabet[last ^ 1];
    expect(() => openSecret(text, twin)).toThrow(/invalid unlock key/);
    expect(openSecret(text, ` ${key}\n`)).toEqual(secret);
  });

  it("refuse a damaged key file", () => {
    const text = sealSecret(secret, newUnlockKey());
    expect(() => openSecret(text.slice(0, 20))).toThrow(DecryptError);
    expect(() => openSecret(JSON.stringify({ version: 7 }))).toThrow(/unknown version/);
  });
});
