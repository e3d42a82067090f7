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
  ) {
    super(message);
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
  const e = err as Error & { code?: unknown };
  const message = String(e?.message ?? err).split("\n")[0];
  if (err instanceof SpecError || err instanceof ConstraintError) return invalid(message);
  if (err instanceof ConflictError) return outOfDate(message);
  if (err instanceof NameConflictError) return exists(message);
  if (err instanceof NotFoundError) return notFound(message);
  if (err instanceof InvariantError) return precondition(message);
  // Errors of other modules that already carry a status (e.g. an invalid image reference).
  if (typeof e?.code === "number" && e.code in status) return new ControlError(e.code as status, message);
  return new ControlError(status.UNKNOWN, message);
}
