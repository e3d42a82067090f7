// gRPC transport between managers. Per peer: one long-lived client stream carrying batches of
// Raft messages in order: each send() writes one batch per peer at once (the caller batches per
// Ready). A message that cannot be sent is dropped and the peer reported unreachable: Raft
// retransmits, and the core backs off to probing. A stream that breaks, either way, is reported
// as a disconnect, which lets a follower notice a dead leader without waiting out its lease.
// Snapshots go in 1 MiB chunks on their own call, answered by one ack.
import * as grpc from "@grpc/grpc-js";
import { Message, MessageType } from "../../../proto/gen/raft.js";
import { RaftTransportClient, RaftTransportService, type RaftBatch, type SnapshotChunk } from "../../../proto/gen/raft_transport.js";

export interface TransportHandler {
  /** An incoming message for the core. */
  onMessage(m: Message): void;
  /** An incoming snapshot message with its data reassembled; resolves once the core has it. */
  onSnapshot(m: Message): Promise<void>;
  reportUnreachable(peer: number): void;
  /** A stream to or from `peer` broke (its process may have died). */
  reportDisconnected(peer: number): void;
  reportSnapshot(peer: number, ok: boolean): void;
}

export interface TransportOptions {
  handler: TransportHandler;
  channelCredentials?: grpc.ChannelCredentials;
  /** Messages waiting for one peer before new ones are dropped. */
  maxQueue?: number;
  snapshotChunkBytes?: number;
  /** Deadline for a whole snapshot transfer. */
  snapshotTimeoutMs?: number;
  log?: (line: string) => void;
}

const RECONNECT_BACKOFF_MS = 50;
const MAX_BATCH = 512;
/**
 * HTTP/2 pings on each peer's connection. A peer whose host vanished without a FIN or RST (power
 * cut, a cable, a frozen VM) leaves a half-open connection: the stream takes writes and answers
 * nothing, and TCP's own retransmissions give it up only after many minutes, while the peer, back
 * on the same address, gets no new connection. Unanswered pings break the stream within about
 * 5 s, so it is reported disconnected and opened again. Pings are handled below the event loop's
 * work, and the leader's thread is never held near 3 s, so a busy peer is not cut by them.
 */
const KEEPALIVE_TIME_MS = 2000;
const KEEPALIVE_TIMEOUT_MS = 3000;

export class Transport {
  private readonly peers = new Map<number, Peer>();
  private server?: grpc.Server;
  readonly stats = { snapshotsSent: 0, snapshotsReceived: 0, dropped: 0 };

  constructor(private readonly opts: TransportOptions) {}

  /** Serves the transport on `address` (host:port, port 0 picks one); resolves to the bound port. */
  listen(address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
    this.serveOn(server);
    this.server = server;
    return new Promise((resolve, reject) =>
      server.bindAsync(address, credentials, (err, port) => (err ? reject(new Error(`raft transport: cannot listen on ${address}: ${err.message}`)) : resolve(port))),
    );
  }

  /** Adds the transport's service to a server someone else runs (a manager's one cluster port). */
  serveOn(server: grpc.Server): void {
    server.addService(RaftTransportService, {
      send: (call: grpc.ServerReadableStream<RaftBatch, unknown>, done: grpc.sendUnaryData<object>) => {
        let from = 0;
        let ended = false;
        const lost = (): void => {
          if (ended) return;
          ended = true;
          if (from) this.opts.handler.reportDisconnected(from);
        };
        call.on("data", (batch: RaftBatch) => {
          for (const m of batch.messages) {
            from ||= m.from;
            this.opts.handler.onMessage(m);
          }
        });
        call.on("end", () => {
          lost();
          done(null, {});
        });
        call.on("error", lost);
        call.on("cancelled", lost);
      },
      sendSnapshot: (call: grpc.ServerReadableStream<SnapshotChunk, unknown>, done: grpc.sendUnaryData<object>) => {
        let head: Message | undefined;
        const parts: Buffer[] = [];
        call.on("data", (chunk: SnapshotChunk) => {
          if (chunk.message) head = chunk.message;
          parts.push(Buffer.from(chunk.data));
        });
        call.on("end", () => {
          if (!head?.snapshot) return done(null, { accepted: false, error: "snapshot stream carried no snapshot message" });
          head.snapshot.data = Buffer.concat(parts);
          this.stats.snapshotsReceived++;
          this.opts.handler.onSnapshot(head).then(
            () => done(null, { accepted: true, error: "" }),
            (err: Error) => done(null, { accepted: false, error: err.message }),
          );
        });
        call.on("error", () => {});
      },
    });
  }

