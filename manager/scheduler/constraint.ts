// Placement constraints ("node.labels.zone==east", "node.role!=manager"): parsed once, matched
// against nodes. The parser also refuses bad specs at service create.
import { NodeRole, type Node } from "../../proto/gen/cluster.js";

export interface Constraint {
  key: string;
  op: "==" | "!=";
  value: string;
}

export class ConstraintError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConstraintError";
  }
}

const FIXED_KEYS = ["node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch"];
const LABEL_PREFIXES = ["node.labels.", "engine.labels."];

export function parseConstraint(text: string): Constraint {
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.+?)\s*$/.exec(text);
  if (!m) throw new ConstraintError(`invalid constraint "${text}": write KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east`);
  const [, key, op, value] = m;
  if (/[=!]/.test(value)) throw new ConstraintError(`invalid constraint "${text}": the value cannot contain "=" or "!"`);
  const k = key.toLowerCase();
  const label = LABEL_PREFIXES.find((p) => k.startsWith(p));
  if (label && key.length === label.length) throw new ConstraintError(`invalid constraint "${text}": name the label after "${label}"`);
  if (!label && !FIXED_KEYS.includes(k)) {
    throw new ConstraintError(`invalid constraint "${text}": unknown key "${key}"; use ${FIXED_KEYS.join(", ")}, node.labels.NAME or engine.labels.NAME`);
  }
  if (k === "node.role" && !["manager", "worker"].includes(value.toLowerCase())) {
    throw new ConstraintError(`invalid constraint "${text}": node.role is manager or worker`);
  }
  // Label names keep their case; the fixed keys do not have any.
  return { key: label ? label + key.slice(label.length) : k, op: op as Constraint["op"], value };
}

export function parseConstraints(texts: readonly string[]): Constraint[] {
  return texts.map(parseConstraint);
}

function nodeValue(node: Node, key: string): string | undefined {
  switch (key) {
    case "node.id":
      return node.id;
    case "node.hostname":
      return node.description?.hostname;
    case "node.role":
      return node.spec?.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker";
    case "node.platform.os":
      return node.description?.platform?.os;
    case "node.platform.arch":
      return node.description?.platform?.architecture;
  }
  if (key.startsWith("node.labels.")) return node.spec?.annotations?.labels[key.slice("node.labels.".length)];
  if (key.startsWith("engine.labels.")) return node.description?.engine?.labels[key.slice("engine.labels.".length)];
  return undefined;
}

/** Values compare case-insensitively; a missing label fails == and passes !=. */
export function satisfies(node: Node, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) {
    const v = nodeValue(node, c.key);
    const equal = v !== undefined && v.toLowerCase() === c.value.toLowerCase();
    if (equal !== (c.op === "==")) return false;
  }
  return true;
}

/** The value a placement preference spreads over (e.g. "node.labels.zone"); "" when absent. */
export function spreadValue(node: Node, descriptor: string): string {
  const k = descriptor.toLowerCase();
  const label = LABEL_PREFIXES.find((p) => k.startsWith(p));
  return nodeValue(node, label ? label + descriptor.slice(label.length) : k) ?? "";
}
