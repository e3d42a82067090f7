// An object's etcd value is its proto encoding. The version is not in it: a write cannot know
// the revision it will commit at, so a reader takes meta.version from the key's mod revision.
import { Cluster, Network, Node, Service, Task, type MessageFns } from "../../../proto/gen/cluster.js";
import type { Kind, ObjectOf, StoreObject } from "../kinds.js";

const CODECS: { [K in Kind]: MessageFns<ObjectOf[K]> } = { cluster: Cluster, node: Node, service: Service, task: Task, network: Network };

/** The value to write: the object with its timestamps and version 0. */
export function encodeObject(kind: Kind, o: StoreObject, createdAt: number, updatedAt: number): Buffer {
  const codec = CODECS[kind] as MessageFns<StoreObject>;
  return Buffer.from(codec.encode({ ...o, meta: { version: 0, createdAt, updatedAt } }).finish());
}

/** The object a key holds, at its mod revision. */
export function decodeObject(kind: Kind, value: Buffer, modRevision: number): StoreObject {
  const o = (CODECS[kind] as MessageFns<StoreObject>).decode(value);
  o.meta = { version: modRevision, createdAt: o.meta?.createdAt ?? 0, updatedAt: o.meta?.updatedAt ?? 0 };
  return o;
}
