// Where the store lives in etcd: one key per object under PREFIX/objects/KIND/ID (the value its
// proto encoding), one key per taken unique name under PREFIX/names/KIND/NAME (the value the
// holder's id), and the managers' election under PREFIX/election/.
import { KINDS, type Kind } from "../kinds.js";

export class KeyLayout {
  readonly prefix: string;

  constructor(prefix = "/shoal/") {
    if (!prefix) throw new Error("the etcd prefix is empty: give one such as /shoal/");
    this.prefix = prefix.endsWith("/") ? prefix : `${prefix}/`;
  }

  object(kind: Kind, id: string): Buffer {
    return Buffer.from(`${this.prefix}objects/${kind}/${id}`);
  }

  /** Names compare case-insensitively, so the key holds the lower-cased name. */
  name(kind: Kind, name: string): Buffer {
    return Buffer.from(`${this.prefix}names/${kind}/${name.toLowerCase()}`);
  }

  get objects(): Range {
    return prefixRange(`${this.prefix}objects/`);
  }

  /** Everything Shoal keeps under the prefix: objects, names and the election. */
  get all(): Range {
    return prefixRange(this.prefix);
  }

  get election(): string {
    return `${this.prefix}election/`;
  }

  /** The kind and id an object key names, or undefined for a key that is not one. */
  parseObject(key: Buffer): { kind: Kind; id: string } | undefined {
    const head = `${this.prefix}objects/`;
    const k = key.toString();
    if (!k.startsWith(head)) return undefined;
    const rest = k.slice(head.length);
    const slash = rest.indexOf("/");
    const kind = rest.slice(0, slash) as Kind;
    if (slash <= 0 || !KINDS.includes(kind) || slash === rest.length - 1) return undefined;
    return { kind, id: rest.slice(slash + 1) };
  }
}

export interface Range {
  key: Buffer;
  range_end: Buffer;
}

/** etcd's range for "every key starting with prefix": [prefix, prefix with its last byte + 1). */
export function prefixRange(prefix: string): Range {
  const key = Buffer.from(prefix);
  const end = Buffer.from(key);
  let i = end.length - 1;
  while (i >= 0 && end[i] === 0xff) i--;
  if (i < 0) return { key, range_end: Buffer.from([0]) };
  end[i]++;
  return { key, range_end: end.subarray(0, i + 1) };
}
