// Errors that reach the user, each with the gRPC status the API answers with.
import { status } from "@grpc/grpc-js";

export class EngineError extends Error {
  constructor(readonly code: status, message: string) {
    super(message);
  }
}

export const notFound = (m: string) => new EngineError(status.NOT_FOUND, m);
export const invalid = (m: string) => new EngineError(status.INVALID_ARGUMENT, m);
export const conflict = (m: string) => new EngineError(status.ALREADY_EXISTS, m);
export const precondition = (m: string) => new EngineError(status.FAILED_PRECONDITION, m);
