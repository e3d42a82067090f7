// Invariant checks that stay on in production (TigerBeetle style): a broken invariant in the
// consensus core means a bug that could lose or fork data, so we stop rather than continue.
export class RaftInvariantError extends Error {}

export function invariant(cond: unknown, what: () => string): asserts cond {
  if (!cond) throw new RaftInvariantError(`raft invariant broken: ${what()}`);
}
