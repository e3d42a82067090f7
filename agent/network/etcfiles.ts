// The /etc/hosts, /etc/hostname and /etc/resolv.conf a container gets (bind-mounted files).
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Host nameservers a container can reach: loopback resolvers of the host are useless inside. */
export function resolvConfFor(hostResolv: string, hostNetwork: boolean): string {
  if (hostNetwork) return hostResolv;
  const lines = hostResolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push("nameserver 8.8.8.8");
  return lines.join("\n").trim() + "\n";
}

/**
 * When the container's own networks serve names (a swarm's overlays, whose DNS forwards the rest
 * to the host's resolvers), only their nameservers: a resolver that asks the host's first would
 * never learn the swarm's names. The host's search and options lines stay.
 */
export function resolvConfWith(hostResolv: string, nameservers: readonly string[]): string {
  const kept = hostResolv.split("\n").filter((l) => /^\s*(search|domain|options)\s/.test(l));
  return [...nameservers.map((n) => `nameserver ${n}`), ...kept].join("\n") + "\n";
}

export interface EtcFilePaths {
  hosts: string;
  hostname: string;
  resolv: string;
}

/** Writes the file unless it already holds exactly this: a restart in place mostly finds them so, and a read is cheaper than a write. */
function ensureContent(path: string, content: string, fresh: boolean): void {
  if (!fresh) {
    try {
      if (readFileSync(path, "utf8") === content) return;
    } catch {
      /* not there yet */
    }
  }
  writeFileSync(path, content);
}

/**
 * The host's resolv.conf, read again only when its inode, size or mtime moves: a stat instead of a read
 * on every start (four trips through libuv's threads, each ~0.1 ms of CPU on a loaded 2-core VM).
 */
let hostResolvCache: { key: string; text: string } | undefined;
function hostResolvConf(): string {
  try {
    const st = statSync("/etc/resolv.conf");
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (hostResolvCache?.key === key) return hostResolvCache.text;
    const text = readFileSync("/etc/resolv.conf", "utf8");
    hostResolvCache = { key, text };
    return text;
  } catch {
    return ""; // none: the container gets the fallback
  }
}

/**
 * On the caller's thread: the three small writes cost less so than nine trips through libuv's
 * threads (docs/runtime.md, "What a start costs ext4 without a journal"). `fresh`: the container
 * never ran, so the files cannot exist yet and are written without reading them first.
 */
export async function writeEtcFiles(dir: string, hostname: string, ip: string | undefined, hostNetwork: boolean, nameservers: readonly string[] = [], fresh = false): Promise<EtcFilePaths> {
  const hostResolv = hostResolvConf();
  const files = { hosts: join(dir, "hosts"), hostname: join(dir, "hostname"), resolv: join(dir, "resolv.conf") };
  const hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
  if (ip) hosts.push(`${ip}\t${hostname}`);
  ensureContent(files.hosts, hosts.join("\n") + "\n", fresh);
  ensureContent(files.hostname, hostname + "\n", fresh);
  ensureContent(files.resolv, nameservers.length > 0 ? resolvConfWith(hostResolv, nameservers) : resolvConfFor(hostResolv, hostNetwork), fresh);
  return files;
}
