// One flag value each, as `docker service` reads them: numbers, choices, published ports,
// mounts, networks, labels, placement. Each refusal is one line naming the flag.
import { split } from "shlex";
import {
  Mount_Type, PortProtocol, PublishMode,
  type Mount, type NetworkAttachmentConfig, type PlacementPreference, type PortConfig,
} from "../../proto/gen/cluster.js";
import { parseConstraint } from "../../manager/scheduler/constraint.js";
import { CliError } from "../errors.js";
import { orList } from "./words.js";

const refuse = (flag: string, value: string, why: string) => new CliError(`invalid ${flag} ${value}: ${why}`, 125);

/** A count such as --replicas or --update-parallelism. */
export function wholeNumber(value: string, flag: string, min = 0): number {
  const s = value.trim();
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) throw refuse(flag, value, `use a whole number of at least ${min}`);
  return n;
}

/** CPUs as a decimal (0.5) → nano CPUs; 0 clears a limit or reservation. */
export function cpus(value: string, flag: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw refuse(flag, value, "use a number of CPUs such as 0.5 or 2");
  return Math.round(n * 1e9);
}

/** A fraction between 0 and 1, such as --update-max-failure-ratio. */
export function ratio(value: string, flag: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw refuse(flag, value, "use a number between 0 and 1, such as 0.2");
  return n;
}

/** One of a few words (case-insensitive), e.g. --update-order stop-first|start-first. */
export function choice<T>(value: string, flag: string, choices: Readonly<Record<string, T>>): T {
  const v = Object.hasOwn(choices, value.toLowerCase()) ? choices[value.toLowerCase()] : undefined;
  if (v === undefined) throw refuse(flag, value, `use ${orList(Object.keys(choices))}`);
  return v;
}

/** `KEY=VALUE` or `KEY` (an empty value), as labels take. */
export function keyValue(value: string, flag: string): [string, string] {
  const eq = value.indexOf("=");
  const key = eq < 0 ? value : value.slice(0, eq);
  if (!key.trim()) throw refuse(flag, value, "use KEY=VALUE");
  return [key, eq < 0 ? "" : value.slice(eq + 1)];
}

/** A command line as one string ("sh -c 'echo hi'"), split as a POSIX shell would. */
export function words(value: string, flag: string): string[] {
  try {
    return split(value);
  } catch (err) {
    throw refuse(flag, JSON.stringify(value), `${(err as Error).message}; quote it as a shell would`);
  }
}

/** `node.labels.zone==east`, checked with the scheduler's own parser. */
export function constraint(value: string, flag: string): string {
  try {
    parseConstraint(value);
  } catch (err) {
    throw new CliError((err as Error).message.replace(/^invalid constraint/, `invalid ${flag}`), 125);
  }
  return value.trim();
}

/** `spread=node.labels.zone`. */
export function placementPref(value: string, flag: string): PlacementPreference {
  const m = /^spread=((?:node|engine)\.labels\.\S+)$/.exec(value.trim());
  if (!m) throw refuse(flag, value, "use spread=node.labels.NAME (or engine.labels.NAME)");
  return { spread: { spreadDescriptor: m[1] } };
}

const PROTOCOLS = { tcp: PortProtocol.PORT_PROTOCOL_TCP, udp: PortProtocol.PORT_PROTOCOL_UDP, sctp: PortProtocol.PORT_PROTOCOL_SCTP };
const PUBLISH_MODES = { ingress: PublishMode.PUBLISH_MODE_INGRESS, host: PublishMode.PUBLISH_MODE_HOST };

function port(value: string, flag: string, whole: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw refuse(flag, whole, `port ${value} is not a number from 1 to 65535`);
  return n;
}

