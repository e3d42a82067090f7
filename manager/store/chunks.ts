// Many independent writes (one per task or node) as several change sets in flight at once: a
// loop with thousands of writes neither waits out one commit per change set in turn (a batch's
// way) nor holds the thread building one huge change set.
import type { Store, WriteTx } from "./types.js";

export interface ChunkOptions {
  /** Most writes per change set. */
  size?: number;
  /** Most change sets proposed and not yet applied. */
  inFlight?: number;
}

/** What could not be written: the items of change sets that were refused, and why. */
export interface ChunkResult<T> {
  refused: T[];
  errors: unknown[];
}

/**
 * Writes `items` in change sets of `size`, up to `inFlight` at once. Each change set is all or
 * nothing, and reads committed state only: `write` must touch objects no other item touches (so
 * change sets in flight together never race each other), and must not throw for a single item
 * (check what it needs and skip instead). Resolves once every change set is applied or refused.
 */
export async function writeInChunks<T>(store: Store, items: readonly T[], write: (tx: WriteTx, item: T) => void, o: ChunkOptions = {}): Promise<ChunkResult<T>> {
  const size = o.size ?? 500;
  const out: ChunkResult<T> = { refused: [], errors: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const chunk = items.slice(next, (next += size));
      try {
        await store.update((tx) => {
          for (const item of chunk) write(tx, item);
        });
      } catch (err) {
        out.refused.push(...chunk);
        out.errors.push(err);
      }
    }
  };
  const workers = Math.min(o.inFlight ?? 4, Math.ceil(items.length / size));
  await Promise.all(Array.from({ length: workers }, worker));
  return out;
}
