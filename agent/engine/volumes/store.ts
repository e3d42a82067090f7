// Named volumes: data-root/volumes/NAME/_data, kept until the user removes the volume.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import { conflict, invalid, notFound } from "../errors.js";
import { randomBytes } from "node:crypto";

export interface VolumeInfo {
  name: string;
  mountpoint: string;
  createdUnix: number;
  labels: Record<string, string>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class VolumeStore {
  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  static validName(name: string): boolean {
    return NAME.test(name) && name.length <= 128;
  }

  private dir(name: string): string {
    return join(this.root, name);
  }

  exists(name: string): boolean {
    return existsSync(join(this.dir(name), "volume.json"));
  }

  /** Creates the volume, or returns it if it exists (as `docker volume create` does). */
  create(name: string = randomBytes(32).toString("hex"), labels: Record<string, string> = {}): VolumeInfo {
    if (!VolumeStore.validName(name)) throw invalid(`invalid volume name ${JSON.stringify(name)}: use letters, digits, _ . -`);
    if (this.exists(name)) return this.inspect(name);
    // Built beside its final place and renamed in, so a crash never leaves half a volume.
    const tmp = join(this.root, `.tmp-${name}-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, "_data"), { recursive: true, mode: 0o755 });
    const info: VolumeInfo = { name, mountpoint: join(this.dir(name), "_data"), createdUnix: Math.floor(Date.now() / 1000), labels };
    writeFileAtomic(join(tmp, "volume.json"), JSON.stringify(info));
    renameSync(tmp, this.dir(name));
    return info;
  }

  inspect(name: string): VolumeInfo {
    if (!this.exists(name)) throw notFound(`no such volume: ${name}`);
    return JSON.parse(readFileSync(join(this.dir(name), "volume.json"), "utf8")) as VolumeInfo;
  }

  list(): VolumeInfo[] {
    return readdirSync(this.root)
      .filter((n) => !n.startsWith(".") && this.exists(n))
      .map((n) => this.inspect(n))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Refuses while any container (running or not) names the volume, as docker does. */
  remove(name: string, usedBy: string[]): void {
    this.inspect(name);
    if (usedBy.length > 0)
      throw conflict(`volume ${name} is in use by container ${usedBy.map((c) => c.slice(0, 12)).join(", ")}: remove the container first`);
    const tmp = join(this.root, `.rm-${name}-${process.pid}`);
    renameSync(this.dir(name), tmp);
    rmSync(tmp, { recursive: true, force: true });
  }

  /** Removes leftovers of creates and removes a crash interrupted. */
  sweep(): void {
    for (const n of readdirSync(this.root)) if (n.startsWith(".") && statSync(join(this.root, n)).isDirectory()) rmSync(join(this.root, n), { recursive: true, force: true });
  }
}
