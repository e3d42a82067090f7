// What the image operations (pull, import, load, push) share: the layer store, the registry
// settings, and the one way to record a finished image.
import type { Credentials } from "./auth.js";
import type { ImageRecord, LayerRef } from "./image.js";
import type { LayerStore } from "./layers.js";
import { DOCKER_HUB, type Reference } from "./reference.js";
import { RegistryClient } from "./registry-client.js";

export interface Progress {
  status: string; // "Downloading", "Extracting", "Pull complete", "Already exists", "Pushed" …
  id?: string; // a short layer digest, or the tag
  current?: number;
  total?: number;
}

export interface RegistrySettings {
  mirror?: string; // host:port that serves Docker Hub names (`busybox:1`)
  insecure: string[]; // registries reached over plain http (loopback ones always are)
}

export interface StoreContext {
  layers: LayerStore;
  registries: RegistrySettings;
  /** Stores the config blob and records the image with its layers, tags and digest references. */
  commit(config: Buffer, layers: LayerRef[], tags: string[], digests: string[]): Promise<ImageRecord>;
  /** Whether image `id` already carries `tag`. */
  hasTag(id: string, tag: string): boolean;
  /** Removes these layers and blobs unless an image or an operation in flight still uses them. */
  collect(diffIds: string[], digests: string[]): void;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/** The host to contact for a reference: the mirror for Docker Hub names, else its registry. */
export function endpointFor(r: Reference, s: RegistrySettings): string {
  if (r.registry === DOCKER_HUB) return s.mirror ?? "registry-1.docker.io";
  return r.registry;
}

export function clientFor(r: Reference, s: RegistrySettings, auth: Credentials | undefined, push: boolean): RegistryClient {
  const endpoint = endpointFor(r, s);
  const insecure = LOOPBACK.test(endpoint) || endpoint === s.mirror || s.insecure.includes(endpoint) || s.insecure.includes(r.registry);
  return new RegistryClient({ endpoint, secure: !insecure, auth, push });
}

export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}
