// The role manager: makes Raft membership follow the nodes' desired roles. A node demoted to
// worker (spec.role) that is still a Raft member is removed from the group — after handing over
// leadership if it is this leader. Promotion is the promoted node's own doing: its agent hears
// the new role on its session, starts a Raft member and asks to join (Dispatcher.JoinRaft).
import { NodeRole, type Node } from "../../proto/gen/cluster.js";
import { StoreLoop } from "../store/loop.js";
import type { Store } from "../store/types.js";

export type RoleAction =
  | { op: "transfer"; to: number } // this leader is demoted: another voter leads first
  | { op: "remove"; nodeId: string; raftId: number };

/**
 * Pure: what to do now. `members` are the Raft voters and learners by id; `self` is this
 * leader's Raft id. At most one membership change at a time, as Raft requires.
 */
export function decideRoles(nodes: readonly Node[], members: ReadonlySet<number>, self: number): RoleAction | undefined {
  for (const n of nodes) {
    // Without Raft (the etcd store) a demoted manager has no membership to lose: only its status goes.
    if (n.spec?.role === NodeRole.NODE_ROLE_WORKER && n.managerStatus && !n.managerStatus.raftId) return { op: "remove", nodeId: n.id, raftId: 0 };
    const raftId = n.managerStatus?.raftId ?? 0;
    if (n.spec?.role !== NodeRole.NODE_ROLE_WORKER || !raftId || !members.has(raftId)) continue;
    if (raftId !== self) return { op: "remove", nodeId: n.id, raftId };
    const other = [...members].find((m) => m !== self && nodes.some((x) => x.managerStatus?.raftId === m && x.spec?.role === NodeRole.NODE_ROLE_MANAGER));
    if (other !== undefined) return { op: "transfer", to: other };
  }
  return undefined;
}

function rolesMoved(o: Node, n: Node): boolean {
  return o.spec?.role !== n.spec?.role || o.managerStatus?.raftId !== n.managerStatus?.raftId || !o.managerStatus !== !n.managerStatus;
}

export interface RaftMembership {
  members(): Set<number>;
  self(): number;
  removeMember(id: number): Promise<void>;
  transferLeadership(to: number): Promise<void>;
}

export class RoleManager {
  private readonly loop: StoreLoop;
  /** A change that failed (no quorum, a slow transfer) is tried again shortly. */
  private failed = false;

  constructor(
    private readonly store: Store,
    private readonly raft: RaftMembership,
    private readonly log: (line: string) => void,
  ) {
    this.loop = new StoreLoop(store, () => this.pass(), {
      // A node's role or Raft membership, not its state: thousands of state writes come with a
      // mass join, each a pass over every node.
      filter: { kinds: ["node"], match: (e) => e.action !== "update" || rolesMoved(e.old as Node, e.new as Node) },
      batchDelayMs: 10,
      firstDelayMs: 0,
      onError: (e) => {
        this.failed = true;
        log(`roles: ${(e as Error).message}`);
      },
      nextWakeMs: () => (this.failed ? 500 : undefined),
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  private async pass(): Promise<void> {
    this.failed = false;
    const nodes = this.store.view((tx) => tx.find("node"));
    const action = decideRoles(nodes, this.raft.members(), this.raft.self());
    if (!action) return;
    if (action.op === "transfer") {
      this.log(`roles: this manager was demoted; handing leadership to raft member ${action.to}`);
      await this.raft.transferLeadership(action.to);
      return;
    }
    if (action.raftId) {
      this.log(`roles: node ${action.nodeId} was demoted; removing raft member ${action.raftId}`);
      await this.raft.removeMember(action.raftId);
    }
    await this.store.update((tx) => {
      const n = tx.get("node", action.nodeId);
      if (n) tx.update("node", { ...n, managerStatus: undefined });
    });
  }
}
