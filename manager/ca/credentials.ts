// grpc-js credentials for the cluster port, built on a node's certificates: mutual TLS where
// the server asks every client for a certificate of the swarm's root but lets one without
// connect (a joining node has none yet), and the AccessGuard decides each call. Clients check
// that the server is a manager of the expected swarm, not a host name: certificates name nodes.
import { connect, type PeerCertificate } from "node:tls";
import { X509Certificate } from "node:crypto";
import { ChannelCredentials, credentials, experimental, type ChannelOptions, type ServerCredentials } from "@grpc/grpc-js";
import { NodeRole } from "../../proto/gen/cluster.js";
import type { AccessGuard } from "./access.js";
import type { NodeCertificates, NodeTLS } from "./certificates.js";
import { describeIdentity, identityOf, MANAGER_OU, type NodeIdentity } from "./identity.js";
import { readCertificate } from "./root-ca.js";

/**
 * Channel options for every client of the cluster port. Certificates name nodes, not
 * addresses, so TLS is asked for "swarm-manager" (also keeping an IP address out of SNI, which
 * RFC 6066 forbids); the server's certificate is checked by managerCheck instead.
 */
export const CLUSTER_CHANNEL_OPTIONS = { "grpc.ssl_target_name_override": MANAGER_OU } as const;

/** The cluster port's server side: renewals and root changes reach new handshakes by themselves. */
export function clusterServerCredentials(certs: NodeCertificates, guard: AccessGuard): ServerCredentials {
  // Not requiring a client certificate lets joining nodes in; grpc-js then reports only
  // certificates that verified against the root (peerIdentity), and the guard refuses the rest.
  // The same provider serves both arguments: grpc-js 1.14 swaps their order internally.
  const tls = experimental.createCertificateProviderServerCredentials(certs, certs, false);
  return experimental.createServerCredentialsWithInterceptors(tls, [guard.interceptor]);
}

/**
 * Checks a server certificate, in place of the host name check: of `clusterId` when given, and
 * either a manager's or, with `nodeId`, exactly that node's.
 */
function serverCheck(clusterId: string | undefined, nodeId?: string) {
  return (_name: string, cert: PeerCertificate): Error | undefined => {
    const id = identityOf(cert.subject);
    if (!id || id.admin) return new Error("the server presented a certificate that names no swarm node");
    if (clusterId !== undefined && id.clusterId !== clusterId) return new Error(`the server is ${describeIdentity(id)}, not of swarm ${clusterId}`);
    if (nodeId !== undefined) return id.nodeId === nodeId ? undefined : new Error(`the server is ${describeIdentity(id)}, not node ${nodeId}`);
    if (id.role !== NodeRole.NODE_ROLE_MANAGER) return new Error(`the server is ${describeIdentity(id)}, not a manager`);
    return undefined;
  };
}

/** A node's client side towards managers of its own swarm, with its certificate (use with CLUSTER_CHANNEL_OPTIONS). */
export function clusterChannelCredentials(certs: NodeCertificates): ChannelCredentials {
  return experimental.createCertificateProviderChannelCredentials(certs, certs, { checkServerIdentity: serverCheck(certs.identity.clusterId) });
}

/** A joining node's client side: no certificate yet, the root it pinned (verifyRootCA), any manager under it. */
export function joinChannelCredentials(rootCaPem: string): ChannelCredentials {
  return ChannelCredentials.createSsl(Buffer.from(rootCaPem), null, null, { checkServerIdentity: serverCheck(undefined) });
}

/** What a client of the cluster port is made with: credentials and the channel options that go with them. */
export interface ClusterChannel {
  credentials: ChannelCredentials;
  options: ChannelOptions;
}

/** A member's channel to the managers, with its certificate (renewals reach it by themselves). */
export function clusterChannel(certs: NodeCertificates): ClusterChannel {
  return { credentials: clusterChannelCredentials(certs), options: CLUSTER_CHANNEL_OPTIONS };
}

/**
 * A manager's channel to one node's own services (its tasks' logs), which any node serves:
 * the server must be that node of this swarm.
 */
export function nodeChannel(certs: NodeCertificates, nodeId: string): ClusterChannel {
  const credentials = experimental.createCertificateProviderChannelCredentials(certs, certs, { checkServerIdentity: serverCheck(certs.identity.clusterId, nodeId) });
  return { credentials, options: CLUSTER_CHANNEL_OPTIONS };
}

/**
 * A remote CLI's channel (an admin client's certificate, from files): the server must be a
 * manager under `tls.rootCaPem`, and of the certificate's own swarm when it names one.
 */
export function clientChannel(tls: NodeTLS): ClusterChannel {
  let clusterId: string | undefined;
  try {
    clusterId = readCertificate(tls.certPem).identity.clusterId;
  } catch {
    clusterId = undefined; // not one of ours: the manager will refuse it
  }
  const credentials = ChannelCredentials.createSsl(Buffer.from(tls.rootCaPem), Buffer.from(tls.keyPem), Buffer.from(tls.certPem), { checkServerIdentity: serverCheck(clusterId) });
  return { credentials, options: CLUSTER_CHANNEL_OPTIONS };
}

/** A joining node's channel, pinned to the root it checked against its token. */
export function joinChannel(rootCaPem: string): ClusterChannel {
  return { credentials: joinChannelCredentials(rootCaPem), options: CLUSTER_CHANNEL_OPTIONS };
}

/**
 * No TLS: only for in-process tests and benches whose servers serve none. The daemon's cluster
 * port never accepts it.
 */
export const PLAINTEXT_CHANNEL: ClusterChannel = { credentials: credentials.createInsecure(), options: {} };

/**
 * The identity the peer's certificate names, on the server side of a grpc-js call (unary,
 * stream or interceptor); undefined without a certificate that verified against the root.
 */
export function peerIdentity(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): NodeIdentity | undefined {
  return identityOf(call.getAuthContext()?.sslPeerCertificate?.subject);
}

function hostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid address "${addr}": use HOST:PORT`);
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * First contact: the root CA certificate at the end of the chain a manager sends, read before
 * anything is trusted. The caller must pin it (verifyRootCA) before using it.
 */
export function fetchRootCA(addr: string, timeoutMs = 5000): Promise<string> {
  const { host, port } = hostPort(addr);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ["h2"] });
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`cannot read the swarm's root CA from ${addr}: ${why}`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no TLS answer within ${timeoutMs} ms; check the address and that the manager runs`));
    socket.once("error", (err) => fail(err.message));
    socket.once("secureConnect", () => {
      let cert = socket.getPeerCertificate(true);
      for (let hops = 0; cert?.issuerCertificate && cert.issuerCertificate !== cert && hops < 8; hops++) cert = cert.issuerCertificate;
      socket.end();
      if (!cert?.raw) return fail("the manager sent no certificate");
      const root = new X509Certificate(cert.raw);
      if (!root.ca || !root.checkIssued(root)) return fail("the manager's certificate chain does not end in a root CA");
      resolve(root.toString());
    });
  });
}
