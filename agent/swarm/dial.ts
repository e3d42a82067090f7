// A node's one-off calls to the managers' Dispatcher (join, joinRaft, leave, certificate
// renewal), over mutual TLS (or, to join, TLS pinned to the root the token names), following a
// follower's pointer to the leader.
import { status, type ServiceError } from "@grpc/grpc-js";
import { DispatcherClient } from "../../proto/gen/swarm.js";
import type { ClusterChannel } from "../../manager/ca/credentials.js";
import { ClusterError } from "../../manager/cluster/services.js";

export type DispatcherUnary = "join" | "joinRaft" | "leave" | "renewCertificate";

export function unaryAt<Req>(addr: string, method: DispatcherUnary, req: Req, channel: ClusterChannel, timeoutMs = 60_000): Promise<unknown> {
  const c = new DispatcherClient(addr, channel.credentials, channel.options);
  return new Promise<unknown>((resolve, reject) => {
    const fn = (c as unknown as Record<string, (r: Req, o: object, cb: (e: ServiceError | null, r: unknown) => void) => void>)[method];
    fn.call(c, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      c.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

/**
 * Calls a Dispatcher method at the leader, starting at `remote` and following followers' pointers.
 * The methods are idempotent, so a call caught in a leader change (an election while the swarm
 * grows) is made again, at whoever leads next.
 */
export async function atLeader(remote: string, method: DispatcherUnary, req: unknown, channel: ClusterChannel, timeoutMs = 15_000): Promise<{ res: unknown; leader: string }> {
  let at = remote;
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      return { res: await unaryAt(at, method, req, channel, Math.max(1000, deadline - Date.now())), leader: at };
    } catch (err) {
      const e = err as ServiceError;
      const hint = /leader is at (\S+)/.exec(e.details ?? "")?.[1];
      if (hint && hint !== at && i < 20) {
        at = hint;
        continue;
      }
      const electing = /no leader right now|leadership changed|not the leader|lost leadership|membership change is still pending/i.test(e.details ?? "");
      if (electing && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        at = remote;
        continue;
      }
      if (e.code === status.UNAVAILABLE && /No connection|connect|ECONNREFUSED|Deadline/i.test(e.details ?? "")) {
        const tls = tlsFailure(e.details ?? "");
        throw new ClusterError(status.UNAVAILABLE, tls ? `the manager at ${at} failed the TLS check: ${tls}` : `cannot reach a manager at ${at}: check the address and that its daemon is in a swarm`);
      }
      throw err;
    }
  }
}

/** Tries `addrs` in turn (the first that answers wins); the last error if none does. */
export async function atAny<Res>(addrs: readonly string[], method: DispatcherUnary, req: unknown, channel: ClusterChannel, timeoutMs = 10_000): Promise<Res> {
  let last: unknown = new ClusterError(status.UNAVAILABLE, "no manager address known");
  for (const addr of new Set(addrs)) {
    try {
      return (await unaryAt(addr, method, req, channel, timeoutMs)) as Res;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** The reason in grpc-js's "No connection established. Last error: ..." when it was the TLS check, not the network. */
function tlsFailure(details: string): string | undefined {
  const last = /Last error: (?:Error: )?(.*?)(?: \(\d{4}-\d\d-\d\dT[^)]*\))?$/.exec(details)?.[1];
  return last && /certificate|the server (is|presented)|self.signed|verify|handshake|TLS|SSL/i.test(last) ? last : undefined;
}
