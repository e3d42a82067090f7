// Container addresses on the bridge, in memory only. The containers' records name their
// addresses, and a restarted daemon claims those again (claim) before it starts anything, so no
// address is handed out twice. A file of its own added nothing to that: an address whose
// container has no record naming it was dropped at the next start anyway (retain), and writing
// the whole pool at every start and removal cost a file replacement each.
import { formatIp, gatewayOf, parseIp, size, type Subnet } from "./ipv4.js";

export class AddressPool {
  private byIp = new Map<number, string>();

  constructor(private readonly subnet: Subnet) {}

  /** The owner's address (the same one again if it already has one). */
  allocate(owner: string): string {
    for (const [ip, o] of this.byIp) if (o === owner) return formatIp(ip);
    const first = gatewayOf(this.subnet) + 1;
    const last = this.subnet.base + size(this.subnet) - 2; // below broadcast
    for (let ip = first; ip <= last; ip++) {
      if (!this.byIp.has(ip)) {
        this.byIp.set(ip, owner);
        return formatIp(ip);
      }
    }
    throw new Error(`no free address left in the bridge subnet: remove stopped containers or use --bridge-subnet`);
  }

  /** Gives `owner` the address its record names (a container that ran on while the daemon was away); refused if another holds it. */
  claim(owner: string, ip: string): boolean {
    const n = parseIp(ip);
    const holder = this.byIp.get(n);
    if (holder !== undefined && holder !== owner) return false;
    for (const [other, o] of this.byIp) if (o === owner && other !== n) this.byIp.delete(other);
    this.byIp.set(n, owner);
    return true;
  }

  /** Whether `owner` holds an address: attached, or attaching. */
  holds(owner: string): boolean {
    for (const o of this.byIp.values()) if (o === owner) return true;
    return false;
  }

  release(owner: string): void {
    for (const [ip, o] of this.byIp) if (o === owner) this.byIp.delete(ip);
  }

  /** Drops addresses of owners that no longer exist (after a crash between steps). */
  retain(owners: Set<string>): void {
    for (const [ip, o] of this.byIp) if (!owners.has(o)) this.byIp.delete(ip);
  }
}