function portRange(value: string, flag: string, whole: string): number[] {
  const [a, b] = value.split("-");
  const from = port(a, flag, whole);
  const to = b === undefined ? from : port(b, flag, whole);
  if (to < from) throw refuse(flag, whole, `the range ${value} ends before it starts`);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * `8080:80`, `8080:80/udp`, `80` (the published port chosen by the cluster), ranges `8000-8001:80-81`,
 * or `published=8080,target=80,protocol=tcp,mode=host`.
 */
export function publish(value: string, flag = "--publish"): PortConfig[] {
  const v = value.trim();
  if (v.includes("=")) {
    const p: PortConfig = { name: "", protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 0, publishedPort: 0, publishMode: PublishMode.PUBLISH_MODE_INGRESS };
    for (const field of v.split(",")) {
      const eq = field.indexOf("=");
      const key = field.slice(0, eq).trim().toLowerCase();
      const val = field.slice(eq + 1).trim();
      if (eq < 0 || !key) throw refuse(flag, value, `field "${field}" is not KEY=VALUE`);
      if (key === "target") p.targetPort = port(val, flag, value);
      else if (key === "published") p.publishedPort = port(val, flag, value);
      else if (key === "protocol") p.protocol = choice(val, `${flag} protocol`, PROTOCOLS);
      else if (key === "mode") p.publishMode = choice(val, `${flag} mode`, PUBLISH_MODES);
      else throw refuse(flag, value, `unknown field "${key}": use published, target, protocol or mode`);
    }
    if (p.targetPort === 0) throw refuse(flag, value, "give the container's port as target=PORT");
    return [p];
  }
  const m = /^(?:([\d-]+):)?([\d-]+)(?:\/(\w+))?$/.exec(v);
  if (!m) {
    const why = /^[^:]+:[^:]+:/.test(v) ? "a host IP cannot be given: published ports answer on every node" : "use PUBLISHED:TARGET[/PROTOCOL] such as 8080:80, or published=8080,target=80";
    throw refuse(flag, value, why);
  }
  const protocol = m[3] === undefined ? PortProtocol.PORT_PROTOCOL_TCP : choice(m[3], `${flag} protocol`, PROTOCOLS);
  const targets = portRange(m[2], flag, value);
  const published = m[1] === undefined ? targets.map(() => 0) : portRange(m[1], flag, value);
  if (targets.length > 1 && published.length !== targets.length && m[1] !== undefined) {
    throw refuse(flag, value, "the published and target ranges must be the same length");
  }
  // One target and a range of published ports: each published port leads to that target.
  const pairs = targets.length === 1 ? published.map((pub) => [pub, targets[0]]) : targets.map((t, i) => [published[i], t]);
  return pairs.map(([publishedPort, targetPort]) => ({ name: "", protocol, targetPort, publishedPort, publishMode: PublishMode.PUBLISH_MODE_INGRESS }));
}

const MOUNT_TYPES = { bind: Mount_Type.BIND, volume: Mount_Type.VOLUME, tmpfs: Mount_Type.TMPFS };

/** `type=bind|volume|tmpfs,source=…,target=…,readonly` (docker's --mount; type defaults to volume). */
export function mount(value: string, flag = "--mount"): Mount {
  const m: Mount = { type: Mount_Type.VOLUME, source: "", target: "", readOnly: false };
  for (const field of value.split(",")) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? undefined : field.slice(eq + 1).trim();
    if (key === "readonly" || key === "ro") {
      const on = val === undefined ? true : ({ true: true, "1": true, false: false, "0": false } as Record<string, boolean>)[val.toLowerCase()];
      if (on === undefined) throw refuse(flag, value, `readonly is true or false, not "${val}"`);
      m.readOnly = on;
      continue;
    }
    if (val === undefined) throw refuse(flag, value, `field "${field}" is not KEY=VALUE: write type=bind|volume|tmpfs,source=SRC,target=/DST`);
    if (key === "type") m.type = choice(val, `${flag} type`, MOUNT_TYPES);
    else if (key === "source" || key === "src") m.source = val;
    else if (key === "target" || key === "dst" || key === "destination") m.target = val;
    else throw refuse(flag, value, `unknown field "${key}": use type, source, target or readonly`);
  }
  if (!m.target.startsWith("/")) throw refuse(flag, value, "give an absolute target path inside the container, e.g. target=/data");
  if (m.type === Mount_Type.BIND && !m.source.startsWith("/")) throw refuse(flag, value, "a bind mount needs an absolute source path on the node, e.g. source=/srv/data");
  if (m.type === Mount_Type.TMPFS && m.source) throw refuse(flag, value, "a tmpfs mount takes no source");
  if (m.type === Mount_Type.VOLUME && m.source && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(m.source)) {
    throw refuse(flag, value, `volume name "${m.source}" may hold only letters, digits, "_", "." and "-"`);
  }
  return m;
}

/** `NAME` or `name=NAME,alias=A,alias=B`. */
export function network(value: string, flag = "--network"): NetworkAttachmentConfig {
  const v = value.trim();
  if (!v.includes("=")) {
    if (!v || v.includes(",")) throw refuse(flag, value, "give a network name, or name=NAME,alias=ALIAS");
    return { target: v, aliases: [] };
  }
  const n: NetworkAttachmentConfig = { target: "", aliases: [] };
  for (const field of v.split(",")) {
    const [key, val] = keyValue(field, flag);
    if (key === "name" || key === "target") n.target = val;
    else if (key === "alias") n.aliases.push(val);
    else throw refuse(flag, value, `unknown field "${key}": use name or alias`);
  }
  if (!n.target) throw refuse(flag, value, "give the network as name=NAME");
  return n;
}

/** `service scale web=6`. */
export function scaleSpec(arg: string): { name: string; replicas: number } {
  const eq = arg.indexOf("=");
  if (eq <= 0 || eq === arg.length - 1) throw new CliError(`invalid scale specifier ${arg}: use SERVICE=REPLICAS, e.g. web=6`, 125);
  const replicas = arg.slice(eq + 1);
  if (!/^\d+$/.test(replicas) || !Number.isSafeInteger(Number(replicas))) throw new CliError(`invalid scale specifier ${arg}: replicas must be a whole number of at least 0`, 125);
  return { name: arg.slice(0, eq), replicas: Number(replicas) };
}
