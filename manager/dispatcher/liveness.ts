// Which nodes missed their heartbeats. Pure, so the timing rule is tested without clocks.
import { NodeState, type Node } from "../../proto/gen/cluster.js";

export interface Missed {
  nodeId: string;
  silentMs: number;
}

/**
 * Nodes believed up (ready, or unknown since they joined) that were last heard from more than
 * `graceMs` ago. A node never heard from by this leader counts from `lastSeen` seeded at start.
 */
export function liveness(nodes: readonly Node[], lastSeen: ReadonlyMap<string, number>, now: number, graceMs: number): Missed[] {
  const out: Missed[] = [];
  for (const n of nodes) {
    const state = n.status?.state ?? NodeState.NODE_STATE_UNKNOWN;
    if (state === NodeState.NODE_STATE_DOWN) continue;
    const seen = lastSeen.get(n.id);
    if (seen === undefined) continue;
    if (now - seen > graceMs) out.push({ nodeId: n.id, silentMs: now - seen });
  }
  return out;
}
