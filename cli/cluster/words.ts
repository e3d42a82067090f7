// The words docker prints for cluster objects: enum values as lower-case words ("running",
// "drain", "on-failure"), capitalised the way docker's formatter does, short ids and images.
import {
  endpointModeToJSON, mount_TypeToJSON, nodeAvailabilityToJSON, nodeRoleToJSON, nodeStateToJSON, portProtocolToJSON, publishModeToJSON, reachabilityToJSON,
  restartConditionToJSON, taskStateToJSON, updateFailureActionToJSON, updateOrderToJSON, updateStateToJSON,
  type EndpointMode, type Mount_Type, type NodeAvailability, type NodeRole, type NodeState, type PortProtocol, type PublishMode, type Reachability,
  type RestartCondition, type TaskState, type UpdateFailureAction, type UpdateOrder, type UpdateState,
} from "../../proto/gen/cluster.js";

/** "TASK_STATE_RUNNING" → "running"; "RESTART_CONDITION_ON_FAILURE" → "on-failure". */
const word = (json: string, prefix: string): string => json.slice(prefix.length).toLowerCase().replace(/_/g, "-");

export const taskStateWord = (s: TaskState) => word(taskStateToJSON(s), "TASK_STATE_");
export const nodeStateWord = (s: NodeState) => word(nodeStateToJSON(s), "NODE_STATE_");
export const availabilityWord = (a: NodeAvailability) => word(nodeAvailabilityToJSON(a), "NODE_AVAILABILITY_");
export const roleWord = (r: NodeRole) => word(nodeRoleToJSON(r), "NODE_ROLE_");
export const reachabilityWord = (r: Reachability) => word(reachabilityToJSON(r), "REACHABILITY_");
export const restartConditionWord = (c: RestartCondition) => word(restartConditionToJSON(c), "RESTART_CONDITION_");
export const failureActionWord = (a: UpdateFailureAction) => word(updateFailureActionToJSON(a), "UPDATE_FAILURE_ACTION_");
export const orderWord = (o: UpdateOrder) => word(updateOrderToJSON(o), "UPDATE_ORDER_");
export const mountTypeWord = (t: Mount_Type) => word(mount_TypeToJSON(t), "");
export const endpointModeWord = (m: EndpointMode) => word(endpointModeToJSON(m), "ENDPOINT_MODE_");
export const protocolWord = (p: PortProtocol) => word(portProtocolToJSON(p), "PORT_PROTOCOL_");
export const publishModeWord = (m: PublishMode) => word(publishModeToJSON(m), "PUBLISH_MODE_");
/** "rollback_started" as docker spells update states. */
export const updateStateWord = (s: UpdateState) => word(updateStateToJSON(s), "UPDATE_STATE_").replace(/-/g, "_");

/** Docker's PrettyPrint: first letter upper case, the rest lower ("Ready", "Drain"). */
export function pretty(s: string): string {
  return s.length <= 1 ? s.toLowerCase() : s[0].toUpperCase() + s.slice(1).toLowerCase();
}

/** Ids as docker's tables show them: the first 12 characters. */
export const shortId = (id: string) => id.slice(0, 12);

/** An image for a table: a digest after a tag is dropped ("busybox:1@sha256:…" → "busybox:1"). */
export function shortImage(image: string): string {
  const at = image.indexOf("@");
  if (at < 0) return image;
  const name = image.slice(0, at);
  return /:[^/]+$/.test(name) ? name : image;
}

/** Docker's Ellipsis: at most `max` characters, the last one "…" when cut. */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join("") + "…";
}

/** "node-2" before "node-10", as docker sorts names. */
export const naturalCompare: (a: string, b: string) => number = new Intl.Collator("en", { numeric: true }).compare;

/** "a", "a or b", "a, b or c". */
export function orList(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}
