// Errors a store transaction can end with. Messages are one line a user can act on.

/** Someone else wrote the object since it was read: read again and retry. */
export class ConflictError extends Error {
  constructor(kind: string, id: string, expected: number, actual: number) {
    super(`${kind} ${id} was changed by someone else (version ${actual}, you had ${expected}): read it again and retry`);
    this.name = "ConflictError";
  }
}

export class NameConflictError extends Error {
  constructor(kind: string, name: string) {
    super(`a ${kind} named "${name}" already exists: choose another name or remove it first`);
    this.name = "NameConflictError";
  }
}

export class NotFoundError extends Error {
  constructor(kind: string, id: string) {
    super(`${kind} ${id} not found`);
    this.name = "NotFoundError";
  }
}

export class ExistsError extends Error {
  constructor(kind: string, id: string) {
    super(`${kind} ${id} already exists`);
    this.name = "ExistsError";
  }
}

/** A write would break a rule the whole cluster relies on (e.g. a task state moving backward). */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}
