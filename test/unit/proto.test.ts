import { describe, expect, it } from "vitest";
import { Message, MessageType } from "../../proto/gen/raft.js";

describe("generated wire types", () => {
  it("round-trip a Raft message through protobuf encoding", () => {
    const m = Message.fromPartial({ type: MessageType.MSG_APP, to: 2, from: 1, term: 7, entries: [{ term: 7, index: 3 }] });
    const back = Message.decode(Message.encode(m).finish());
    expect(back.type).toBe(MessageType.MSG_APP);
    expect(back.entries[0].index).toBe(3);
  });
});
