// When a container that stopped on its own is started again: the decision and the delay.
import type { RestartPolicy } from "../../../proto/gen/engine.js";

export const BACKOFF_FIRST_MS = 100;
export const BACKOFF_MAX_MS = 10_000;
/** A container that ran this long is healthy again: its next restart is immediate. */
export const BACKOFF_RESET_MS = 10_000;

export function shouldRestart(policy: RestartPolicy | undefined, exitCode: number, restartCount: number, stoppedByUser: boolean): boolean {
  if (stoppedByUser || !policy) return false;
  switch (policy.name) {
    case "always":
    case "unless-stopped":
      // A cap on `always` is not a docker CLI form; the swarm worker uses it for `any` with max attempts.
      return policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount;
    case "on-failure":
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || restartCount < policy.maximumRetryCount);
    default:
      return false;
  }
}

/** Delay before restart number `attempt` (0 = first since the container was last healthy). */
export const restartDelayMs = (attempt: number): number =>
  attempt === 0 ? 0 : Math.min(BACKOFF_FIRST_MS * 2 ** (attempt - 1), BACKOFF_MAX_MS);

export function parseRestartPolicy(s: string): RestartPolicy {
  const [name, count, extra] = s.split(":");
  const ok = ["no", "always", "unless-stopped", "on-failure"].includes(name) && extra === undefined;
  if (!ok || (count !== undefined && (name !== "on-failure" || !/^\d+$/.test(count))))
    throw new Error(`invalid restart policy ${s}: use no, always, unless-stopped or on-failure[:MAX]`);
  return { name, maximumRetryCount: count ? Number(count) : 0 };
}
