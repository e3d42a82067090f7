// Durations as docker's flags take and print them (Go's syntax: 10s, 500ms, 1m30s, 1h), held as
// milliseconds, the proto's unit.
import { CliError } from "../errors.js";

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const TERM = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** `1m30s` → 90000. Refuses negative values and ones finer than a millisecond. */
export function parseDuration(value: string, flag: string): number {
  const bad = (why: string) => new CliError(`invalid ${flag} ${value}: ${why}`, 125);
  const s = value.trim();
  if (s === "0") return 0;
  if (s === "") throw bad("use a duration such as 10s, 500ms or 1m30s");
  if (s.startsWith("-")) throw bad("a duration cannot be negative");
  let ms = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const at = TERM.lastIndex;
    const m = TERM.exec(s);
    if (!m || m.index !== at) throw bad("use a duration such as 10s, 500ms or 1m30s");
    ms += Number(m[1]) * UNIT_MS[m[2]];
  }
  if (ms > 0 && ms < 1) throw bad("durations are counted in milliseconds: use at least 1ms");
  return Math.round(ms);
}

/** 90000 → "1m30s", 500 → "500ms", 0 → "0s", as Go prints a time.Duration. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = `${Number(((ms % 60_000) / 1000).toFixed(3))}s`;
  return h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
}
