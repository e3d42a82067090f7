// `network ls` and `network inspect` in docker's shape: its columns, and its JSON field names, so
// scripts and jq filters written for `docker network` still work. Pure.
import type { Network, NetworkSpec } from "../../proto/gen/cluster.js";
import { table } from "../parse.js";
import { shortId } from "./words.js";

/** The name a network is shown by. */
export const networkName = (n: Network): string => n.spec?.annotations?.name || n.id;

/** `network ls`: NETWORK ID, NAME, DRIVER, SCOPE (every network of a swarm is swarm-scoped). */
export function networkTable(networks: readonly Network[], o: { noTrunc?: boolean } = {}): string {
  const sorted = [...networks].sort((a, b) => networkName(a).localeCompare(networkName(b)));
  return table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], sorted.map((n) => [o.noTrunc ? n.id : shortId(n.id), networkName(n), n.spec?.driver || "overlay", "swarm"]));
}

/** One network as `docker network inspect` prints it; the allocated subnet, gateway and VNI once there. */
export function networkJson(n: Network): Record<string, unknown> {
  const spec: NetworkSpec | undefined = n.spec;
  const configs = (n.ipam?.configs.length ? n.ipam.configs : (spec?.ipam?.configs ?? [])).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway }));
  const vni = n.driverState?.vni;
  return {
    Name: networkName(n),
    Id: n.id,
    Created: new Date(n.meta?.createdAt ?? 0).toISOString(),
    Scope: "swarm",
    Driver: spec?.driver || "overlay",
    EnableIPv6: false,
    IPAM: { Driver: spec?.ipam?.driver || "default", Options: null, Config: configs },
    Internal: false,
    Attachable: spec?.attachable ?? false,
    Ingress: spec?.ingress ?? false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: null,
    Options: vni ? { "com.docker.network.driver.overlay.vxlanid_list": String(vni) } : {},
    Labels: spec?.annotations?.labels ?? {},
  };
}
