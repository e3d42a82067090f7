// Container addresses on the bridge, persisted so that a restarted daemon hands out no address
// twice. One JSON file, replaced atomically in the background (coalesced: a burst of starts costs
// a write or two); not flushed to the disk, since after a power loss no container holds its
// address any more (the daemon's start re-attaches or forgets them). The containers' records
// name their addresses too, and a restarted daemon claims those again (claim).
import { existsSync, readFileSync } from "node:fs";
import { LatestFile } from "../engine/store/atomic.js";
import { formatIp, gatewayOf, parseIp, size, type Subnet } from "./ipv4.js";

export class AddressPool {
  private byIp = new Map<number, string>();
  private readonly out: LatestFile;

  constructor(private readonly subnet: Subnet, private readonly file: string) {
    this.out = new LatestFile(file);
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
      for (const [ip, owner] of Object.entries(saved)) this.byIp.set(parseIp(ip), owner);
    }
  }

  /** The owner's address (the same one again if it already has one). */
  allocate(owner: string): string {
    for (const [ip, o] of this.byIp) if (o === owner) return formatIp(ip);
    const first = gatewayOf(this.subnet) + 1;
    const last = this.subnet.base + size(this.subnet) - 2; // below broadcast
    for (let ip = first; ip <= last; ip++) {
      if (!this.byIp.has(ip)) {
        this.byIp.set(ip, owner);
        this.save();
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
    this.save();
    return true;
  }

  /** Resolves once the file holds the latest addresses. */
  flushed(): Promise<void> {
    return this.out.idle();
  }

  /** Whether `owner` holds an address: attached, or attaching. */
  holds(owner: string): boolean {
    for (const o of this.byIp.values()) if (o === owner) return true;
    return false;
  }

  release(owner: string): void {
    let changed = false;
    for (const [ip, o] of this.byIp) if (o === owner) (this.byIp.delete(ip), (changed = true));
    if (changed) this.save();
  }

  /** Drops addresses of owners that no longer exist (after a crash between steps). */
  retain(owners: Set<string>): void {
    for (const [ip, o] of this.byIp) if (!owners.has(o)) this.byIp.delete(ip);
    this.save();
  }

  private save(): void {
    const encode = () => {
      const out: Record<string, string> = {};
      for (const [ip, o] of this.byIp) out[formatIp(ip)] = o;
      return JSON.stringify(out);
    };
    this.out.write(encode).catch((err: Error) => console.error(`shoal daemon: saving ${this.file}: ${err.message}`));
  }
}
