// The allocator's free lists: VNIs, subnets, addresses within a subnet, and routing-mesh ports.
// Each is rebuilt from the store on every pass (nothing here outlives a pass), so a new leader
// starts from exactly what the old one wrote.
import { formatCidr, formatIp, overlaps, size, type Subnet } from "../../agent/network/ipv4.js";

/** Lowest free number in [first, last]: VNIs and published ports. */
export class NumberPool {
  private readonly used = new Set<number>();

  constructor(
    readonly first: number,
    readonly last: number,
  ) {}

  /** Marks n taken; false if it already was (or is out of range). */
  take(n: number): boolean {
    if (n < this.first || n > this.last || this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  has(n: number): boolean {
    return this.used.has(n);
  }

  next(): number | undefined {
    for (let n = this.first; n <= this.last; n++) if (this.take(n)) return n;
    return undefined;
  }
}

/** Subnets that must not overlap: given ones are checked, new ones come from a pool split into /prefix. */
export class SubnetPool {
  private readonly used: Subnet[] = [];

  constructor(
    private readonly pool: Subnet,
    private readonly prefix: number,
  ) {}

  /** The subnet this one would overlap, if any. */
  clash(s: Subnet): Subnet | undefined {
    return this.used.find((u) => overlaps(u, s));
  }

  take(s: Subnet): boolean {
    if (this.clash(s)) return false;
    this.used.push(s);
    return true;
  }

  next(): Subnet | undefined {
    const step = size({ base: 0, prefix: this.prefix });
    for (let base = this.pool.base; base < this.pool.base + size(this.pool); base += step) {
      const s = { base, prefix: this.prefix };
      if (this.take(s)) return s;
    }
    return undefined;
  }
}

/**
 * Addresses of one network and who holds each: everything between the gateway and the broadcast
 * address. New addresses go above the highest one in use and wrap around only when the top is
 * reached, so a released address is not handed out again at once (other nodes may still hold it
 * for a moment).
 */
export class AddressSpace {
  private readonly holders = new Map<number, string>();
  private highest: number;
  readonly first: number;
  readonly last: number;

  constructor(
    readonly subnet: Subnet,
    readonly gateway: number,
  ) {
    this.first = subnet.base + 1;
    this.last = subnet.base + size(subnet) - 2;
    this.holders.set(gateway, "the gateway");
    this.highest = this.first - 1;
  }

  get cidr(): string {
    return formatCidr(this.subnet);
  }

  /** `ip` as CIDR in this subnet. */
  format(ip: number): string {
    return `${formatIp(ip)}/${this.subnet.prefix}`;
  }

  holder(ip: number): string | undefined {
    return this.holders.get(ip);
  }

  /** Gives ip to `who`; false if it is outside the subnet or someone holds it. */
  take(ip: number, who: string): boolean {
    if (ip < this.first || ip > this.last || this.holders.has(ip)) return false;
    this.holders.set(ip, who);
    if (ip > this.highest && ip !== this.gateway) this.highest = ip;
    return true;
  }

  release(ip: number): void {
    if (ip !== this.gateway) this.holders.delete(ip);
  }

  /** A free address, now held by `who`; undefined when the subnet is full. */
  next(who: string): number | undefined {
    for (let ip = this.highest + 1; ip <= this.last; ip++) if (this.take(ip, who)) return ip;
    for (let ip = this.first; ip <= this.last; ip++) if (this.take(ip, who)) return ip;
    return undefined;
  }
}

/**
 * The address of "10.1.2.3/24" as a number; undefined if malformed. By hand rather than with
 * split and regular expressions: every pass reads every task's addresses.
 */
export function addressOf(cidr: string): number | undefined {
  let ip = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < cidr.length; i++) {
    const c = cidr.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else if ((c === 46 && dots < 3) || c === 47) {
      if (digits === 0) return undefined;
      ip = ip * 256 + part;
      part = digits = 0;
      if (c === 47) return dots === 3 ? ip : undefined;
      dots++;
    } else return undefined;
  }
  return dots === 3 && digits > 0 ? ip * 256 + part : undefined;
}
