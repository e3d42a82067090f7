// The network bench's programs, run inside a container's (or host's) network namespace:
//   serve                       TCP sink on 5001 (answers the byte count), HTTP on 80
//   dns-floor ADDR PORT         a DNS server that answers every A query at once from memory
//   tcp HOST SECONDS            sends as fast as TCP takes it; prints {"bytesPerSec"}
//   http HOST N                 N GETs, a new connection each; prints {"p50","p99"} in ms
//   dns SERVER PORT NAME N      N queries one after another; prints {"p50","p99"} in ms
import { createSocket } from "node:dgram";
import http from "node:http";
import { connect, createServer } from "node:net";
import dnsPacket from "dns-packet";

const [mode, ...args] = process.argv.slice(2);
const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

function serve(): void {
  createServer((sock) => {
    let n = 0;
    sock.on("data", (d: Buffer) => (n += d.length));
    sock.on("end", () => sock.end(String(n)));
    sock.on("error", () => undefined);
  }).listen(5001, "0.0.0.0");
  http.createServer((_req, res) => res.end("ok")).listen(80, "0.0.0.0");
}

function dnsFloor(address: string, port: number): void {
  const sock = createSocket("udp4");
  sock.on("message", (msg, from) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? "";
    sock.send(dnsPacket.encode({ type: "response", id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q.questions, answers: [{ type: "A", name, ttl: 0, data: "10.0.0.1" }] }), from.port, from.address);
  });
  sock.bind(port, address);
}

function tcp(host: string, seconds: number): void {
  const chunk = Buffer.alloc(256 * 1024, 7);
  const sock = connect(5001, host);
  let t0 = 0;
  let stop = false;
  const pump = () => {
    while (!stop && sock.write(chunk));
  };
  sock.on("connect", () => {
    t0 = performance.now();
    setTimeout(() => {
      stop = true;
      sock.end();
    }, seconds * 1000);
    pump();
  });
  sock.on("drain", pump);
  let reply = "";
  sock.on("data", (d: Buffer) => (reply += d));
  sock.on("end", () => out({ bytesPerSec: Number(reply) / ((performance.now() - t0) / 1000) }));
}

async function httpLatency(host: string, n: number): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      http.get({ host, port: 80, path: "/", agent: false }, (res) => res.resume().on("end", resolve)).on("error", reject);
    });
    ms.push(performance.now() - t0);
  }
  out({ p50: pct(ms, 0.5), p99: pct(ms, 0.99) });
}

async function dnsLatency(server: string, port: number, name: string, n: number): Promise<void> {
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const query = dnsPacket.encode({ type: "query", id: i & 0xffff, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: "A", name }] });
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS answer from ${server}:${port} for ${name}`)), 2000);
      sock.once("message", () => (clearTimeout(timer), resolve()));
      sock.send(query, port, server);
    });
    ms.push(performance.now() - t0);
  }
  sock.close();
  out({ p50: pct(ms, 0.5), p99: pct(ms, 0.99) });
}

switch (mode) {
  case "serve":
    serve();
    break;
  case "dns-floor":
    dnsFloor(args[0], Number(args[1]));
    break;
  case "tcp":
    tcp(args[0], Number(args[1]));
    break;
  case "http":
    await httpLatency(args[0], Number(args[1]));
    break;
  case "dns":
    await dnsLatency(args[0], Number(args[1]), args[2], Number(args[3]));
    break;
  default:
    console.error(`netprobe: unknown mode ${mode}`);
    process.exit(2);
}
