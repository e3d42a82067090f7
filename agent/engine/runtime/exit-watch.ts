// Learning of a container's exit from its shim: a connection to STATEDIR/shim.sock gets one
// `exit CODE SIGNAL OOMKILLED` line; a shim already gone left STATEDIR/exit behind.
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";

export interface ExitStatus {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
}

function parseExit(text: string): ExitStatus | undefined {
  const m = /^(?:exit )?(-?\d+) (\d+) ([01])\s*$/.exec(text.trim());
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]), oomKilled: m[3] === "1" } : undefined;
}

/** The recorded exit of a container whose shim has finished, if any. */
export function readExit(stateDir: string): ExitStatus | undefined {
  try {
    return parseExit(readFileSync(join(stateDir, "exit"), "utf8"));
  } catch {
    return undefined;
  }
}

/** Emits "exit" (ExitStatus) or "error" once; `exited` is the same as a promise. */
export class ExitWatch extends EventEmitter {
  readonly exited: Promise<ExitStatus>;
  private socket?: Socket;
  private done = false;

  constructor(private readonly stateDir: string) {
    super();
    this.exited = new Promise((resolve, reject) => {
      this.once("exit", resolve);
      this.once("error", reject);
    });
    this.exited.catch(() => undefined); // a caller using only events must not see an unhandled rejection
    this.attach();
  }

  close(): void {
    this.done = true;
    this.socket?.destroy();
  }

  private finish(status: ExitStatus | undefined): void {
    if (this.done) return;
    this.done = true;
    this.socket?.destroy();
    if (status) this.emit("exit", status);
    else this.emit("error", new Error(`container in ${this.stateDir}: shim gone without recording an exit`));
  }

  private attach(): void {
    const sock = connect(join(this.stateDir, "shim.sock"));
    this.socket = sock;
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      if (buf.includes("\n")) this.finish(parseExit(buf) ?? readExit(this.stateDir));
    });
    // No socket, or closed without a line: the shim has finished (or died); its exit file says.
    sock.on("error", () => this.finish(readExit(this.stateDir)));
    sock.on("close", () => this.finish(readExit(this.stateDir)));
  }
}

export function watchExit(stateDir: string): ExitWatch {
  return new ExitWatch(stateDir);
}
