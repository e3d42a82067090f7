// `npm run bench -- network`: the overlay data plane between two hosts (network namespaces on a
// switch, each running the real data plane fed by the real allocator and network views), with
// two containers on it, against the same two containers' namespaces joined directly by a veth:
// - TCP throughput container to container, overlay vs direct veth (overlay_ratio);
// - HTTP request latency, a new connection each, to the service's VIP vs to the task's address
//   (the cost of the load balancer's DNAT) and over the direct veth;
// - DNS answer latency inside a container from the node's DNS server, vs a DNS server that
//   answers every query from memory at once, on the same address of the same node (the floor).
// Docker's overlay is not run beside it: its VIP needs IPVS, which this kernel lacks.
import { join } from "node:path";
import { NodeNetwork, Task, TaskState } from "../proto/gen/cluster.js";
import { NetworkViews } from "../manager/allocator/netviews.js";
import { addressOf, AllocCluster } from "../test/unit/allocator/cluster.js";
import { NetLab, sh } from "../test/integration/network/netlab.js";

const PROBE = join(process.cwd(), "dist/bench/netprobe.js");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 3) => Number(x.toFixed(d));
const bare = (cidr: string | undefined) => cidr?.split("/")[0] ?? "";

export async function main(args: string[]): Promise<void> {
  const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  const lab = new NetLab(2);
  try {
    const c = new AllocCluster();
    await c.ingress();
    const front = await c.network("front");
    const [h1, h2] = lab.hosts;
    await c.node("n1", `${h1.ip}:2377`);
    await c.node("n2", `${h2.ip}:2377`);
    const web = await c.service("web", { networks: [front] });
    const client = await c.service("client", { networks: [front] });
    const webTask = await c.task(web, 1);
    const clientTask = await c.task(client, 1);
    await c.pass();
    await c.pass();
    const push = async () => {
      const views = c.store.view((tx) => NetworkViews.build(tx));
      for (const [h, id] of [[h1, "n1"], [h2, "n2"]] as const) await h.agent.call("apply", views.forNode(id).map((n) => NodeNetwork.toJSON(n)));
    };
    for (const h of lab.hosts) await lab.open(h);
    const ns = new Map<string, string>();
    for (const [id, h, node, name] of [[webTask, h2, "n2", "web"], [clientTask, h1, "n1", "client"]] as const) {
      await c.advance(id, TaskState.TASK_STATE_ASSIGNED, node);
      await push();
      const netns = lab.container(name);
      await h.agent.call("attach", lab.netnsPath(netns), Task.toJSON(c.get("task", id)), 0);
      await c.advance(id, TaskState.TASK_STATE_RUNNING);
      ns.set(name, netns);
    }
    await push();
    const [webNs, clientNs] = [ns.get("web")!, ns.get("client")!];
    // The same two namespaces joined directly: the baseline.
    for (const cmd of [["ip", "link", "add", "vb0", "netns", clientNs, "type", "veth", "peer", "name", "vb1", "netns", webNs], ["ip", "-n", clientNs, "addr", "add", "198.19.255.1/30", "dev", "vb0"], ["ip", "-n", webNs, "addr", "add", "198.19.255.2/30", "dev", "vb1"], ["ip", "-n", clientNs, "link", "set", "vb0", "up"], ["ip", "-n", webNs, "link", "set", "vb1", "up"]]) {
      const r = sh(cmd);
      if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.err.trim()}`);
    }
    lab.spawn(webNs, [process.execPath, PROBE, "serve"], join(lab.dir, "serve.log"));
    const gateway = bare(c.get("network", front).ipam!.configs[0].gateway);
    lab.spawn(h1.netns, [process.execPath, PROBE, "dns-floor", gateway, "5353"], join(lab.dir, "floor.log"));
    const webIp = bare(addressOf(c.get("task", webTask), front));
    const vip = bare(c.get("service", web).endpoint!.virtualIps[0].addr);
    const direct = "198.19.255.2";
    const probe = <T>(...a: string[]): T => {
      const r = lab.exec(clientNs, [process.execPath, PROBE, ...a]);
      if (r.code !== 0) throw new Error(`netprobe ${a.join(" ")}: ${r.err.trim() || `exit ${r.code}`}`);
      return JSON.parse(r.out.trim().split("\n").at(-1)!) as T;
    };
    for (let i = 0; lab.get(clientNs, `http://${webIp}/`) !== "ok"; i++) {
      if (i > 100) throw new Error("the bench's server in the web container did not come up");
      await new Promise((r) => setTimeout(r, 100));
    }

    // The client's host sends the tunnel's packets on its underlay eth0: bytes per packet there
    // tell whether the overlay keeps TCP's 64 KiB segments whole through the VXLAN (GSO) or cuts
    // them to its 1450-byte MTU.
    const underlayTx = (): [number, number] => {
      const r = sh(["ip", "-n", h1.netns, "-s", "-j", "link", "show", "eth0"]);
      const tx = (JSON.parse(r.out) as { stats64: { tx: { bytes: number; packets: number } } }[])[0].stats64.tx;
      return [tx.bytes, tx.packets];
    };
    const overlay: number[] = [];
    const veth: number[] = [];
    let [sent, packets] = [0, 0];
    for (let i = 0; i < rounds; i++) {
      const before = underlayTx();
      overlay.push(probe<{ bytesPerSec: number }>("tcp", webIp, "2").bytesPerSec);
      const after = underlayTx();
      sent += after[0] - before[0];
      packets += after[1] - before[1];
      veth.push(probe<{ bytesPerSec: number }>("tcp", direct, "2").bytesPerSec);
    }
    const http = (host: string) => probe<{ p50: number; p99: number }>("http", host, "500");
    probe("http", vip, "50"); // warm up
    const viaVip = http(vip);
    const viaTask = http(webIp);
    const viaVeth = http(direct);
    probe("dns", gateway, "53", "web", "100");
    const dns = probe<{ p50: number; p99: number }>("dns", gateway, "53", "web", "2000");
    const floor = probe<{ p50: number; p99: number }>("dns", gateway, "5353", "web", "2000");

    const gbps = (b: number) => (b * 8) / 1e9;
    const f = {
      overlay_gbps: round(gbps(median(overlay))),
      veth_gbps: round(gbps(median(veth))),
      overlay_ratio: round(median(overlay) / median(veth)),
      underlay_bytes_per_packet: Math.round(sent / Math.max(1, packets)),
      vip_http_p50_ms: round(viaVip.p50),
      task_http_p50_ms: round(viaTask.p50),
      veth_http_p50_ms: round(viaVeth.p50),
      vip_over_task_p50: round(viaVip.p50 / viaTask.p50),
      overlay_over_veth_http_p50: round(viaTask.p50 / viaVeth.p50),
      dns_p50_ms: round(dns.p50),
      dns_p99_ms: round(dns.p99),
      dns_floor_p50_ms: round(floor.p50),
      dns_floor_p99_ms: round(floor.p99),
      dns_p99_over_floor: round(dns.p99 / floor.p99),
    };
    console.log(`TCP, container to container on two hosts: overlay ${f.overlay_gbps} Gbit/s, direct veth ${f.veth_gbps} Gbit/s (ratio ${f.overlay_ratio}; medians of ${rounds} × 2 s); ${f.underlay_bytes_per_packet} bytes per packet on the underlay`);
    console.log(`HTTP GET, new connection each (p50): VIP ${f.vip_http_p50_ms} ms, task address ${f.task_http_p50_ms} ms, direct veth ${f.veth_http_p50_ms} ms`);
    console.log(`DNS answer inside a container: p50 ${f.dns_p50_ms} ms, p99 ${f.dns_p99_ms} ms; a server answering from memory on the same address: p50 ${f.dns_floor_p50_ms} ms, p99 ${f.dns_floor_p99_ms} ms`);
    console.log(JSON.stringify(f));
  } finally {
    await lab.cleanup();
  }
}
