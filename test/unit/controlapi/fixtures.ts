// Builders for Control API tests: a store with a cluster, specs, and a check that a refused call
// answered one line with its status and wrote nothing.
import { expect } from "vitest";
import type { status } from "@grpc/grpc-js";
import { type Node, ServiceSpec } from "../../../proto/gen/cluster.js";
import { makeJoinToken } from "../../../manager/ca/tokens.js";
import { ControlApi, type ControlApiOptions } from "../../../manager/controlapi/api.js";
import { ControlError } from "../../../manager/controlapi/errors.js";
import { MemoryStore, type MemoryStoreOptions } from "../../../manager/store/memory.js";

export const NOW = 1_700_000_000_000;

export function spec(name: string, edit?: (s: ServiceSpec) => void): ServiceSpec {
  const s = ServiceSpec.fromPartial({ annotations: { name }, task: { container: { image: "busybox:1" } }, mode: { $case: "replicated", value: { replicas: 1 } } });
  edit?.(s);
  return s;
}

export async function setup(o: { store?: MemoryStoreOptions; api?: ControlApiOptions; nodes?: Node[] } = {}): Promise<{ store: MemoryStore; api: ControlApi }> {
  const store = new MemoryStore({ now: () => NOW, ...o.store });
  await store.update((tx) => {
    tx.create("cluster", { id: "cluster1", spec: { annotations: { name: "default", labels: {} } }, joinTokens: { worker: makeJoinToken("cluster1"), manager: makeJoinToken("cluster1") } });
    for (const n of o.nodes ?? []) tx.create("node", n);
  });
  return { store, api: new ControlApi(store, { now: () => NOW, ...o.api }) };
}

/** The call fails with `code` and exactly `message` (one line), and the store did not move. */
export async function refused(store: MemoryStore, call: () => Promise<unknown>, code: status, message: string | RegExp): Promise<void> {
  const before = store.version;
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "the call should have been refused").toBeInstanceOf(ControlError);
  const e = err as ControlError;
  expect(e.message).not.toContain("\n");
  if (typeof message === "string") expect(e.message).toBe(message);
  else expect(e.message).toMatch(message);
  expect(e.code).toBe(code);
  expect(store.version, "a refused call must write nothing").toBe(before);
}
