// Names of the host objects one daemon owns, derived from its data root so that several daemons
// side by side never touch each other's bridge, nftables table, cgroups or namespaces.
import { createHash } from "node:crypto";

export const DEFAULT_DATA_ROOT = "/var/lib/shoal";

export interface DaemonNames {
  /** Short stable id of this daemon ("" for the default data root). */
  tag: string;
  bridge: string;
  nftTable: string;
  cgroupParent: string;
  netnsPrefix: string;
}

const short = (s: string, n: number): string => createHash("sha256").update(s).digest("hex").slice(0, n);

export function daemonNames(dataRoot: string): DaemonNames {
  const tag = dataRoot.replace(/\/+$/, "") === DEFAULT_DATA_ROOT ? "" : short(dataRoot, 8);
  return {
    tag,
    bridge: tag ? `shoal-${tag}` : "shoal0",
    nftTable: tag ? `shoal-${tag}` : "shoal",
    cgroupParent: tag ? `shoal-${tag}` : "shoal",
    netnsPrefix: tag ? `shoal-${tag}-` : "shoal-",
  };
}

/** The container's netns name (a file under /run/netns). */
export const netnsName = (names: DaemonNames, containerId: string): string => names.netnsPrefix + containerId.slice(0, 12);

/** Host end of the container's veth: interface names are at most 15 bytes. */
export const hostVethName = (names: DaemonNames, containerId: string): string => "sv" + short(names.bridge + containerId, 11);
