// Health checks, as Docker runs them: a command run inside the container every interval; a task
// is healthy after its first success, unhealthy after `retries` failures in a row (failures in
// the start period do not count). The decision is pure; the monitor runs it on a timer.
import type { HealthConfig, Task } from "../../proto/gen/cluster.js";
import type { ContainerDefaults } from "../engine/image/image.js";

export interface HealthSpec {
  /** The command, as argv (CMD-SHELL becomes /bin/sh -c). */
  cmd: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

/** Docker's defaults for what a health check leaves unset. */
const DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 };

/** The task's health check, else the image's HEALTHCHECK; none when neither has one or it is NONE. */
export function healthOf(task: Task, image: ContainerDefaults | undefined): HealthSpec | undefined {
  const own = task.spec?.container?.healthcheck;
  const img = image?.Healthcheck;
  const test = own?.test?.length ? own.test : (img?.Test ?? []);
  if (test.length === 0 || test[0] === "NONE") return undefined;
  const cmd = test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", test.slice(1).join(" ")] : test[0] === "CMD" ? test.slice(1) : test;
  if (cmd.length === 0) return undefined;
  // The image's durations are nanoseconds (Docker's image config); the task's are milliseconds.
  const pick = (mine: number | undefined, theirsNs: number | undefined, dflt: number) => (mine && mine > 0 ? mine : theirsNs && theirsNs > 0 ? Math.round(theirsNs / 1e6) : dflt);
  const o: Partial<HealthConfig> = own ?? {};
  return {
    cmd,
    intervalMs: pick(o.intervalMs, img?.Interval, DEFAULTS.intervalMs),
    timeoutMs: pick(o.timeoutMs, img?.Timeout, DEFAULTS.timeoutMs),
    retries: o.retries && o.retries > 0 ? o.retries : img?.Retries && img.Retries > 0 ? img.Retries : DEFAULTS.retries,
    startPeriodMs: pick(o.startPeriodMs, img?.StartPeriod, DEFAULTS.startPeriodMs),
  };
}

export type Health = "starting" | "healthy" | "unhealthy";

export interface HealthState {
  health: Health;
  failures: number;
  startedAt: number;
  lastOutput: string;
}

export const initialHealth = (now: number): HealthState => ({ health: "starting", failures: 0, startedAt: now, lastOutput: "" });

/** One check's result folded into the state. Unhealthy is final for this container. */
export function foldCheck(s: HealthState, spec: HealthSpec, ok: boolean, output: string, now: number): HealthState {
  if (s.health === "unhealthy") return s;
  if (ok) return { ...s, health: "healthy", failures: 0, lastOutput: output };
  if (s.health === "starting" && now - s.startedAt < spec.startPeriodMs) return { ...s, lastOutput: output };
  const failures = s.failures + 1;
  return { ...s, failures, lastOutput: output, health: failures >= spec.retries ? "unhealthy" : s.health };
}

/** Runs one check: resolves with its success and (trimmed) output; a timeout is a failure. */
export type RunCheck = (cmd: string[], timeoutMs: number) => Promise<{ ok: boolean; output: string }>;

export class HealthMonitor {
  private state: HealthState;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly spec: HealthSpec,
    private readonly run: RunCheck,
    private readonly onChange: (s: HealthState) => void,
  ) {
    this.state = initialHealth(Date.now());
  }

  get current(): HealthState {
    return this.state;
  }

  start(): void {
    // The first check comes at once: a task should not wait a whole interval to be counted up.
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), ms);
  }

  private async check(): Promise<void> {
    const r = await this.run(this.spec.cmd, this.spec.timeoutMs).catch((e: Error) => ({ ok: false, output: e.message }));
    if (this.stopped) return;
    const before = this.state.health;
    this.state = foldCheck(this.state, this.spec, r.ok, r.output, Date.now());
    if (this.state.health !== before) this.onChange(this.state);
    if (this.state.health === "unhealthy") return;
    // Until healthy, look again soon (within the interval) so a task is counted up promptly.
    const next = this.state.health === "starting" ? Math.min(this.spec.intervalMs, 500) : this.spec.intervalMs;
    this.schedule(next);
  }
}