  /** Adds or readdresses a peer (on membership change). */
  setPeer(id: number, address: string): void {
    const old = this.peers.get(id);
    if (old?.address === address) return;
    old?.close();
    this.peers.set(id, new Peer(id, address, this.opts, this.stats));
  }

  removePeer(id: number): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  peerAddress(id: number): string | undefined {
    return this.peers.get(id)?.address;
  }

  /** Sends messages to their peers, one batch per peer; order per peer is kept. */
  send(messages: Message[]): void {
    const touched = new Set<Peer>();
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.opts.handler.reportUnreachable(m.to);
        if (m.type === MessageType.MSG_SNAP) this.opts.handler.reportSnapshot(m.to, false);
        continue;
      }
      if (m.type === MessageType.MSG_SNAP) peer.sendSnapshot(m);
      else if (peer.enqueue(m)) touched.add(peer);
    }
    for (const p of touched) p.flush();
  }

  async close(): Promise<void> {
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    // Peers' streams into our server never end on their own, so a graceful shutdown would wait
    // forever; every Raft message is droppable, so cutting them is safe.
    this.server?.forceShutdown();
  }
}

class Peer {
  private readonly client: RaftTransportClient;
  private stream?: grpc.ClientWritableStream<RaftBatch>;
  private queue: Message[] = [];
  private blocked = false; // the stream's buffer is full: wait for 'drain'
  private downUntil = 0;
  private closed = false;

  constructor(
    readonly id: number,
    readonly address: string,
    private readonly opts: TransportOptions,
    private readonly stats: Transport["stats"],
  ) {
    this.client = new RaftTransportClient(address, opts.channelCredentials ?? grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": 64 * 1024 * 1024,
      "grpc.initial_reconnect_backoff_ms": RECONNECT_BACKOFF_MS,
      "grpc.max_reconnect_backoff_ms": 1000,
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      "grpc.keepalive_permit_without_calls": 1,
    });
  }

  /** Queues `m` for the next flush(); false if it was dropped instead. */
  enqueue(m: Message): boolean {
    if (this.closed || Date.now() < this.downUntil || this.queue.length >= (this.opts.maxQueue ?? 4096)) {
      this.drop();
      return false;
    }
    this.queue.push(m);
    return true;
  }

  flush(): void {
    while (this.queue.length > 0 && !this.blocked && !this.closed) {
      const stream = this.stream ?? this.openStream();
      const messages = this.queue.splice(0, MAX_BATCH);
      if (!stream.write({ messages })) {
        this.blocked = true;
        stream.once("drain", () => {
          this.blocked = false;
          this.flush();
        });
      }
    }
  }

  private openStream(): grpc.ClientWritableStream<RaftBatch> {
    const stream = this.client.send((err) => {
      if (this.stream === stream) this.stream = undefined;
      this.blocked = false;
      if (err && !this.closed) {
        // The peer is down or restarting: drop what waits and stop queueing for a short while.
        this.downUntil = Date.now() + RECONNECT_BACKOFF_MS;
        this.queue = [];
        this.drop();
        this.opts.handler.reportDisconnected(this.id);
      }
    });
    this.stream = stream;
    return stream;
  }

  private drop(): void {
    this.stats.dropped++;
    this.opts.handler.reportUnreachable(this.id);
  }

  sendSnapshot(m: Message): void {
    const data = Buffer.from(m.snapshot!.data);
    const head = Message.fromPartial({ ...m, snapshot: { ...m.snapshot!, data: Buffer.alloc(0) } });
    const chunkBytes = this.opts.snapshotChunkBytes ?? 1024 * 1024;
    const deadline = Date.now() + (this.opts.snapshotTimeoutMs ?? 60_000);
    const call = this.client.sendSnapshot({ deadline }, (err, ack) => {
      const ok = !err && ack.accepted;
      if (ok) this.stats.snapshotsSent++;
      else this.opts.log?.(`raft transport: snapshot to ${this.id} failed: ${err?.message ?? ack.error}`);
      this.opts.handler.reportSnapshot(this.id, ok);
    });
    let off = 0;
    const writeNext = (): void => {
      while (off < data.length || off === 0) {
        const part = data.subarray(off, off + chunkBytes);
        off += Math.max(part.length, 1);
        const chunk: SnapshotChunk = { message: off <= chunkBytes ? head : undefined, data: part, last: off >= data.length };
        if (chunk.last) {
          call.write(chunk);
          call.end();
          return;
        }
        if (!call.write(chunk)) {
          call.once("drain", writeNext);
          return;
        }
      }
    };
    writeNext();
  }

  close(): void {
    this.closed = true;
    this.stream?.end();
    this.client.close();
  }
}
