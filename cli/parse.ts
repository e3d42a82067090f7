// Parsing of docker-style flag values (sizes, mounts, env) into engine API messages.
import { isAbsolute, resolve } from "node:path";
import type { Mount } from "../proto/gen/engine.js";
import { CliError } from "./errors.js";

/** `32m`, `1g`, `512k`, `1048576` → bytes (as docker's --memory). */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$/i.exec(s.trim());
  if (!m) throw new CliError(`invalid size ${JSON.stringify(s)} for ${flag}: use a number with an optional unit b, k, m, g, t or p (e.g. 32m)`, 125);
  const unit = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2].toLowerCase() as "" | "b" | "k" | "m" | "g" | "t" | "p"];
  return Math.round(Number(m[1]) * unit);
}

export function parseCpus(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`invalid --cpus ${JSON.stringify(s)}: use a positive number such as 0.5`, 125);
  return Math.round(n * 1e9);
}

/** `-v NAME:/dst[:ro]` (named volume) or `-v /host/path:/dst[:ro]` (bind mount). */
export function parseVolume(s: string): Mount {
  const parts = s.split(":");
  const mode = parts.length === 3 ? parts[2] : "rw";
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1] || !["ro", "rw"].includes(mode))
    throw new CliError(`invalid volume spec ${JSON.stringify(s)}: use SRC:DST[:ro] where SRC is a volume name or an absolute host path`, 125);
  if (!isAbsolute(parts[1])) throw new CliError(`invalid volume spec ${JSON.stringify(s)}: the destination must be an absolute path`, 125);
  const bind = parts[0].startsWith("/") || parts[0].startsWith(".");
  if (!bind && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(parts[0]))
    throw new CliError(`invalid volume name ${JSON.stringify(parts[0])}: use letters, digits, _ . - (or an absolute host path)`, 125);
  return { type: bind ? "bind" : "volume", source: bind ? resolve(parts[0]) : parts[0], destination: parts[1], readOnly: mode === "ro" };
}

export function parseEnv(s: string): string {
  if (s.startsWith("=") || s === "") throw new CliError(`invalid environment variable ${JSON.stringify(s)}: use KEY=VALUE`, 125);
  if (s.includes("=")) return s;
  const v = process.env[s]; // `-e KEY` passes the caller's value, as docker does
  return v === undefined ? s : `${s}=${v}`;
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** "3 seconds ago" for a unix time (seen at `nowMs`). */
export function ago(unixSeconds: number, nowMs = Date.now()): string {
  const s = Math.max(0, Math.floor(nowMs / 1000 - unixSeconds));
  if (s < 60) return s <= 1 ? "Less than a second ago" : `${s} seconds ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? "About a minute ago" : `${m} minutes ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return h === 1 ? "About an hour ago" : `${h} hours ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** Columns separated by at least three spaces, as docker's tables. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join("").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${i === 0 ? v : v.toPrecision(3).replace(/\.?0+$/, "")}${units[i]}`;
}
