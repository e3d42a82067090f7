// Just enough DER (X.690) for the CA's hot path: reading a node's certificate request and
// writing the node certificate, signed with Node's own crypto. @peculiar/x509 built both through
// asn1js at about 5 ms of the leader's thread per join, a third of a mass join's cost; this is
// a tenth of that. The root certificate (made once) is still made by @peculiar/x509.

/** One TLV: its tag byte, its content, and the whole encoding (tag and length included). */
export interface Tlv {
  tag: number;
  value: Buffer;
  raw: Buffer;
}

export class DerError extends Error {}

/** Reads the TLV at `at`; only single-byte tags, as every structure here uses. */
export function readTlv(buf: Buffer, at = 0): Tlv {
  if (at + 2 > buf.length) throw new DerError("truncated");
  const tag = buf[at];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not used here");
  let len = buf[at + 1];
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > buf.length) throw new DerError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
    if (len < 0x80 || (n > 1 && buf[at + 2] === 0)) throw new DerError("length not in its shortest form");
    head += n;
  }
  if (at + head + len > buf.length) throw new DerError("truncated");
  return { tag, value: buf.subarray(at + head, at + head + len), raw: buf.subarray(at, at + head + len) };
}

/** The TLVs inside a constructed value, in order; the content must be used up exactly. */
export function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < value.length; ) {
    const t = readTlv(value, at);
    out.push(t);
    at += t.raw.length;
  }
  return out;
}

export const TAG = { INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, UTF8: 0x0c, PRINTABLE: 0x13, IA5: 0x16, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18, SEQUENCE: 0x30, SET: 0x31 } as const;

/** A TLV of `tag` around `parts`. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...parts);

/** An OBJECT IDENTIFIER from its dotted form. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const bytes = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const b = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) b.unshift((v & 0x7f) | 0x80);
    bytes.push(...b);
  }
  return tlv(TAG.OID, Buffer.from(bytes));
}

/** A positive INTEGER from big-endian bytes (a zero byte is put first where the top bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(TAG.INTEGER, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** A BIT STRING with no unused bits. */
export const bitString = (bytes: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), bytes);

/** UTCTime through 2049, GeneralizedTime after, as RFC 5280 asks; whole seconds, UTC. */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const iso = d.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z"); // YYYYMMDDhhmmssZ
  const year = d.getUTCFullYear();
  return year < 2050 ? tlv(TAG.UTC_TIME, Buffer.from(iso.slice(2), "ascii")) : tlv(TAG.GENERALIZED_TIME, Buffer.from(iso, "ascii"));
}

/** Context-specific tag `n`: constructed (EXPLICIT, or IMPLICIT of a constructed type) or primitive. */
export const context = (n: number, constructed: boolean, ...parts: Buffer[]): Buffer => tlv((constructed ? 0xa0 : 0x80) | n, ...parts);

/** The DER inside a PEM block of `label`. */
export function pemBody(pem: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`).exec(pem);
  if (!m) throw new DerError(`no ${label} PEM block`);
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

export function pem(der: Buffer, label: string): string {
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** An OID's dotted form, for checks. */
export function oidString(value: Buffer): string {
  const arcs: number[] = [Math.floor(value[0] / 40), value[0] % 40];
  let v = 0;
  for (const b of value.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}
