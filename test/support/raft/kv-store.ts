// The key-value state machine the test server replicates: puts only, values as bytes.
import type { StateMachine } from "../../../manager/raft/node.js";
import type { Entry } from "../../../proto/gen/raft.js";

export function encodePut(key: string, value: Buffer): Buffer {
  const k = Buffer.from(key);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(k.length, 0);
  return Buffer.concat([head, k, value]);
}

export class KvStore implements StateMachine {
  readonly data = new Map<string, Buffer>();

  apply(entry: Entry): number {
    const b = Buffer.from(entry.data);
    const n = b.readUInt16BE(0);
    this.data.set(b.subarray(2, 2 + n).toString(), Buffer.from(b.subarray(2 + n)));
    return entry.index;
  }

  snapshot(): Buffer {
    return Buffer.from(JSON.stringify([...this.data].map(([k, v]) => [k, v.toString("base64")])));
  }

  restore(data: Buffer): void {
    this.data.clear();
    if (data.length === 0) return;
    for (const [k, v] of JSON.parse(data.toString()) as [string, string][]) this.data.set(k, Buffer.from(v, "base64"));
  }
}
