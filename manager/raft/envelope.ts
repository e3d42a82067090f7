// What the node wraps around application data: proposal ids in entries (to wake the proposer when
// its entry applies), member addresses in conf changes, and the member table in snapshots.
import { randomBytes } from "node:crypto";

export interface MemberInfo {
  raftAddress: string;
  /** The application's client-facing address, for forwarding to the leader. */
  clientAddress?: string;
}

/** Proposal ids: a random per-process prefix so ids never collide across restarts and members. */
export class ProposalIds {
  private readonly prefix = randomBytes(4).readUInt32BE(0) >>> 11; // 21 bits, keeps ids below 2^53
  private counter = 0;
  next(): number {
    this.counter = (this.counter + 1) % 2 ** 32;
    return this.prefix * 2 ** 32 + this.counter;
  }
}

/** [u64 big-endian id][data]; ids stay below 2^53, so two 32-bit halves carry them exactly. */
export function wrapProposal(id: number, data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(8 + data.length);
  b.writeUInt32BE(Math.floor(id / 2 ** 32), 0);
  b.writeUInt32BE(id % 2 ** 32, 4);
  b.set(data, 8);
  return b;
}

export function unwrapProposal(data: Uint8Array): { id: number; payload: Buffer } | undefined {
  if (data.length < 8) return undefined; // the leader's empty entry at the start of its term
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { id: b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4), payload: b.subarray(8) };
}

export function encodeMemberInfo(m: MemberInfo): Buffer {
  return Buffer.from(JSON.stringify(m));
}

export function decodeMemberInfo(b: Uint8Array): MemberInfo | undefined {
  if (b.length === 0) return undefined;
  return JSON.parse(Buffer.from(b).toString()) as MemberInfo;
}

/** Snapshot data: [u32 length][member table JSON][application state]. */
export function wrapSnapshot(members: Map<number, MemberInfo>, app: Buffer): Buffer {
  const table = Buffer.from(JSON.stringify([...members]));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(table.length, 0);
  return Buffer.concat([head, table, app]);
}

export function unwrapSnapshot(data: Uint8Array): { members: Map<number, MemberInfo>; app: Buffer } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const n = b.readUInt32BE(0);
  const members = new Map<number, MemberInfo>(JSON.parse(b.subarray(4, 4 + n).toString()) as [number, MemberInfo][]);
  return { members, app: b.subarray(4 + n) };
}
