// Errors the Control API answers with: a gRPC status code and one line saying what was wrong and
// what to do. Every failure of an API method leaves as a ControlError.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { NotLeaderError as RaftNotLeaderError } from "../raft/errors.js";
import { NotLeaderError as EtcdNotLeaderError } from "../store/etcd/errors.js";
import { ConstraintError } from "../scheduler/constraint.js";
import { SpecError } from "../orchestrator/spec.js";
import { ConflictError, InvariantError, NameConflictError, NotFoundError } from "../store/errors.js";

export class ControlError extends Error {
  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ControlError";
  }

  /** Refused before anything was written, because this manager does not lead. */
  get notLeader(): boolean {
    return this.cause instanceof RaftNotLeaderError || this.cause instanceof EtcdNotLeaderError;
  }

  /** As a gRPC status. */
  toStatus(): Partial<ServiceError> {
    return this.notLeader ? notLeaderStatus(this.message) : { code: this.code, details: this.message };
  }
}

/**
 * Trailer of a refusal that wrote nothing because the manager asked does not lead, or no manager
 * does yet: a forwarder may send the same call again once leadership has settled.
 */
export const UNWRITTEN = "shoal-unwritten";

export function notLeaderStatus(details: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(UNWRITTEN, "not-leader");
  return { code: status.UNAVAILABLE, details, metadata };
}

/** Whether an error is a refusal that wrote nothing because the manager did not lead. */
export function refusedUnwritten(err: Partial<ServiceError> | null | undefined): boolean {
  return (err?.metadata?.get(UNWRITTEN).length ?? 0) > 0;
}

export const invalid = (m: string) => new ControlError(status.INVALID_ARGUMENT, m);
export const notFound = (m: string) => new ControlError(status.NOT_FOUND, m);
export const exists = (m: string) => new ControlError(status.ALREADY_EXISTS, m);
export const precondition = (m: string) => new ControlError(status.FAILED_PRECONDITION, m);
/** Someone wrote the object since the caller read it. */
export const outOfDate = (m: string) => new ControlError(status.ABORTED, m);
export const unavailable = (m: string) => new ControlError(status.UNAVAILABLE, m);

/** Gives any error from validation or the store its status; keeps the first line of its message. */
export function asControlError(err: unknown): ControlError {
  if (err instanceof ControlError) return err;
  const e = err as Error | undefined;
  const message = String(e?.message ?? err).split("\n")[0];
  return new ControlError(codeOf(err), message, { cause: err });
}

function codeOf(err: unknown): status {
  if (err instanceof SpecError || err instanceof ConstraintError) return status.INVALID_ARGUMENT;
  if (err instanceof ConflictError) return status.ABORTED;
  if (err instanceof NameConflictError) return status.ALREADY_EXISTS;
  if (err instanceof NotFoundError) return status.NOT_FOUND;
  if (err instanceof RaftNotLeaderError || err instanceof EtcdNotLeaderError) return status.UNAVAILABLE;
  if (err instanceof InvariantError) return status.FAILED_PRECONDITION;
  // Errors of other modules that already carry a status (e.g. an invalid image reference).
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number" && code in status) return code;
  return status.UNKNOWN;
}
