// One "host" of the network tests: runs inside the host's network namespace (started with
// `ip netns exec`, as a lab host's daemon is) and drives the real OverlayDataPlane there, one
// JSON request per stdin line, one JSON reply per stdout line. It can also serve a small DNS
// zone on loopback, standing in for the host's own resolver that names are forwarded to.
import { createSocket } from "node:dgram";
import { createInterface } from "node:readline";
import dnsPacket from "dns-packet";
import { NodeNetwork, type PortConfig, Task } from "../../../proto/gen/cluster.js";
import { OverlayDataPlane, type DataPlaneOptions } from "../../../agent/network/overlay/dataplane.js";

let dp: OverlayDataPlane | undefined;
const plane = (): OverlayDataPlane => {
  if (!dp) throw new Error("open the data plane first");
  return dp;
};

/** Answers A queries for the names given, NXDOMAIN for the rest. */
function serveZone(port: number, zone: Record<string, string>): Promise<void> {
  const sock = createSocket("udp4");
  sock.on("message", (msg, from) => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? "";
    const ip = zone[name.toLowerCase()];
    const reply = dnsPacket.encode({
      type: "response",
      id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (ip ? 0 : 3),
      questions: q.questions,
      answers: ip && q.questions?.[0]?.type === "A" ? [{ type: "A", name, ttl: 60, data: ip }] : [],
    });
    sock.send(reply, from.port, from.address);
  });
  return new Promise((resolve) => sock.bind(port, "127.0.0.1", () => resolve()));
}

const ops: Record<string, (...args: never[]) => Promise<unknown>> = {
  open: async (o: DataPlaneOptions) => void (dp = await OverlayDataPlane.open(o)),
  apply: (networks: unknown[]) => plane().apply(networks.map((n) => NodeNetwork.fromJSON(n))),
  attach: (netnsPath: string, task: unknown, first: number) => plane().attach(netnsPath, Task.fromJSON(task), first),
  detach: (taskId: string) => plane().detach(taskId),
  deactivate: (taskId: string) => plane().deactivate(taskId),
  activate: (taskId: string) => plane().activate(taskId),
  publishHost: (taskId: string, ports: PortConfig[]) => plane().publishHost(taskId, ports),
  retain: (taskIds: string[]) => plane().retain(new Set(taskIds)),
  close: () => plane().close(),
  destroy: () => plane().destroy(),
  serveZone: (port: number, zone: Record<string, string>) => serveZone(port, zone),
};

const out = (m: unknown) => process.stdout.write(JSON.stringify(m) + "\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, op, args } = JSON.parse(line) as { id: number; op: string; args: never[] };
  const fn = ops[op];
  if (!fn) return out({ id, error: `unknown op ${op}` });
  fn(...args).then(
    (result) => out({ id, result: result ?? null }),
    (e: Error) => out({ id, error: e.message }),
  );
});
process.stdin.on("end", () => process.exit(0));
