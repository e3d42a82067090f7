// What the orchestrator and scheduler need of a service spec, checked before it is stored
// (service create and update), so a bad spec is refused with one line instead of never running.
import { type ServiceSpec } from "../../proto/gen/cluster.js";
import { parseConstraints } from "../scheduler/constraint.js";

export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

const NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9_.-]{0,62})$/;

/** Throws SpecError (one line, saying what to change) or ConstraintError. */
export function validateServiceSpec(spec: ServiceSpec): void {
  const name = spec.annotations?.name ?? "";
  if (!NAME.test(name)) throw new SpecError(`invalid service name "${name}": use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit`);
  if (!spec.task?.container?.image) throw new SpecError(`service ${name} has no image: give one, e.g. busybox`);
  if (!spec.mode) throw new SpecError(`service ${name} has no mode: use replicated or global`);
  parseConstraints(spec.task.placement?.constraints ?? []);
  for (const p of spec.task.placement?.preferences ?? []) {
    const d = p.spread?.spreadDescriptor ?? "";
    if (!/^(node|engine)\.labels\.[^\s]+$/i.test(d)) throw new SpecError(`invalid placement preference "spread=${d}": spread over node.labels.NAME or engine.labels.NAME`);
  }
  const seen = new Set<string>();
  for (const port of spec.endpoint?.ports ?? []) {
    if (port.targetPort < 1 || port.targetPort > 65535) throw new SpecError(`service ${name}: target port ${port.targetPort} is out of range 1-65535`);
    if (port.publishedPort > 65535) throw new SpecError(`service ${name}: published port ${port.publishedPort} is out of range 1-65535`);
    if (port.publishedPort === 0) continue;
    const key = `${port.protocol}/${port.publishedPort}`;
    if (seen.has(key)) throw new SpecError(`service ${name} publishes port ${port.publishedPort} twice: publish each port once`);
    seen.add(key);
  }
  const u = spec.update;
  if (u && (u.maxFailureRatio < 0 || u.maxFailureRatio > 1)) throw new SpecError(`service ${name}: max failure ratio must be between 0 and 1`);
}
