// Small helpers over entries and messages shared by the core's modules.
import { MessageType, type Entry, type Message } from "../../../proto/gen/raft.js";

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

/** Approximate wire size of an entry; the batching and uncommitted bounds count in these units. */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}

export function payloadSize(ents: Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.length;
  return n;
}

/** Keeps a prefix of `ents` whose total size is within maxBytes (always at least one entry). */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/** A complete Message with defaults, so every message the core emits has every field set. */
export function message(m: Omit<Partial<Message>, "context"> & { type: MessageType; context?: Uint8Array }): Message {
  return {
    type: m.type,
    to: m.to ?? 0,
    from: m.from ?? 0,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? [],
    commit: m.commit ?? 0,
    snapshot: m.snapshot,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context ? Buffer.from(m.context.buffer, m.context.byteOffset, m.context.byteLength) : EMPTY_BYTES,
  };
}

export function voteResponseType(t: MessageType): MessageType {
  if (t === MessageType.MSG_VOTE) return MessageType.MSG_VOTE_RESP;
  if (t === MessageType.MSG_PRE_VOTE) return MessageType.MSG_PRE_VOTE_RESP;
  throw new Error(`raft: not a vote message: ${MessageType[t]}`);
}

/** Messages a node generates for itself; they must never arrive from the network. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.MSG_HUP ||
    t === MessageType.MSG_BEAT ||
    t === MessageType.MSG_UNREACHABLE ||
    t === MessageType.MSG_SNAP_STATUS ||
    t === MessageType.MSG_CHECK_QUORUM
  );
}

export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.MSG_APP_RESP ||
    t === MessageType.MSG_VOTE_RESP ||
    t === MessageType.MSG_HEARTBEAT_RESP ||
    t === MessageType.MSG_UNREACHABLE ||
    t === MessageType.MSG_PRE_VOTE_RESP
  );
}
