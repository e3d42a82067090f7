// Reads a container's log in the CRI format the shim writes (`TIME STREAM F|P TEXT`, one line
// per record; P = partial, the text continues in the next record). Follows by polling the file,
// so a reader resumes after a daemon restart with nothing handed over.
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

export interface LogRecord {
  time: string;
  stream: "stdout" | "stderr";
  data: Buffer;
}

export function parseLine(line: string): LogRecord | undefined {
  const a = line.indexOf(" ");
  const b = line.indexOf(" ", a + 1);
  const c = line.indexOf(" ", b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const text = c < 0 ? "" : line.slice(c + 1);
  return { time: line.slice(0, a), stream, data: Buffer.from(tag === "P" ? text : text + "\n") };
}

/** Incremental reader of one log file from a byte offset. */
export class LogReader {
  private offset = 0;
  private rest = "";

  constructor(private readonly path: string) {}

  /** Records appended since the last call (complete lines only). */
  readNew(): LogRecord[] {
    if (!existsSync(this.path)) return [];
    const size = statSync(this.path).size;
    if (size < this.offset) (this.offset = 0), (this.rest = ""); // truncated: start again
    if (size === this.offset) return [];
    const fd = openSync(this.path, "r");
    const buf = Buffer.alloc(size - this.offset);
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.rest + buf.toString("utf8")).split("\n");
    this.rest = lines.pop() ?? "";
    return lines.map(parseLine).filter((r): r is LogRecord => r !== undefined);
  }
}

/** The last `n` records (all when n < 0), counted as output lines as docker does. */
export function tailRecords(records: LogRecord[], n: number): LogRecord[] {
  if (n < 0) return records;
  let lines = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    if (records[i].data.at(-1) === 0x0a) lines++;
    if (lines > n) return records.slice(i + 1);
  }
  return records;
}
