// How a user names an object: its full id, a unique prefix of its id, or its name (a node's
// hostname). An exact id wins, then an exact name, then a prefix.
import type { Network, Node, Service } from "../../proto/gen/cluster.js";
import { byIdPrefix, byName, type ReadTx } from "../store/types.js";
import { invalid, notFound } from "./errors.js";

export function resolveService(tx: ReadTx, ref: string): Service {
  if (!ref) throw invalid("no service given: name a service by its name or id");
  const byId = tx.get("service", ref);
  if (byId) return byId;
  const named = tx.find("service", byName(ref));
  if (named.length === 1) return named[0];
  return unique("service", ref, tx.find("service", byIdPrefix(ref)));
}

export function resolveNode(tx: ReadTx, ref: string): Node {
  if (!ref) throw invalid("no node given: name a node by its hostname or id");
  const byId = tx.get("node", ref);
  if (byId) return byId;
  const lower = ref.toLowerCase();
  // A node that left and joined again keeps its hostname: two nodes may share it.
  const named = tx.find("node").filter((n) => n.spec?.annotations?.name.toLowerCase() === lower || n.description?.hostname.toLowerCase() === lower);
  if (named.length === 1) return named[0];
  if (named.length > 1) throw invalid(`node name ${ref} is ambiguous: ${named.length} nodes have it (${named.map((n) => n.id).join(", ")}); use the node id`);
  return unique("node", ref, tx.find("node", byIdPrefix(ref)));
}

/** A network named by id, name or id prefix; undefined when there is none. */
export function findNetwork(tx: ReadTx, ref: string): Network | undefined {
  const byId = tx.get("network", ref);
  if (byId) return byId;
  const named = tx.find("network", byName(ref));
  if (named.length === 1) return named[0];
  return unique("network", ref, tx.find("network", byIdPrefix(ref)), true);
}

function unique<T extends { id: string }>(kind: string, ref: string, matches: T[], optional: true): T | undefined;
function unique<T extends { id: string }>(kind: string, ref: string, matches: T[]): T;
function unique<T extends { id: string }>(kind: string, ref: string, matches: T[], optional = false): T | undefined {
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw invalid(`${kind} id prefix ${ref} is ambiguous: it matches ${matches.length} ${kind}s; give more of the id`);
  if (optional) return undefined;
  throw notFound(`no such ${kind}: ${ref}`);
}
