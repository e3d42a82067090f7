// uint64 fields read straight into a JS number. ts-proto (forceLong=number) reads each one as
// `longToNumber(reader.uint64())`: a BigInt, then its decimal string, then a parse. Every store
// object carries several (versions, times, slots), so on the 100,000-task scheduler bench that
// path was the largest single cost of decoding a Task. scripts/gen-proto.sh points the generated
// decoders here instead; what they return is the same (and a value past 2^53 is refused alike).
import type { BinaryReader } from "@bufbuild/protobuf/wire";

/** What the reader holds; `buf` is private in its typings but a plain field at run time. */
interface ReaderState {
  pos: number;
  readonly len: number;
  readonly buf: Uint8Array;
}

export function readUint64(reader: BinaryReader): number {
  const r = reader as unknown as ReaderState;
  const buf = r.buf;
  let pos = r.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= r.len) throw new RangeError("premature EOF");
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      r.pos = pos;
      if (value > Number.MAX_SAFE_INTEGER) throw new globalThis.Error("Value is larger than Number.MAX_SAFE_INTEGER");
      return value;
    }
    scale *= 128;
  }
  throw new Error("invalid varint");
}
