// The agent's DNS server: one UDP and one TCP socket per overlay network, on the node's gateway
// address of that network (a container's resolv.conf names it). The socket a query arrives on
// tells the network, its source address the container, and so which networks' names it may see.
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import dnsPacket, { type Answer, type DecodedPacket } from "dns-packet";
import { forward, type Upstream } from "./upstream.js";
import type { NameTable } from "./records.js";

export interface DnsServerOptions {
  upstreams: Upstream[];
  /** The networks of the container at `ip` on `networkId` (just that network for an unknown asker). */
  askerNetworks: (networkId: string, ip: string) => string[];
  /** 53 unless a test says otherwise. */
  port?: number;
  log?: (line: string) => void;
}

interface Listener {
  address: string;
  udp: Socket;
  tcp: Server;
  conns: Set<TcpSocket>;
}

const RCODE_FORMERR = 1;
const RCODE_SERVFAIL = 2;
const UDP_DEFAULT = 512;
const UDP_MAX = 4096;

export class DnsServer {
  private readonly listeners = new Map<string, Listener>();

  constructor(
    private readonly names: NameTable,
    private readonly o: DnsServerOptions,
  ) {}

  /** Serves the network's names on address:53 (moves there if it listened elsewhere). */
  async listen(networkId: string, address: string): Promise<void> {
    const cur = this.listeners.get(networkId);
    if (cur?.address === address) return;
    if (cur) await this.close(networkId);
    const port = this.o.port ?? 53;
    const udp = createSocket({ type: "udp4", reuseAddr: true });
    const tcp = createServer();
    const conns = new Set<TcpSocket>();
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(port, address, () => (udp.off("error", reject), resolve()));
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, address, () => (tcp.off("error", reject), resolve()));
      });
    } catch (e) {
      udp.close();
      tcp.close();
      throw new Error(`DNS for network ${networkId} cannot listen on ${address}:${port}: ${(e as Error).message}`);
    }
    udp.on("error", (e) => this.o.log?.(`dns: network ${networkId}: ${e.message}`));
    udp.on("message", (msg, from) => {
      void this.answer(msg, networkId, from.address, "udp").then((reply) => reply && udp.send(reply, from.port, from.address));
    });
    tcp.on("connection", (sock) => this.serveTcp(sock, networkId, conns));
    this.listeners.set(networkId, { address, udp, tcp, conns });
  }

  async close(networkId: string): Promise<void> {
    const l = this.listeners.get(networkId);
    if (!l) return;
    this.listeners.delete(networkId);
    for (const c of l.conns) c.destroy();
    await Promise.all([new Promise<void>((r) => l.udp.close(() => r())), new Promise<void>((r) => l.tcp.close(() => r()))]);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((id) => this.close(id)));
  }

  listening(): string[] {
    return [...this.listeners.keys()];
  }

  private serveTcp(sock: TcpSocket, networkId: string, conns: Set<TcpSocket>): void {
    conns.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on("close", () => conns.delete(sock));
    sock.on("error", () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        void this.answer(Buffer.from(msg), networkId, (sock.remoteAddress ?? "").replace(/^::ffff:/, ""), "tcp").then((reply) => {
          if (!reply || sock.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(reply.length);
          sock.write(Buffer.concat([len, reply]));
        });
      }
    });
  }

  /** The reply to one query: answered from the swarm's names, or forwarded. */
  async answer(query: Buffer, networkId: string, from: string, transport: "udp" | "tcp"): Promise<Buffer | undefined> {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(query);
    } catch {
      return undefined; // not DNS: no answer at all
    }
    if (q.type !== "query") return undefined;
    const flags = (q.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.RECURSION_AVAILABLE;
    const question = q.questions?.length === 1 ? q.questions[0] : undefined;
    if (!question) return dnsPacket.encode({ type: "response", id: q.id, flags: flags | RCODE_FORMERR, questions: q.questions ?? [] });
    const addrs = this.names.lookup(question.name, this.o.askerNetworks(networkId, from));
    if (addrs === undefined) {
      const relayed = await forward(query, this.o.upstreams);
      return relayed ?? dnsPacket.encode({ type: "response", id: q.id, flags: flags | RCODE_SERVFAIL, questions: q.questions });
    }
    const type: string = question.type;
    const wantsA = (type === "A" || type === "ANY") && (question.class ?? "IN") !== "CH";
    // TTL 0: the answer changes as tasks come and go, and asking the node's own server is cheap.
    let answers: Answer[] = wantsA ? addrs.map((ip) => ({ type: "A", class: "IN", name: question.name, ttl: 0, data: ip })) : [];
    const reply = (a: Answer[], tc: boolean) =>
      dnsPacket.encode({ type: "response", id: q.id, flags: flags | dnsPacket.AUTHORITATIVE_ANSWER | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0), questions: q.questions, answers: a });
    const limit = transport === "tcp" ? 65535 : udpLimit(q);
    let out = reply(answers, false);
    // Too many addresses for a UDP answer: as many as fit, and the TC bit sends the client to TCP.
    while (out.length > limit && answers.length > 0) {
      answers = answers.slice(0, Math.max(0, Math.floor(answers.length * (limit / out.length)) - 1));
      out = reply(answers, true);
    }
    return out;
  }
}

/** The UDP answer size the client can take: EDNS's payload size, else the classic 512 bytes. */
function udpLimit(q: DecodedPacket): number {
  const opt = q.additionals?.find((a) => a.type === "OPT") as { udpPayloadSize?: number } | undefined;
  return Math.min(UDP_MAX, Math.max(UDP_DEFAULT, opt?.udpPayloadSize ?? UDP_DEFAULT));
}
