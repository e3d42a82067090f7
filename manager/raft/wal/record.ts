// One WAL record on disk: a 16-byte header, then the payload. Little endian:
//   [0] magic u32  [4] type u32  [8] payload length u32  [12] crc32(type + payload) u32
// The magic lets recovery cheaply scan for "is there any valid record after this corrupt one":
// only offsets carrying the magic are checksummed.
import { crc32 } from "node:zlib";

export const RECORD_MAGIC = 0x5348_4c57; // "SHLW"
export const HEADER_BYTES = 16;
/** No single record may exceed this; a larger length field is corruption, not a record. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

export enum RecordType {
  Entry = 1,
  HardState = 2,
  SnapshotMarker = 3,
  // Encryption at rest: the same payloads sealed by the member's RecordSealer. The type is the
  // format flag, so a log written before encryption (types 1-2) still replays.
  SealedEntry = 4,
  SealedHardState = 5,
}

/**
 * Seals and opens record payloads (AES-GCM in manager/ca/encryption.ts); `context` names the
 * kind of record and is authenticated with it. decrypt throws on a record that does not open.
 */
export interface RecordSealer {
  encrypt(plain: Uint8Array, context: string): Buffer;
  decrypt(sealed: Uint8Array, context: string): Buffer;
}

/** What each sealed type holds once opened, and the context it was sealed under. */
export const SEALED: ReadonlyMap<RecordType, { plain: RecordType; context: string }> = new Map([
  [RecordType.SealedEntry, { plain: RecordType.Entry, context: "raft-entry" }],
  [RecordType.SealedHardState, { plain: RecordType.HardState, context: "raft-hardstate" }],
]);

/** A record of `type` with `payload`, sealed when the log is encrypted (markers, index and term only, stay clear). */
export function makeRecord(type: RecordType.Entry | RecordType.HardState, payload: Uint8Array, sealer: RecordSealer | undefined): Record {
  if (!sealer) return { type, payload };
  const sealed = type === RecordType.Entry ? RecordType.SealedEntry : RecordType.SealedHardState;
  return { type: sealed, payload: sealer.encrypt(payload, SEALED.get(sealed)!.context) };
}

export interface Record {
  type: RecordType;
  payload: Uint8Array;
}

/** Several records laid out back to back in one buffer (one write for a whole batch). */
export function encodeRecords(records: readonly Record[]): Buffer {
  let size = 0;
  for (const r of records) size += HEADER_BYTES + r.payload.length;
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  for (const { type, payload } of records) {
    buf.writeUInt32LE(RECORD_MAGIC, off);
    buf.writeUInt32LE(type, off + 4);
    buf.writeUInt32LE(payload.length, off + 8);
    buf.writeUInt32LE(recordCrc(type, payload), off + 12);
    buf.set(payload, off + HEADER_BYTES);
    off += HEADER_BYTES + payload.length;
  }
  return buf;
}

/** crc32 of each type's four little-endian bytes: the checksum's starting value. */
const TYPE_CRC = new Map<number, number>();

function recordCrc(type: number, payload: Uint8Array): number {
  let seed = TYPE_CRC.get(type);
  if (seed === undefined) {
    seed = crc32(Buffer.of(type & 0xff, (type >>> 8) & 0xff, 0, 0));
    TYPE_CRC.set(type, seed);
  }
  return crc32(payload, seed);
}

export type Decoded =
  | { ok: true; type: RecordType; payload: Buffer; end: number }
  | { ok: false; why: string };

/** Decodes the record starting at `off`; says why not when it is torn or corrupt. */
export function decodeRecord(buf: Buffer, off: number): Decoded {
  if (buf.length - off < HEADER_BYTES) return { ok: false, why: `header cut short (${buf.length - off} of ${HEADER_BYTES} bytes)` };
  const magic = buf.readUInt32LE(off);
  if (magic !== RECORD_MAGIC) return { ok: false, why: `bad magic 0x${magic.toString(16)}` };
  const type = buf.readUInt32LE(off + 4);
  const length = buf.readUInt32LE(off + 8);
  if (length > MAX_RECORD_BYTES) return { ok: false, why: `implausible length ${length}` };
  if (type < RecordType.Entry || type > RecordType.SealedHardState) return { ok: false, why: `unknown record type ${type}` };
  const end = off + HEADER_BYTES + length;
  if (end > buf.length) return { ok: false, why: `payload cut short (${buf.length - off - HEADER_BYTES} of ${length} bytes)` };
  const payload = buf.subarray(off + HEADER_BYTES, end);
  if (recordCrc(type, payload) !== buf.readUInt32LE(off + 12)) return { ok: false, why: "checksum mismatch" };
  return { ok: true, type, payload, end };
}

/** Offset of the first valid record at or after `from`, or -1. */
export function findValidRecord(buf: Buffer, from: number): number {
  for (let off = buf.indexOf(magicBytes, from); off >= 0; off = buf.indexOf(magicBytes, off + 1)) {
    if (decodeRecord(buf, off).ok) return off;
  }
  return -1;
}

const magicBytes = (() => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(RECORD_MAGIC, 0);
  return b;
})();

/** Snapshot markers record (index, term) of a snapshot the WAL may be replayed from. */
export function encodeMarker(index: number, term: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(index), 0);
  b.writeBigUInt64LE(BigInt(term), 8);
  return b;
}

export function decodeMarker(b: Buffer): { index: number; term: number } {
  return { index: Number(b.readBigUInt64LE(0)), term: Number(b.readBigUInt64LE(8)) };
}
