// How often one node is pushed its task changes: a few pushes at once, then one per PUSH_EARN_MS.
// Pure (the clock is passed in), so the rule is tested without timers.

/** Pushes a node may get back to back: a service removed and created again goes at once. */
export const PUSH_BURST = 3;
/**
 * Time that earns a node one more push. Under a stream of changes (the scheduler placing 100,000
 * tasks a few at a time on each of 1,000 nodes) the changes gather meanwhile and go in one
 * message. Each message costs the leader about as much to send as its tasks do to encode, and
 * brings a report back: pushed at every 10 ms flush, the 100,000 tasks went out in 60,000 pushes
 * and came back in as many reports. SwarmKit's dispatcher batches its assignments over 100 ms.
 * Only a stream waits on it (a node with pushes in hand is pushed at once), but a rolling update
 * is one too, and a closed loop: each stop and each start waits for its push. At 300 ms a 50-replica
 * update on one node took 5.8 s (0.28× Swarm; 0.35× at parallelism 1, goal 0.25×); at 150 ms
 * 3.2 s (0.15×; 0.17×), with the 100,000-task bench 7.9–9.1 s against 7.1–8.6 s (6 December).
 */
export const PUSH_EARN_MS = 150;

export class PushBudget {
  private readonly nodes = new Map<string, { pushes: number; at: number }>();

  /** 0, taking one push of `id`'s, if it has one at `now`; else the ms until it has one. */
  take(id: string, now: number): number {
    const b = this.earned(id, now);
    // Less a hair, so a third of a period left is 100 ms of 300, not 101 from rounding.
    if (b.pushes < 1) return Math.ceil((1 - b.pushes) * PUSH_EARN_MS - 1e-6);
    b.pushes -= 1;
    return 0;
  }

  /** Takes one push whether it has one or not (a whole set is never held back). */
  spend(id: string, now: number): void {
    const b = this.earned(id, now);
    b.pushes = Math.max(0, b.pushes - 1);
  }

  forget(id: string): void {
    this.nodes.delete(id);
  }

  clear(): void {
    this.nodes.clear();
  }

  private earned(id: string, now: number): { pushes: number; at: number } {
    let b = this.nodes.get(id);
    if (!b) this.nodes.set(id, (b = { pushes: PUSH_BURST, at: now }));
    b.pushes = Math.min(PUSH_BURST, b.pushes + Math.max(0, now - b.at) / PUSH_EARN_MS);
    b.at = now;
    return b;
  }
}
