// Draws the convergence model's lines: on a terminal, every line in place (redrawn with cursor
// moves), bars when it is wide enough; elsewhere (a pipe, a file), a plain line each time a line
// changes, so logs read as a history.
import { BAR_STEPS, type ProgressLine } from "./progress.js";

export interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const BAR_WIDTH = 50;

/** "[=====>      ]": as far along as `step` of BAR_STEPS. */
export function bar(step: number): string {
  const filled = Math.min(BAR_WIDTH, Math.floor(Math.floor((step / BAR_STEPS) * 100) / 2));
  return `[${"=".repeat(filled)}>${" ".repeat(BAR_WIDTH - filled)}]`;
}

/**
 * A line as a terminal shows it: "1/6: running   [====>   ]". The bar is left out where it would
 * not fit (docker leaves it out below 110 columns; it fits in 80), and no line wraps.
 */
export function terminalLine(l: ProgressLine, columns: number): string {
  const plain = `${l.id}: ${l.text}`.trimEnd();
  const withBar = l.step === undefined ? plain : `${l.id}: ${l.text} ${bar(l.step)}`;
  if (withBar.length < columns) return withBar;
  return plain.length < columns ? plain : plain.slice(0, Math.max(1, columns - 1));
}

export interface Display {
  show(lines: readonly ProgressLine[]): void;
}

/** Redraws the whole block in place whenever a line changes. */
export class TerminalDisplay implements Display {
  private drawn: string[] = [];

  constructor(private readonly out: Output) {}

  show(lines: readonly ProgressLine[]): void {
    const next = lines.map((l) => terminalLine(l, this.out.columns ?? 80));
    if (next.length === this.drawn.length && next.every((s, i) => s === this.drawn[i])) return;
    const up = this.drawn.length > 0 ? `\x1b[${this.drawn.length}A` : "";
    this.out.write(up + next.map((s) => `\x1b[2K${s}\n`).join(""));
    this.drawn = next;
  }
}

/** One line per change, no bars, no blank placeholders. */
export class PlainDisplay implements Display {
  private readonly last = new Map<string, string>();

  constructor(private readonly out: Output) {}

  show(lines: readonly ProgressLine[]): void {
    for (const l of lines) {
      if (!l.text.trim() || this.last.get(l.id) === l.text) continue;
      this.last.set(l.id, l.text);
      this.out.write(`${l.id}: ${l.text.trimEnd()}\n`);
    }
  }
}

export const quietDisplay: Display = { show: () => undefined };

export function displayFor(out: Output, quiet: boolean): Display {
  if (quiet) return quietDisplay;
  return out.isTTY ? new TerminalDisplay(out) : new PlainDisplay(out);
}
