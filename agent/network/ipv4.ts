// IPv4 arithmetic for subnets and the bridge's address pool.

export interface Subnet {
  base: number; // network address as an unsigned 32-bit number
  prefix: number;
}

export function parseIp(s: string): number {
  const p = s.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address ${s}`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export const formatIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

export function parseCidr(s: string): Subnet {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 30 || Number(m[2]) < 8) throw new Error(`bad subnet ${s}: use CIDR like 172.30.0.0/16 (prefix 8 to 30)`);
  const prefix = Number(m[2]);
  return { base: (parseIp(m[1]) & mask(prefix)) >>> 0, prefix };
}

export const mask = (prefix: number): number => (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
export const formatCidr = (s: Subnet): string => `${formatIp(s.base)}/${s.prefix}`;
export const gatewayOf = (s: Subnet): number => s.base + 1;
export const size = (s: Subnet): number => 2 ** (32 - s.prefix);

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The first candidate that overlaps none of `used`. */
export function pickFree(candidates: Subnet[], used: Subnet[]): Subnet | undefined {
  return candidates.find((c) => !used.some((u) => overlaps(c, u)));
}
