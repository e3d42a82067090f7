// This node's keys in its data dir: the swarm's root CA, its certificate and TLS key
// (swarm/certificates/) and, on a manager, the data key its Raft files are sealed with
// (swarm/raft/key.json). While the swarm is autolocked a manager keeps both keys sealed under the
// unlock key, which never touches the disk.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SealedFiles } from "../../manager/ca/autolock.js";
import { NodeCertificates } from "../../manager/ca/certificates.js";
import { isSealed, loadOrCreateDataKey, resealDataKey } from "../../manager/ca/encryption.js";

export const certificatesDir = (swarmDir: string): string => join(swarmDir, "certificates");
export const raftDir = (swarmDir: string): string => join(swarmDir, "raft");
const dataKeyPath = (swarmDir: string) => join(raftDir(swarmDir), "key.json");
const TLS_KEY_FILE = "swarm-node.key";

export class NodeKeys implements SealedFiles {
  constructor(
    private readonly swarmDir: string,
    readonly certs: NodeCertificates,
    private sealedUnder: string | undefined,
  ) {}

  /** Whether this node's TLS key is sealed (autolock): a restart then needs the unlock key. */
  static locked(swarmDir: string): boolean {
    const p = join(certificatesDir(swarmDir), TLS_KEY_FILE);
    return existsSync(p) && isSealed(readFileSync(p, "utf8"));
  }

  /** From the data dir; throws LockedError if the key is sealed and `unlockKey` does not open it. */
  static async load(swarmDir: string, unlockKey?: string): Promise<NodeKeys> {
    const certs = await NodeCertificates.load(certificatesDir(swarmDir), unlockKey);
    return new NodeKeys(swarmDir, certs, NodeKeys.locked(swarmDir) ? unlockKey : undefined);
  }

  get unlockKey(): string | undefined {
    return this.sealedUnder;
  }

  /** Writes the certificates (after a join or a renewal), the key sealed as it is now. */
  save(): void {
    this.certs.save(certificatesDir(this.swarmDir), this.sealedUnder);
  }

  /** The Raft files' data key, made on a manager's first start. */
  dataKey(): Buffer {
    return loadOrCreateDataKey(dataKeyPath(this.swarmDir), this.sealedUnder);
  }

  reseal(to: string | undefined): void {
    const dek = dataKeyPath(this.swarmDir);
    if (existsSync(dek)) resealDataKey(dek, this.sealedUnder, to);
    this.certs.save(certificatesDir(this.swarmDir), to);
    this.sealedUnder = to;
  }
}
