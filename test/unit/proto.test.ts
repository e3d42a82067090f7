import { describe, expect, it } from "vitest";
import { Message, MessageType } from "../../proto/gen/raft.js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Meta } from "../../proto/gen/cluster.js";

describe("generated wire types", () => {
  it("round-trip a Raft message through protobuf encoding", () => {
    const m = Message.fromPartial({ type: MessageType.MSG_APP, to: 2, from: 1, term: 7, entries: [{ term: 7, index: 3 }] });
    const back = Message.decode(Message.encode(m).finish());
    expect(back.type).toBe(MessageType.MSG_APP);
    expect(back.entries[0].index).toBe(3);
  });
});

describe("uint64 fields", () => {
  const meta = (v: number) => Meta.decode(Meta.encode({ version: v, createdAt: 0, updatedAt: 0 }).finish()).version;

  it("decode to the numbers encoded, across every varint length", () => {
    for (const v of [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 1_796_281_328_481, 2 ** 49 + 3, Number.MAX_SAFE_INTEGER]) expect(meta(v)).toBe(v);
  });

  it("refuse a value past 2^53 and a truncated varint, as ts-proto's own path does", () => {
    const big = new BinaryWriter().uint32(8).uint64(2n ** 60n).finish();
    expect(() => Meta.decode(big)).toThrow("larger than Number.MAX_SAFE_INTEGER");
    const cut = Meta.encode({ version: 2 ** 40, createdAt: 0, updatedAt: 0 }).finish().slice(0, 3);
    expect(() => Meta.decode(cut)).toThrow("premature EOF");
  });
});
