// Errors the Control API answers with: a gRPC status code and one line saying what was wrong and
// what to do. Every failure of an API method leaves as a ControlError.
import { status } from "@grpc/grpc-js";
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
  if (err instanceof InvariantError) return status.FAILED_PRECONDITION;
  // Errors of other modules that already carry a status (e.g. an invalid image reference).
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number" && code in status) return code;
  return status.UNKNOWN;
}
