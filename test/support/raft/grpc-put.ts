// A minimal gRPC unary client for the Raft bench's writes, on node:http2 directly: one HTTP/2
// connection, one stream per call, the request framed and encoded by hand. The bench drives
// Shoal's TestKv.Put and etcd's KV.Put through this same code; the two PutRequests are the same
// message on the wire (key = 1, value = 2), so only the method path differs. grpc-js's client
// (interceptors, filters, a deadline timer per call) cost ~250 µs of CPU per write, on a
// 2-core machine enough to bound both sides' figures at 256 in flight by the client alone.
import { connect, constants, type ClientHttp2Session } from "node:http2";

export class GrpcPut {
  private readonly session: ClientHttp2Session;

  /** `address` is host:port; `path` the method, e.g. /etcdserverpb.KV/Put. */
  constructor(
    address: string,
    private readonly path: string,
  ) {
    this.session = connect(`http://${address}`, { settings: { initialWindowSize: 1 << 24 } });
    this.session.on("error", () => {}); // each call reports its own failure
    this.session.once("connect", () => this.session.setLocalWindowSize(1 << 24));
  }

  /** One Put; resolves with the response message's bytes once the call ends with status 0. */
  put(key: string, value: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: this.path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
      });
      const parts: Buffer[] = [];
      let status: string | undefined;
      req.on("response", (h) => (status = h["grpc-status"] as string | undefined)); // trailers-only answer
      req.on("trailers", (h) => (status = h["grpc-status"] as string | undefined));
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("error", reject);
      req.on("close", () => {
        if (status !== "0") return reject(new Error(`${this.path}: grpc-status ${status ?? "missing"}`));
        const body = Buffer.concat(parts);
        resolve(body.subarray(5)); // one message: 1 byte flag, 4 bytes length
      });
      req.end(frame(key, value));
    });
  }

  close(): void {
    this.session.close();
  }
}

/** A length-prefixed gRPC message holding PutRequest { key = 1, value = 2 }. */
function frame(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key);
  const body = Buffer.concat([Buffer.from([0x0a]), varint(k.length), k, Buffer.from([0x12]), varint(value.length), value]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
