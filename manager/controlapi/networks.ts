// Networks as the Control API writes them: create (the allocator gives the VNI and subnet
// afterwards), list, inspect and remove — each a pure function of one store transaction that
// checks everything before it writes anything.
import { type Network, NetworkSpec } from "../../proto/gen/cluster.js";
import type { CreateNetworkRequest } from "../../proto/gen/swarm.js";
import { checkNetworkSpec, networkInUse } from "../allocator/networks.js";
import { byName, type ReadTx, type WriteTx } from "../store/types.js";
import { exists, invalid, notFound, precondition } from "./errors.js";
import { findNetwork } from "./refs.js";

/** As docker's: letters, digits, "_", "." and "-", starting with a letter or digit. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export const networkExists = (name: string) => `network with name ${name} already exists: pick another name`;

/** Checks the spec against the networks there are and stores it. Returns its id. */
export function createNetwork(tx: WriteTx, req: CreateNetworkRequest): string {
  if (!req.spec) throw invalid("no network spec given: shoal network create -d overlay NAME");
  const spec = NetworkSpec.fromPartial(req.spec);
  const name = spec.annotations?.name ?? "";
  if (name && !NAME.test(name)) throw invalid(`invalid network name "${name}": use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit`);
  spec.driver ||= "overlay";
  try {
    checkNetworkSpec(tx, spec);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  if (tx.find("network", byName(name)).length > 0) throw exists(networkExists(name));
  spec.ipam ??= { driver: "default", configs: [] };
  spec.ipam.driver ||= "default";
  return tx.create("network", { id: "", spec, driverState: undefined, ipam: undefined });
}

export function resolveNetwork(tx: ReadTx, ref: string): Network {
  if (!ref) throw invalid("no network given: name a network by its name or id");
  const n = findNetwork(tx, ref);
  if (!n) throw notFound(`no such network: ${ref}`);
  return n;
}

/** Every network, by name. */
export function listNetworks(tx: ReadTx): Network[] {
  return tx.find("network").sort((a, b) => (a.spec?.annotations?.name ?? "").localeCompare(b.spec?.annotations?.name ?? "") || a.id.localeCompare(b.id));
}

/** Removes a network nothing uses any more; the allocator's next pass frees its VNI and subnet. */
export function removeNetwork(tx: WriteTx, ref: string): void {
  const n = resolveNetwork(tx, ref);
  const why = networkInUse(tx, n.id);
  if (why) throw precondition(`network ${n.spec?.annotations?.name || n.id} is in use: ${why}`);
  tx.delete("network", n.id);
}
