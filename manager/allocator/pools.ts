// The allocator's free lists: VNIs, subnets, addresses within a subnet, and routing-mesh ports.
// Each is rebuilt from the store on every pass (nothing here outlives a pass), so a new leader
// starts from exactly what the old one wrote.
import { formatCidr, overlaps, parseCidr, parseIp, size, type Subnet } from "../../agent/network/ipv4.js";

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
 * Addresses of one network: everything between the gateway and the broadcast address. New
 * addresses go above the highest one in use and wrap around only when the top is reached, so a
 * released address is not handed out again at once (other nodes may still hold it for a moment).
 */
export class AddressSpace {
  private readonly used = new Set<number>();
  private highest: number;
  readonly first: number;
  readonly last: number;

  constructor(
    readonly subnet: Subnet,
    readonly gateway: number,
  ) {
    this.first = subnet.base + 1;
    this.last = subnet.base + size(subnet) - 2;
    this.used.add(gateway);
    this.highest = this.first - 1;
  }

  get cidr(): string {
    return formatCidr(this.subnet);
  }

  contains(ip: number): boolean {
    return ip >= this.first && ip <= this.last;
  }

  /** Marks ip taken; false if it is outside the subnet or already taken. */
  take(ip: number): boolean {
    if (!this.contains(ip) || this.used.has(ip)) return false;
    this.used.add(ip);
    if (ip > this.highest && ip !== this.gateway) this.highest = ip;
    return true;
  }

  release(ip: number): void {
    if (ip !== this.gateway) this.used.delete(ip);
  }

  next(): number | undefined {
    for (let ip = this.highest + 1; ip <= this.last; ip++) if (this.take(ip)) return ip;
    for (let ip = this.first; ip <= this.last; ip++) if (this.take(ip)) return ip;
    return undefined;
  }
}

/** "10.1.2.3/24" → the address as a number and the subnet it names; undefined if malformed. */
export function parseAddress(cidr: string): { ip: number; subnet: Subnet } | undefined {
  try {
    return { ip: parseIp(cidr.split("/")[0]), subnet: parseCidr(cidr) };
  } catch {
    return undefined;
  }
}
