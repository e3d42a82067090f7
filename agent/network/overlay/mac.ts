// Every overlay endpoint's MAC is derived from its address (as Docker's overlay does), so the
// managers never allocate MACs and every node computes the same one.
import { parseIp } from "../ipv4.js";

/** 02:42 (locally administered) followed by the four bytes of the IPv4 address. */
export function macOf(ip: string): string {
  const n = parseIp(ip);
  const bytes = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
