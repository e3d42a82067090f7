import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { NetworkSpec, PortProtocol, PublishMode, TaskState } from "../../../proto/gen/cluster.js";
import { ingressNetworkSpec } from "../../../manager/allocator/networks.js";
import { refused, setup, spec } from "./fixtures.js";

const overlay = (name: string, subnet = "", o: { gateway?: string; driver?: string } = {}) =>
  NetworkSpec.fromPartial({ annotations: { name }, driver: o.driver ?? "", ipam: { configs: subnet ? [{ subnet, gateway: o.gateway ?? "" }] : [] } });

describe("networks", () => {
  it("creates an overlay network (the default driver), and finds it by id, name or id prefix", async () => {
    const ids = ["net111", "svc1"];
    const { api } = await setup({ store: { newId: () => ids.shift() ?? "zzz" } });
    const n = await api.createNetwork({ spec: overlay("front", "10.1.0.0/24") });
    expect(n.id).toBe("net111");
    expect(n.spec?.driver).toBe("overlay");
    expect(n.spec?.ipam?.driver).toBe("default");
    for (const ref of ["net111", "front", "net1"]) expect((await api.getNetwork({ ref })).id).toBe("net111");
    expect((await api.listNetworks({})).networks.map((x) => x.spec?.annotations?.name)).toEqual(["front"]);
  });

  const REFUSED: [string, NetworkSpec, RegExp | string][] = [
    ["no name", overlay(""), "a network needs a name: shoal network create -d overlay NAME"],
    ["a bad name", overlay("-x"), 'invalid network name "-x": use 1-63 letters, digits, "_", "." or "-", starting with a letter or digit'],
    ["another driver", overlay("br", "", { driver: "bridge" }), "network br: driver bridge is not supported: use -d overlay"],
    ["host bits in the subnet", overlay("a", "10.1.0.1/24"), "network a: subnet 10.1.0.1/24 has host bits set: use 10.1.0.0/24"],
    ["a gateway outside the subnet", overlay("a", "10.1.0.0/24", { gateway: "10.2.0.1" }), "network a: gateway 10.2.0.1 is not a host address of 10.1.0.0/24"],
    ["a subnet overlapping another network's", overlay("b", "10.1.0.128/25"), "network b: subnet 10.1.0.128/25 overlaps 10.1.0.0/24 of network front: pick another subnet"],
    ["a taken name", overlay("front"), "network with name front already exists: pick another name"],
  ];
  for (const [what, s, message] of REFUSED) {
    it(`refuses ${what}, writing nothing`, async () => {
      const { store, api } = await setup();
      await api.createNetwork({ spec: overlay("front", "10.1.0.0/24") });
      await refused(store, () => api.createNetwork({ spec: s }), what === "a taken name" ? status.ALREADY_EXISTS : status.INVALID_ARGUMENT, message);
    });
  }

  it("refuses a second ingress network", async () => {
    const { store, api } = await setup();
    await api.createNetwork({ spec: ingressNetworkSpec() });
    await refused(store, () => api.createNetwork({ spec: { ...ingressNetworkSpec("10.99.0.0/16"), annotations: { name: "mesh2", labels: {} } } }), status.INVALID_ARGUMENT, "network mesh2: the swarm already has an ingress network: remove it first");
  });

  it("refuses to remove a network a service is attached to, or the ingress network while a service publishes through it; removes it once unused", async () => {
    const { store, api } = await setup();
    await api.createNetwork({ spec: ingressNetworkSpec() });
    const front = await api.createNetwork({ spec: overlay("front") });
    const web = await api.createService({ spec: spec("web", (s) => (s.task!.networks = [{ target: "front", aliases: [] }])) });
    expect(web.spec?.task?.networks[0].target).toBe(front.id);
    await api.createService({ spec: spec("pub", (s) => (s.endpoint = { mode: 0, ports: [{ name: "", protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS }] })) });
    await refused(store, () => api.removeNetwork({ ref: "front" }), status.FAILED_PRECONDITION, "network front is in use: service web is attached to it: remove the service or its --network first");
    await refused(store, () => api.removeNetwork({ ref: "ingress" }), status.FAILED_PRECONDITION, "network ingress is in use: service pub publishes ports through the routing mesh on it: remove the service or its --publish first");
    await api.removeService({ ref: "web" });
    // A task still holding an address on it keeps it.
    await store.update((tx) => tx.create("task", { id: "", serviceId: web.id, slot: 1, nodeId: "n1", desiredState: TaskState.TASK_STATE_SHUTDOWN, specVersion: 1, status: { state: TaskState.TASK_STATE_RUNNING, timestamp: 0, message: "", err: "", pendingReason: "", restartNotBefore: 0 }, networks: [{ networkId: front.id, addresses: ["10.1.0.2/24"], aliases: [] }], assignedGenericResources: [], annotations: { name: "web.1", labels: {} } }));
    await refused(store, () => api.removeNetwork({ ref: "front" }), status.FAILED_PRECONDITION, "network front is in use: task web.1 still has an address on it: wait until it has stopped");
    await store.update((tx) => {
      const t = tx.find("task")[0];
      tx.update("task", { ...t, status: { ...t.status!, state: TaskState.TASK_STATE_SHUTDOWN } });
    });
    await api.removeNetwork({ ref: "front" });
    await refused(store, () => api.getNetwork({ ref: "front" }), status.NOT_FOUND, "no such network: front");
  });
});
