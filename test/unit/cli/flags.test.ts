import { describe, expect, it } from "vitest";
import { Mount_Type, PortProtocol, PublishMode } from "../../../proto/gen/cluster.js";
import { choice, constraint, cpus, mount, network, placementPref, publish, ratio, scaleSpec, wholeNumber, words } from "../../../cli/cluster/flags.js";

const tcp = PortProtocol.PORT_PROTOCOL_TCP;
const ingress = PublishMode.PUBLISH_MODE_INGRESS;
const port = (publishedPort: number, targetPort: number, protocol = tcp, publishMode = ingress) => ({ name: "", protocol, targetPort, publishedPort, publishMode });

describe("--publish", () => {
  it.each([
    ["8080:80", [port(8080, 80)]],
    ["8080:80/udp", [port(8080, 80, PortProtocol.PORT_PROTOCOL_UDP)]],
    ["80", [port(0, 80)]],
    ["8000-8001:80-81", [port(8000, 80), port(8001, 81)]],
    ["8000-8001:80", [port(8000, 80), port(8001, 80)]],
    ["published=8080,target=80", [port(8080, 80)]],
    ["published=8080,target=80,protocol=udp,mode=host", [port(8080, 80, PortProtocol.PORT_PROTOCOL_UDP, PublishMode.PUBLISH_MODE_HOST)]],
    ["target=80", [port(0, 80)]],
  ])("reads %s", (v, want) => {
    expect(publish(v)).toEqual(want);
  });

  it.each([
    ["99999:80", "port 99999 is not a number from 1 to 65535"],
    ["0:80", "port 0 is not"],
    ["8080:80/icmp", "invalid --publish protocol icmp: use tcp, udp or sctp"],
    ["127.0.0.1:8080:80", "a host IP cannot be given"],
    ["web", "use PUBLISHED:TARGET"],
    ["8000-8002:80-81", "the same length"],
    ["8002-8000:80", "ends before it starts"],
    ["published=8080", "give the container's port as target=PORT"],
    ["published=8080,target=80,mode=mesh", "invalid --publish mode mesh: use ingress or host"],
    ["published=8080,target=80,color=red", 'unknown field "color"'],
  ])("refuses %s", (v, why) => {
    expect(() => publish(v)).toThrow(why);
  });
});

describe("--mount", () => {
  it("reads each type", () => {
    expect(mount("type=bind,source=/srv,target=/data,readonly")).toEqual({ type: Mount_Type.BIND, source: "/srv", target: "/data", readOnly: true });
    expect(mount("source=vol1,target=/data")).toEqual({ type: Mount_Type.VOLUME, source: "vol1", target: "/data", readOnly: false });
    expect(mount("type=tmpfs,dst=/tmp,ro=false")).toEqual({ type: Mount_Type.TMPFS, source: "", target: "/tmp", readOnly: false });
    expect(mount("type=volume,src=v,destination=/d,readonly=1").readOnly).toBe(true);
  });

  it.each([
    ["type=bind,source=rel,target=/x", "absolute source path"],
    ["type=nfs,target=/x", "invalid --mount type nfs: use bind, volume or tmpfs"],
    ["source=v,target=rel", "absolute target path"],
    ["type=tmpfs,source=x,target=/t", "takes no source"],
    ["source=bad/name,target=/d", "volume name"],
    ["source=v,target=/d,readonly=maybe", "readonly is true or false"],
    ["source=v,target=/d,propagation=shared", 'unknown field "propagation"'],
    ["/data", 'field "/data" is not KEY=VALUE: write type='],
  ])("refuses %s", (v, why) => {
    expect(() => mount(v)).toThrow(why);
  });
});

describe("other values", () => {
  it("counts", () => {
    expect(wholeNumber("6", "--replicas")).toBe(6);
    expect(wholeNumber("0", "--replicas")).toBe(0);
    for (const bad of ["-1", "1.5", "six", "", "1e3"]) expect(() => wholeNumber(bad, "--replicas")).toThrow(`invalid --replicas ${bad}: use a whole number of at least 0`);
  });

  it("cpus and ratios", () => {
    expect(cpus("0.5", "--reserve-cpu")).toBe(500_000_000);
    expect(cpus("2", "--limit-cpu")).toBe(2e9);
    expect(() => cpus("-1", "--limit-cpu")).toThrow("invalid --limit-cpu -1: use a number of CPUs");
    expect(() => cpus("lots", "--limit-cpu")).toThrow("invalid --limit-cpu lots");
    expect(ratio("0.25", "--update-max-failure-ratio")).toBe(0.25);
    expect(() => ratio("1.5", "--update-max-failure-ratio")).toThrow("invalid --update-max-failure-ratio 1.5: use a number between 0 and 1");
  });

  it("choices", () => {
    expect(choice("Start-First", "--update-order", { "stop-first": 0, "start-first": 1 })).toBe(1);
    expect(() => choice("sideways", "--update-order", { "stop-first": 0, "start-first": 1 })).toThrow("invalid --update-order sideways: use stop-first or start-first");
    expect(() => choice("toString", "--mode", { replicated: 1, global: 2 })).toThrow("invalid --mode toString");
  });

  it("constraints use the scheduler's parser", () => {
    expect(constraint("node.labels.zone == east", "--constraint")).toBe("node.labels.zone == east");
    expect(() => constraint("node.labels.zone=east", "--constraint")).toThrow('invalid --constraint "node.labels.zone=east": write KEY==VALUE');
    expect(() => constraint("node.color==red", "--constraint-add")).toThrow('invalid --constraint-add "node.color==red": unknown key');
  });

  it("placement preferences", () => {
    expect(placementPref("spread=node.labels.zone", "--placement-pref")).toEqual({ spread: { spreadDescriptor: "node.labels.zone" } });
    expect(() => placementPref("spread=zone", "--placement-pref")).toThrow("invalid --placement-pref spread=zone: use spread=node.labels.NAME");
  });

  it("networks", () => {
    expect(network("backend")).toEqual({ target: "backend", aliases: [] });
    expect(network("name=backend,alias=db,alias=pg")).toEqual({ target: "backend", aliases: ["db", "pg"] });
    expect(() => network("alias=db")).toThrow("give the network as name=NAME");
    expect(() => network("name=n,driver=overlay")).toThrow('unknown field "driver"');
  });

  it("command words split as a shell would", () => {
    expect(words(`sh -c 'echo "hi there"' x\\ y`, "--args")).toEqual(["sh", "-c", 'echo "hi there"', "x y"]);
    expect(() => words(`sh -c 'open`, "--args")).toThrow("invalid --args");
  });

  it("scale specifiers", () => {
    expect(scaleSpec("web=6")).toEqual({ name: "web", replicas: 6 });
    expect(() => scaleSpec("web")).toThrow("invalid scale specifier web: use SERVICE=REPLICAS");
    expect(() => scaleSpec("=3")).toThrow("invalid scale specifier =3");
    expect(() => scaleSpec("web=-1")).toThrow("invalid scale specifier web=-1: replicas must be a whole number of at least 0");
  });
});
