import { type Socket, connect, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Transport, type TransportHandler } from "../../../manager/raft/transport/index.js";
import { Message, MessageType } from "../../../proto/gen/raft.js";

const open: Transport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

function recorder() {
  const got: Message[] = [];
  const unreachable: number[] = [];
  const disconnected: number[] = [];
  const snapshots: { peer: number; ok: boolean }[] = [];
  const handler: TransportHandler = {
    onMessage: (m) => got.push(m),
    onSnapshot: async (m) => void got.push(m),
    reportUnreachable: (p) => unreachable.push(p),
    reportDisconnected: (p) => disconnected.push(p),
    reportSnapshot: (peer, ok) => snapshots.push({ peer, ok }),
  };
  const t = new Transport({ handler });
  open.push(t);
  return { t, got, unreachable, disconnected, snapshots };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("Raft transport", () => {
  it("delivers batches to a peer in order", async () => {
    const a = recorder();
    const b = recorder();
    const port = await b.t.listen("127.0.0.1:0");
    a.t.setPeer(2, `127.0.0.1:${port}`);
    for (let i = 1; i <= 2000; i++) a.t.send([Message.fromPartial({ type: MessageType.MSG_APP, to: 2, from: 1, index: i })]);
    await until(() => b.got.length === 2000);
    expect(b.got.map((m) => m.index)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });

  it("streams a snapshot in chunks and reports it delivered", async () => {
    const a = recorder();
    const b = recorder();
    const port = await b.t.listen("127.0.0.1:0");
    a.t.setPeer(2, `127.0.0.1:${port}`);
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    data[data.length - 1] = 9;
    a.t.send([Message.fromPartial({ type: MessageType.MSG_SNAP, to: 2, from: 1, snapshot: { data, metadata: { index: 50, term: 3 } } })]);
    await until(() => a.snapshots.length === 1);
    expect(a.snapshots[0]).toEqual({ peer: 2, ok: true });
    expect(Buffer.from(b.got[0].snapshot!.data).equals(data)).toBe(true);
    expect(b.got[0].snapshot!.metadata!.index).toBe(50);
  });

  it("reports a disconnect on both sides when a peer goes away", async () => {
    const a = recorder();
    const b = recorder();
    const port = await b.t.listen("127.0.0.1:0");
    a.t.setPeer(2, `127.0.0.1:${port}`);
    a.t.send([Message.fromPartial({ type: MessageType.MSG_HEARTBEAT, to: 2, from: 1 })]);
    await until(() => b.got.length === 1);
    await a.t.close(); // the sender goes: the receiver's stream from it ends
    await until(() => b.disconnected.includes(1));
    const c = recorder();
    c.t.setPeer(2, `127.0.0.1:${port}`);
    c.t.send([Message.fromPartial({ type: MessageType.MSG_HEARTBEAT, to: 2, from: 3 })]);
    await until(() => b.got.length === 2);
    await b.t.close(); // the receiver goes: the sender's stream to it breaks
    await until(() => c.disconnected.includes(2));
  });

  it("breaks a stream to a peer that stops answering without closing, and opens a new one", async () => {
    const a = recorder();
    const b = recorder();
    const port = await b.t.listen("127.0.0.1:0");
    // A proxy whose connections can be frozen: both ends left open, nothing passed either way,
    // as a peer's host that lost power leaves them.
    const conns: Socket[] = [];
    const proxy = createServer((inbound) => {
      const out = connect(port, "127.0.0.1");
      conns.push(inbound, out);
      inbound.pipe(out);
      out.pipe(inbound);
      inbound.on("error", () => out.destroy());
      out.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      a.t.setPeer(2, `127.0.0.1:${(proxy.address() as { port: number }).port}`);
      a.t.send([Message.fromPartial({ type: MessageType.MSG_HEARTBEAT, to: 2, from: 1, term: 1 })]);
      await until(() => b.got.length === 1);
      for (const c of conns.splice(0)) {
        c.unpipe();
        c.pause();
      }
      await until(() => a.disconnected.includes(2), 20_000);
      // The next messages go on a new connection.
      await until(() => {
        a.t.send([Message.fromPartial({ type: MessageType.MSG_HEARTBEAT, to: 2, from: 1, term: 2 })]);
        return b.got.some((m) => m.term === 2);
      }, 20_000);
    } finally {
      for (const c of conns) c.destroy();
      proxy.close();
    }
  }, 60_000);

  it("reports a peer that is down as unreachable", async () => {
    const a = recorder();
    a.t.setPeer(3, "127.0.0.1:1"); // nothing listens on port 1
    a.t.send([Message.fromPartial({ type: MessageType.MSG_HEARTBEAT, to: 3, from: 1 })]);
    await until(() => a.unreachable.includes(3));
  });
});
