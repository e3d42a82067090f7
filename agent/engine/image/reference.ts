// Image references as docker reads them: [registry/]repository[:tag][@digest]. A first path
// component with a dot, a colon or named `localhost` is a registry; otherwise the name is on
// Docker Hub (docker.io), where one-component names live under `library/`.
import { invalid } from "../errors.js";

export const DOCKER_HUB = "docker.io";

export interface Reference {
  registry: string; // "docker.io", "127.0.0.1:5000", "[::1]:5000"
  repository: string; // "library/busybox", "x/y"
  tag?: string; // absent when only a digest was given
  digest?: string; // "sha256:<64 hex>"
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parses `ref`; the tag defaults to `latest` unless a digest is given. Throws a one-line error. */
export function parseReference(ref: string): Reference {
  const bad = (why: string) => invalid(`invalid image reference "${ref}": ${why}`);
  if (!ref) throw invalid("invalid image reference \"\": no image name given");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`digest "${digest}" is not sha256:<64 lowercase hex digits>`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" may hold only letters, digits, '_', '.', '-' (at most 128, not starting with '.' or '-')`);
  }
  if (!rest) throw bad("no repository name");
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost")) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) throw bad(`registry "${registry}" is not a valid host[:port]`);
  }
  for (const p of parts) {
    if (p !== p.toLowerCase()) throw bad("repository name must be lowercase");
    if (!COMPONENT.test(p)) throw bad(`name component "${p}" may hold only lowercase letters, digits and single separators (. _ __ -)`);
  }
  let repository = parts.join("/");
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) repository = `library/${repository}`;
  if (repository.length + registry.length + 1 > 255) throw bad("name longer than 255 characters");
  if (!tag && !digest) tag = "latest";
  return { registry, repository, tag, digest };
}

/** The short name docker shows: `busybox`, `user/app`, `127.0.0.1:5000/x/y` (no tag or digest). */
export function familiarName(r: Reference): string {
  if (r.registry !== DOCKER_HUB) return `${r.registry}/${r.repository}`;
  return r.repository.startsWith("library/") && r.repository.split("/").length === 2 ? r.repository.slice(8) : r.repository;
}

/** `busybox:1` or `busybox@sha256:…` (the digest wins when both are given). */
export function familiarString(r: Reference): string {
  return r.digest ? `${familiarName(r)}@${r.digest}` : `${familiarName(r)}:${r.tag}`;
}

/** The tag form of a reference, for storing: refuses digests (a tag names a mutable pointer). */
export function tagString(ref: string): string {
  const r = parseReference(ref);
  if (r.digest) throw invalid(`invalid tag "${ref}": a tag cannot carry a digest`);
  return familiarString(r);
}
