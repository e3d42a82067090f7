// How an etcd-backed write can fail besides the store's own errors. One line each, saying what
// to do; and in every case nothing was written.

/**
 * The write was refused because this manager does not lead: its election key is gone or newer
 * (another manager leads), or it has not had its lease confirmed within the TTL. Which one is said,
 * so that a refusal right after a takeover can be told from a lost lease.
 */
export class NotLeaderError extends Error {
  constructor(why = "its etcd election key is gone") {
    super(`this manager no longer leads (${why}): nothing was written; the leader does this work`);
    this.name = "NotLeaderError";
  }
}

/** etcd did not answer in time. `maybeWritten`: the change was sent and its outcome could not be read back. */
export class EtcdUnavailableError extends Error {
  constructor(
    readonly reason: string,
    readonly maybeWritten: boolean,
  ) {
    super(
      maybeWritten
        ? `etcd did not confirm the change (${reason}): it may or may not have been written; read again before retrying`
        : `cannot reach etcd (${reason}): nothing was written; check the etcd endpoints and retry`,
    );
    this.name = "EtcdUnavailableError";
  }
}

/** More writes in one transaction than etcd allows (its --max-txn-ops). */
export class TxnTooLargeError extends Error {
  constructor(ops: number, max: number) {
    super(`one transaction of ${ops} etcd operations is more than the ${max} etcd allows (--max-txn-ops): write in a batch, or raise --max-txn-ops on etcd and --etcd-max-txn-ops here`);
    this.name = "TxnTooLargeError";
  }
}
