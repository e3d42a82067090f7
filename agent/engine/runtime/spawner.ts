// Starting programs without forking the daemon: `shoal-runtime spawner`, one small process
// started once, forks and execs each program on request and answers with its exit and output
// (docs/runtime.md, "The spawner"). A fork of the Node daemon blocks its one thread for 4 to 24 ms,
// growing with its memory; the spawner's own fork costs well under a millisecond.
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { runtimeBinary } from "./binary.js";

export interface Outcome {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  signal: number;
  stdout: Buffer;
  stderr: Buffer;
  /** Set when the program could not be started at all: spawn's error code (ENOENT, EACCES…). */
  error?: string;
}

const errnoName = (n: number): string => Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;

const EXITED = 0;
const SIGNALED = 1;

/** The request frame: u32 length, u32 seq, u32 field count, then u32-length-prefixed fields (stdin, argv...). */
function frame(seq: number, input: string, argv: string[]): Buffer {
  const fields = [Buffer.from(input), ...argv.map((a) => Buffer.from(a))];
  const body = Buffer.alloc(8 + fields.reduce((n, f) => n + 4 + f.length, 0));
  body.writeUInt32LE(seq, 0);
  body.writeUInt32LE(fields.length, 4);
  let off = 8;
  for (const f of fields) {
    body.writeUInt32LE(f.length, off);
    f.copy(body, off + 4);
    off += 4 + f.length;
  }
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([len, body]);
}

class Spawner {
  private child?: ChildProcess;
  private seq = 0;
  private pending = new Map<number, { resolve: (o: Outcome) => void; reject: (e: Error) => void }>();
  private buf: Buffer = Buffer.alloc(0);

  run(file: string, args: string[], input = ""): Promise<Outcome> {
    const child = this.ensure();
    const seq = (this.seq = (this.seq + 1) >>> 0);
    return new Promise<Outcome>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.hold(true);
      child.stdin!.write(frame(seq, input, [file, ...args]));
    });
  }

  private ensure(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(runtimeBinary(), ["spawner"], { stdio: ["pipe", "pipe", "inherit"] });
    this.child = child;
    child.stdout!.on("data", (d: Buffer) => this.onData(d));
    child.stdin!.on("error", () => undefined); // its exit is what tells
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.buf = Buffer.alloc(0);
      const err = new Error(`shoal-runtime spawner ${why}: the next call starts a new one`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    child.on("error", (e) => gone(`failed: ${e.message}`));
    child.on("exit", (code, signal) => gone(`exited (${signal ?? code})`));
    this.hold(false);
    return child;
  }

  /** Keeps the process alive only while an answer is awaited: an idle spawner never holds a caller's exit. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    const handles = [c, c.stdin, c.stdout] as unknown as { ref(): void; unref(): void }[];
    for (const h of handles) {
      if (busy) h.ref();
      else h.unref();
    }
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32LE(0);
      if (this.buf.length < 4 + len) break;
      const b = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      const seq = b.readUInt32LE(0);
      const kind = b.readInt32LE(4);
      const value = b.readInt32LE(8);
      const outLen = b.readUInt32LE(12);
      const stdout = Buffer.from(b.subarray(16, 16 + outLen));
      const stderr = Buffer.from(b.subarray(20 + outLen, 20 + outLen + b.readUInt32LE(16 + outLen)));
      const p = this.pending.get(seq);
      if (!p) continue;
      this.pending.delete(seq);
      if (kind === EXITED) p.resolve({ code: value, signal: 0, stdout, stderr });
      else if (kind === SIGNALED) p.resolve({ code: null, signal: value, stdout, stderr });
      else p.resolve({ code: null, signal: 0, stdout, stderr, error: errnoName(value) });
    }
    if (this.pending.size === 0) this.hold(false);
  }
}

const spawner = new Spawner();

/** Runs `file args` (looked up on PATH) with `input` on stdin, through the spawner. */
export function spawnRun(file: string, args: string[], input = ""): Promise<Outcome> {
  return spawner.run(file, args, input);
}
