// Published ports: parsing `-p`, and refusing a host port that another container or a host
// socket already holds.
import { createServer } from "node:net";
import { createSocket } from "node:dgram";

export interface PublishedPort {
  hostIp: string; // "" = every local address
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

const portNumber = (s: string, what: string, spec: string): number => {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new Error(`invalid ${what} in -p ${spec}: use [IP:]HOSTPORT:PORT[/udp] with ports 1-65535`);
  return n;
};

/** Parses docker's `-p [IP:]HOSTPORT:PORT[/tcp|udp]`. */
export function parsePublish(spec: string): PublishedPort {
  const [addr, proto = "tcp", extra] = spec.split("/");
  if (extra !== undefined || (proto !== "tcp" && proto !== "udp")) throw new Error(`invalid protocol in -p ${spec}: use tcp or udp`);
  const parts = addr.split(":");
  if (parts.length < 2 || parts.length > 3) throw new Error(`invalid -p ${spec}: use [IP:]HOSTPORT:PORT[/udp]`);
  const hostIp = parts.length === 3 ? parts[0] : "";
  if (hostIp && !/^\d+\.\d+\.\d+\.\d+$/.test(hostIp)) throw new Error(`invalid host address in -p ${spec}: use an IPv4 address`);
  const [hostPort, containerPort] = parts.slice(-2);
  return {
    hostIp: hostIp === "0.0.0.0" ? "" : hostIp,
    hostPort: portNumber(hostPort, "host port", spec),
    containerPort: portNumber(containerPort, "container port", spec),
    protocol: proto,
  };
}

export const formatPublish = (p: PublishedPort): string =>
  `${p.hostIp || "0.0.0.0"}:${p.hostPort}->${p.containerPort}/${p.protocol}`;

export function clashes(a: PublishedPort, b: PublishedPort): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || !a.hostIp || !b.hostIp);
}

/** Resolves when nothing on the host is bound to the port; rejects with a user-facing error otherwise. */
export function checkHostPortFree(p: PublishedPort): Promise<void> {
  const inUse = () => new Error(`port ${p.hostIp || "0.0.0.0"}:${p.hostPort}/${p.protocol} is already in use on the host: pick another host port`);
  return new Promise((resolve, reject) => {
    if (p.protocol === "udp") {
      const s = createSocket("udp4");
      s.once("error", () => (s.close(), reject(inUse())));
      s.bind({ port: p.hostPort, address: p.hostIp || "0.0.0.0", exclusive: true }, () => s.close(() => resolve()));
      return;
    }
    const srv = createServer();
    srv.once("error", () => reject(inUse()));
    srv.listen({ port: p.hostPort, host: p.hostIp || "0.0.0.0", exclusive: true }, () => srv.close(() => resolve()));
  });
}
