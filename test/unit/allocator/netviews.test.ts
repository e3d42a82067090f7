import { expect, test } from "vitest";
import { EndpointMode, TaskState } from "../../../proto/gen/cluster.js";
import { NetworkViews } from "../../../manager/allocator/netviews.js";
import { addressOf, AllocCluster } from "./cluster.js";

const bare = (cidr: string | undefined) => cidr?.split("/")[0] ?? "";

async function cluster() {
  const c = new AllocCluster();
  const ingress = await c.ingress("10.0.0.0/24");
  const app = await c.network("app");
  await c.node("n1", "192.0.2.1:2377");
  await c.node("n2", "192.0.2.2:2377");
  await c.node("n3", "192.0.2.3:2377");
  const web = await c.service("web", { networks: [app], replicas: 2, mesh: [[30080, 80]], aliases: ["www"] });
  const t1 = await c.task(web, 1);
  const t2 = await c.task(web, 2);
  await c.pass();
  await c.pass();
  await c.advance(t1, TaskState.TASK_STATE_RUNNING, "n1");
  await c.advance(t2, TaskState.TASK_STATE_ASSIGNED, "n2");
  return { c, ingress, app, web, t1, t2 };
}

test("a node is told of the networks its tasks are on, and of ingress; peers are the endpoints on other nodes", async () => {
  const { c, ingress, app, t1, t2 } = await cluster();
  const views = c.store.view((tx) => NetworkViews.build(tx));
  const n1 = views.forNode("n1");
  expect(n1.map((n) => n.networkId).sort()).toEqual([app, ingress].sort());
  const onApp = n1.find((n) => n.networkId === app)!;
  expect(onApp).toMatchObject({ vni: c.get("network", app).driverState!.vni, subnet: "10.0.1.0/24", bridgeAddress: "10.0.1.1/24", ingress: false });
  // t2 is on n2 (assigned: its frames must already find it); t1 is n1's own.
  const t2ip = bare(addressOf(c.get("task", t2), app));
  expect(onApp.peers).toEqual([{ nodeIp: "192.0.2.2", ip: t2ip, mac: `02:42:${t2ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0")).join(":")}`, node: false }]);
  // Ingress: this node's own address on the bridge; the other nodes' addresses are peers marked node.
  const onIngress = n1.find((n) => n.networkId === ingress)!;
  expect(onIngress.bridgeAddress).toBe(c.get("node", "n1").attachments!.networks[0].addresses[0]);
  expect(onIngress.peers.filter((p) => p.node).map((p) => p.nodeIp).sort()).toEqual(["192.0.2.2", "192.0.2.3"]);
  expect(onIngress.peers.filter((p) => !p.node).map((p) => p.ip)).toEqual([bare(addressOf(c.get("task", t2), ingress))]);
  // A node with no task has only ingress: the mesh tasks elsewhere as peers, not the other nodes
  // (only a node running a mesh task sends replies back through the node that took them).
  const n3 = views.forNode("n3");
  expect(n3.map((n) => n.networkId)).toEqual([ingress]);
  expect(n3[0].peers.filter((p) => p.node)).toEqual([]);
  expect(n3[0].peers.map((p) => p.ip).sort()).toEqual([bare(addressOf(c.get("task", t1), ingress)), bare(addressOf(c.get("task", t2), ingress))].sort());
});

test("services carry their VIP, aliases and running tasks on each network; ingress carries the published ports", async () => {
  const { c, ingress, app, web, t1 } = await cluster();
  const views = c.store.view((tx) => NetworkViews.build(tx));
  const n3 = views.forNode("n3");
  const n1 = views.forNode("n1");
  const rec = n1.find((n) => n.networkId === app)!.services.find((s) => s.serviceId === web)!;
  expect(rec).toMatchObject({ name: "web", mode: EndpointMode.ENDPOINT_MODE_VIP, vip: bare(c.get("service", web).endpoint!.virtualIps[0].addr), aliases: ["www"] });
  // Only t1 runs: t2 is merely assigned, so it answers no DNS and takes no traffic yet.
  expect(rec.tasks).toEqual([{ taskId: t1, name: "web.1", ip: bare(addressOf(c.get("task", t1), app)) }]);
  const mesh = n3[0].services.find((s) => s.serviceId === web)!;
  expect(n3[0].networkId).toBe(ingress);
  expect(mesh.ports.map((p) => [p.publishedPort, p.targetPort])).toEqual([[30080, 80]]);
  expect(mesh.tasks.map((t) => t.ip)).toEqual([bare(addressOf(c.get("task", t1), ingress))]);

  // Told to stop: out of the records at once, though still a peer until it has ended.
  await c.store.update((tx) => tx.update("task", { ...tx.get("task", t1)!, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
  const later = c.store.view((tx) => NetworkViews.build(tx));
  expect(later.forNode("n2").find((n) => n.networkId === app)!.services[0].tasks).toEqual([]);
  expect(later.forNode("n2").find((n) => n.networkId === app)!.peers.map((p) => p.ip)).toEqual([bare(addressOf(c.get("task", t1), app))]);
});
