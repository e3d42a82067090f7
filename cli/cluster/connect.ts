// The CLI's clients for a daemon's cluster services on its local socket: Swarm (this daemon's
// membership) and Control (the cluster API, forwarded to the leader by a follower).
import { credentials, status } from "@grpc/grpc-js";
import { ControlClient, SwarmClient } from "../../proto/gen/swarm.js";

export interface Cluster {
  host: string;
  swarm(): SwarmClient;
  control(): ControlClient;
}

/** Runs `fn` with clients made on first use and closed after it, however it ends. */
export async function withCluster<T>(host: string, fn: (c: Cluster) => Promise<T>): Promise<T> {
  let swarm: SwarmClient | undefined;
  let control: ControlClient | undefined;
  const opts = { "grpc.enable_retries": 0 };
  try {
    return await fn({
      host,
      swarm: () => (swarm ??= new SwarmClient(host, credentials.createInsecure(), opts)),
      control: () => (control ??= new ControlClient(host, credentials.createInsecure(), opts)),
    });
  } finally {
    swarm?.close();
    control?.close();
  }
}

/**
 * A read-change-write of one object (UpdateService, UpdateNode name the version read): when
 * someone wrote it in between, the managers answer ABORTED, and the whole attempt runs again on a
 * fresh read.
 */
export async function rereadOnConflict<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if ((err as { code?: number }).code !== status.ABORTED || i >= tries) throw err;
    }
  }
}
