import { describe, expect, it } from "vitest";
import { Network } from "../../../proto/gen/cluster.js";
import { networkJson, networkTable } from "../../../cli/cluster/networks.js";
import { resolvConfWith } from "../../../agent/network/etcfiles.js";
import { NOW } from "./fixtures.js";

const net = (id: string, name: string, o: { ingress?: boolean; vni?: number; subnet?: string } = {}) =>
  Network.fromPartial({
    id,
    meta: { createdAt: NOW },
    spec: { annotations: { name, labels: { team: "a" } }, driver: "overlay", ipam: { driver: "default", configs: [] }, ingress: !!o.ingress },
    driverState: o.vni ? { name: "overlay", vni: o.vni } : undefined,
    ipam: o.subnet ? { driver: "default", configs: [{ subnet: o.subnet, gateway: o.subnet.replace(/0\/\d+$/, "1") }] } : undefined,
  });

describe("network ls", () => {
  it("lists by name with docker's columns, ids cut to 12 unless --no-trunc", () => {
    const nets = [net("zzz0123456789abcdefghijkl", "front"), net("abc0123456789abcdefghijkl", "ingress", { ingress: true })];
    expect(networkTable(nets).trimEnd().split("\n")).toEqual([
      "NETWORK ID     NAME      DRIVER    SCOPE",
      "zzz012345678   front     overlay   swarm",
      "abc012345678   ingress   overlay   swarm",
    ]);
    expect(networkTable(nets, { noTrunc: true })).toContain("zzz0123456789abcdefghijkl   front");
  });
});

describe("network inspect", () => {
  it("says what docker says: the allocated subnet and gateway, the VNI, ingress, labels", () => {
    expect(networkJson(net("abc", "front", { vni: 4097, subnet: "10.1.0.0/24" }))).toEqual({
      Name: "front",
      Id: "abc",
      Created: new Date(NOW).toISOString(),
      Scope: "swarm",
      Driver: "overlay",
      EnableIPv6: false,
      IPAM: { Driver: "default", Options: null, Config: [{ Subnet: "10.1.0.0/24", Gateway: "10.1.0.1" }] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigFrom: { Network: "" },
      ConfigOnly: false,
      Containers: null,
      Options: { "com.docker.network.driver.overlay.vxlanid_list": "4097" },
      Labels: { team: "a" },
    });
  });

  it("shows no subnet or VNI before the allocator has given them", () => {
    const j = networkJson(net("abc", "front"));
    expect(j.IPAM).toEqual({ Driver: "default", Options: null, Config: [] });
    expect(j.Options).toEqual({});
  });
});

describe("a task container's resolv.conf on overlay networks", () => {
  it("names only the networks' nameservers, keeping the host's search and options", () => {
    const host = "# from the host\nnameserver 127.0.0.53\nsearch example.test\noptions edns0\n";
    expect(resolvConfWith(host, ["10.1.0.1", "10.9.0.1"])).toBe("nameserver 10.1.0.1\nnameserver 10.9.0.1\nsearch example.test\noptions edns0\n");
  });
});
