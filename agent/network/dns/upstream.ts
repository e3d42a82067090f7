// Names that are not the swarm's go to the host's own resolvers, as the query came (same id,
// same flags): the answer is relayed back untouched.
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";

export interface Upstream {
  host: string;
  port: number;
}

/** "1.2.3.4" or "1.2.3.4:5353". */
export function parseUpstream(s: string): Upstream {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`bad DNS upstream ${s}: use an IPv4 address, optionally with :PORT`);
  return { host: m[1], port: Number(m[2] ?? 53) };
}

/** The IPv4 nameservers of a resolv.conf. The agent runs in the host's namespace: loopback ones work. */
export function hostResolvers(path = "/etc/resolv.conf"): Upstream[] {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return [...text.matchAll(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/gm)].map((m) => ({ host: m[1], port: 53 }));
}

/** Sends the query to each upstream in turn until one answers; undefined when none did in time. */
export async function forward(query: Buffer, upstreams: readonly Upstream[], timeoutMs = 2000): Promise<Buffer | undefined> {
  for (const u of upstreams) {
    const answer = await ask(query, u, timeoutMs);
    if (answer) return answer;
  }
  return undefined;
}

function ask(query: Buffer, u: Upstream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    // One socket per query: its random source port and the query id must both match to be accepted.
    const sock = createSocket("udp4");
    const done = (b: Buffer | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(b);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on("error", () => done(undefined));
    sock.on("message", (msg, from) => {
      if (from.address === u.host && from.port === u.port && msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) done(msg);
    });
    sock.send(query, u.port, u.host, (err) => err && done(undefined));
  });
}
