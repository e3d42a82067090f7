// Reading a container's CRI-format log (`TIME STREAM F|P TEXT`); partial records (P) are joined
// with what follows on the same stream, so each entry is one whole line.
import { once } from "node:events";
import { createReadStream, existsSync, statSync, watch } from "node:fs";
import { createInterface } from "node:readline";

export interface LogEntry {
  time: string;
  stream: "stdout" | "stderr";
  line: string;
}

interface Record_ {
  time: string;
  stream: "stdout" | "stderr";
  partial: boolean;
  text: string;
}

function parse(raw: string): Record_ | undefined {
  const a = raw.indexOf(" ");
  const b = raw.indexOf(" ", a + 1);
  const c = raw.indexOf(" ", b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const stream = raw.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  return { time: raw.slice(0, a), stream, partial: raw.slice(b + 1, c) === "P", text: raw.slice(c + 1) };
}

class Joiner {
  private pending = new Map<string, string>();
  push(r: Record_): LogEntry | undefined {
    const text = (this.pending.get(r.stream) ?? "") + r.text;
    if (r.partial) {
      this.pending.set(r.stream, text);
      return undefined;
    }
    this.pending.delete(r.stream);
    return { time: r.time, stream: r.stream, line: text };
  }
}

async function* entriesFrom(path: string, start: number, end?: number): AsyncGenerator<LogEntry> {
  const joiner = new Joiner();
  const lines = createInterface({ input: createReadStream(path, { start, end, encoding: "utf8" }), crlfDelay: Infinity });
  for await (const raw of lines) {
    const r = parse(raw);
    const e = r && joiner.push(r);
    if (e) yield e;
  }
}

/** The log's entries, or its last `tail` ones. */
export async function* readLog(path: string, opts: { tail?: number } = {}): AsyncGenerator<LogEntry> {
  if (!existsSync(path)) return;
  if (opts.tail === undefined) {
    yield* entriesFrom(path, 0);
    return;
  }
  const last: LogEntry[] = [];
  for await (const e of entriesFrom(path, 0)) {
    last.push(e);
    if (last.length > opts.tail) last.shift();
  }
  yield* last;
}

/** The last `tail` entries (all by default), then new ones as the shim appends them, until signal aborts. */
export async function* followLog(path: string, opts: { tail?: number; signal?: AbortSignal } = {}): AsyncGenerator<LogEntry> {
  let offset = 0;
  let first = true;
  const joiner = new Joiner();
  while (!opts.signal?.aborted) {
    const size = existsSync(path) ? statSync(path).size : 0;
    if (size < offset) offset = 0; // the file was replaced
    // Only whole lines are consumed; a record being written is picked up on the next round.
    const chunk = size > offset ? await readRange(path, offset, size) : "";
    const cut = chunk.lastIndexOf("\n");
    if (cut >= 0) {
      let batch: LogEntry[] = [];
      for (const raw of chunk.slice(0, cut).split("\n")) {
        const r = parse(raw);
        const e = r && joiner.push(r);
        if (e) batch.push(e);
      }
      if (first && opts.tail !== undefined) batch = opts.tail > 0 ? batch.slice(-opts.tail) : [];
      yield* batch;
      offset += Buffer.byteLength(chunk.slice(0, cut + 1));
    } else {
      await changeOrTimeout(path, 250, opts.signal);
    }
    first = false;
  }
}

async function readRange(path: string, start: number, endExclusive: number): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of createReadStream(path, { start, end: endExclusive - 1 })) parts.push(c as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

async function changeOrTimeout(path: string, ms: number, signal?: AbortSignal): Promise<void> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    if (existsSync(path)) {
      const w = watch(path, { signal: ac.signal });
      await once(w, "change", { signal: ac.signal }).catch(() => undefined);
      w.close();
    } else {
      await new Promise<void>((r) => ac.signal.addEventListener("abort", () => r(), { once: true }));
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
