// The CLI's clients for a daemon's cluster services: on its local socket, Swarm (this daemon's
// membership) and Control (the cluster API, forwarded to the leader by a follower); on a
// manager's cluster port (tcp://, mutual TLS with a client certificate), Control only.
import { credentials, status } from "@grpc/grpc-js";
import { ControlClient, SwarmClient } from "../../proto/gen/swarm.js";
import { localOnly, tcpAddr } from "../client.js";
import type { TlsFlags } from "./remote.js";

export interface Cluster {
  host: string;
  /** The manager's cluster address when the host is one (tcp://): there is no local daemon then. */
  remote?: string;
  swarm(): SwarmClient;
  control(): ControlClient;
}

/** Runs `fn` with clients made on first use and closed after it, however it ends. */
export async function withCluster<T>(host: string, tls: TlsFlags, fn: (c: Cluster) => Promise<T>): Promise<T> {
  let swarm: SwarmClient | undefined;
  let control: ControlClient | undefined;
  const opts = { "grpc.enable_retries": 0 };
  const remote = tcpAddr(host);
  // The TLS code (x509 parsing) is loaded only for a tcp:// host: it costs a local command ~150 ms.
  const channel = remote ? await import("./remote.js").then((r) => r.remoteChannel(r.tlsFiles(host, tls))) : { credentials: credentials.createInsecure(), options: {} };
  try {
    return await fn({
      host,
      remote,
      swarm: () => {
        if (remote) throw localOnly(host);
        return (swarm ??= new SwarmClient(host, channel.credentials, opts));
      },
      control: () => (control ??= new ControlClient(remote ?? host, channel.credentials, { ...opts, ...channel.options })),
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
