// The floor under any Raft written in Node with HTTP/2 between its members: three processes that
// do only what every replicated, durable write must do, and nothing else. The leader takes the
// client's gRPC Put (node:http2, framed and parsed by hand), appends it to its log file (O_DSYNC,
// one write in flight, what waits meanwhile is group-committed with the next) and streams it to
// both followers at once over one long-lived HTTP/2 stream each; a follower writes what it gets
// to its own O_DSYNC log the same way and answers on that stream with the highest index it holds.
// A write is answered once the leader's own copy and one follower's are on disk. No terms, no
// elections, no protobuf, no apply: whatever Shoal's Raft spends above this is the Raft's; what
// this spends is Node's, HTTP/2's and the disk's. `npm run bench -- raft floor` measures it beside
// etcd with the same client.
// Usage: node raft-floor.js --port P --dir DIR [--followers P1,P2]  (with --followers: the leader)
import { closeSync, mkdirSync, openSync, write, constants as fsc } from "node:fs";
import { connect, createServer, constants, type ClientHttp2Stream, type ServerHttp2Stream } from "node:http2";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({ options: { port: { type: "string" }, dir: { type: "string" }, followers: { type: "string" } } });
mkdirSync(args.dir!, { recursive: true });

/** An append-only file with one O_DSYNC write in flight; later appends wait and go together. */
class Log {
  private readonly fd = openSync(join(args.dir!, "log"), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND | fsc.O_DSYNC, 0o600);
  private pending: Buffer[] = [];
  private pendingTo = 0;
  private busy = false;
  durable = 0;

  constructor(private readonly onDurable: (index: number) => void) {}

  append(record: Buffer, index: number): void {
    this.pending.push(record);
    this.pendingTo = index;
    if (!this.busy) this.flush();
  }

  private flush(): void {
    const buf = Buffer.concat(this.pending);
    const to = this.pendingTo;
    this.pending = [];
    this.busy = true;
    write(this.fd, buf, 0, buf.length, null, (err) => {
      if (err) throw err;
      this.busy = false;
      this.durable = to;
      this.onDurable(to);
      if (this.pending.length > 0) this.flush();
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Splits a byte stream into length-prefixed frames (4-byte big-endian length). */
function frames(onFrame: (f: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const n = buf.readUInt32BE(0);
      onFrame(buf.subarray(4, 4 + n));
      buf = buf.subarray(4 + n);
    }
  };
}

function lengthPrefixed(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const server = createServer({ settings: { initialWindowSize: 1 << 24 } });
server.on("session", (s) => s.once("connect", () => s.setLocalWindowSize(1 << 24)));
let log: Log;

if (!args.followers) {
  // A follower: the leader's one stream carries records; each durable index is answered on it.
  let stream: ServerHttp2Stream | undefined;
  let received = 0;
  log = new Log((index) => {
    const ack = Buffer.allocUnsafe(8);
    ack.writeUInt32BE(4, 0);
    ack.writeUInt32BE(index, 4);
    stream?.write(ack);
  });
  server.on("stream", (s) => {
    stream = s;
    s.respond({ ":status": 200 });
    s.on(
      "data",
      frames((f) => {
        // A frame is a batch of records, each [u32 index][u32 length][bytes]; its last index is what it brings the log to.
        let off = 0;
        while (off < f.length) {
          received = f.readUInt32BE(off);
          off += 8 + f.readUInt32BE(off + 4);
        }
        log.append(f, received);
      }),
    );
  });
} else {
  // The leader: Puts in, records out to both followers, answers when its copy and one follower's are durable.
  let next = 0;
  let followerDurable = 0;
  const waiting: { index: number; stream: ServerHttp2Stream }[] = [];
  const answer = (): void => {
    const committed = Math.min(log.durable, followerDurable);
    while (waiting.length > 0 && waiting[0]!.index <= committed) {
      const w = waiting.shift()!;
      if (w.stream.destroyed) continue;
      w.stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      w.stream.once("wantTrailers", () => w.stream.sendTrailers({ "grpc-status": "0" }));
      w.stream.end(Buffer.from([0, 0, 0, 0, 0]));
    }
  };
  log = new Log(answer);
  const followerStreams: ClientHttp2Stream[] = args.followers.split(",").map((port) => {
    const session = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 24 } });
    session.once("connect", () => session.setLocalWindowSize(1 << 24));
    const st = session.request({ [constants.HTTP2_HEADER_METHOD]: "POST", [constants.HTTP2_HEADER_PATH]: "/floor/Append" }, { endStream: false });
    st.on(
      "data",
      frames((f) => {
        followerDurable = Math.max(followerDurable, f.readUInt32BE(0));
        answer();
      }),
    );
    return st;
  });
  // Records proposed in this turn of the event loop go to the followers as one frame, as a Raft leader's Ready does.
  let batch: Buffer[] = [];
  const send = (): void => {
    const f = lengthPrefixed(Buffer.concat(batch));
    batch = [];
    for (const st of followerStreams) st.write(f);
  };
  server.on("stream", (s) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => {
      // The gRPC message: 5-byte prefix, then PutRequest { key = 1, value = 2 }, kept as the record's bytes.
      const body = Buffer.concat(parts).subarray(5);
      const index = ++next;
      const record = Buffer.allocUnsafe(8 + body.length);
      record.writeUInt32BE(index, 0);
      record.writeUInt32BE(body.length, 4);
      body.copy(record, 8);
      waiting.push({ index, stream: s });
      log.append(record, index);
      if (batch.push(record) === 1) setImmediate(send);
    });
  });
}

server.listen(Number(args.port), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => {
  log.close();
  process.exit(0);
});
