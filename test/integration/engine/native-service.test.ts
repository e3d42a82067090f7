// `shoal service create -d` in the native client (native/client/service.c) against the Node CLI:
// the very request bytes (a recording Control server), the same output, errors and exit codes,
// and on a real single-node swarm the same service; whatever it does not take is the Node CLI's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Metadata, Server, ServerCredentials, status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Service } from "../../../proto/gen/cluster.js";
import { makeBusyboxTarball } from "../../support/busybox.js";
import { freePort, NODE_CLI, run, TestDaemon, until, type Result } from "./harness.js";

const NATIVE = join(process.cwd(), "native/build/shoal");
/** What the native client says when it hands over to the Node CLI and there is none (PATH has no node). */
const HANDED_OVER = /^shoal: cannot run the Node CLI /;

/** Both clients on `host`; the native one also with no `node` on PATH (it must do the command itself). */
function clients(host: string, env: Record<string, string> = {}) {
  return {
    native: (...args: string[]) => run(NATIVE, args, { ...env, SHOAL_HOST: host }),
    node: (...args: string[]) => run("node", [NODE_CLI, ...args], { ...env, SHOAL_HOST: host }),
    alone: (...args: string[]) => run(NATIVE, args, { ...env, SHOAL_HOST: host, PATH: "/nonexistent" }),
  };
}

/** A Control server that keeps each CreateService request as it came (bytes) and answers as told. */
class RecordingControl {
  readonly dir = mkdtempSync(join(tmpdir(), "shoal-native-svc-"));
  readonly socket = join(this.dir, "control.sock");
  readonly requests: string[] = [];
  answer: () => { id: string } | { code: status; details: string } = () => ({ id: "svc0123456789abcdefghijkl" });
  private readonly server = new Server();

  async start(): Promise<void> {
    const identity = (b: Buffer) => b;
    this.server.addService(
      {
        createService: {
          path: "/shoal.swarm.Control/CreateService",
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: (s: Service) => Buffer.from(Service.encode(s).finish()),
          responseDeserialize: (b: Buffer) => Service.decode(b),
        },
      },
      {
        createService: (call: ServerUnaryCall<Buffer, Service>, cb: sendUnaryData<Service>) => {
          this.requests.push(call.request.toString("hex"));
          const a = this.answer();
          if ("id" in a) cb(null, Service.fromPartial({ id: a.id }));
          else cb({ code: a.code, details: a.details, metadata: new Metadata() });
        },
      },
    );
    await new Promise<void>((resolve, reject) => this.server.bindAsync(`unix://${this.socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  stop(): void {
    this.server.forceShutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("service create -d against a recording Control server", () => {
  const ctl = new RecordingControl();
  // `-e KEY` takes the caller's value.
  const { native, node, alone } = clients(ctl.host, { SHOAL_SVC_TEST_VAR: "from the caller", SHOAL_SVC_TEST_EMPTY: "" });
  beforeAll(() => ctl.start());
  afterAll(() => ctl.stop());

  /** One request each; the native client's without Node. Returns the two results. */
  async function same(args: string[]): Promise<[Result, Result]> {
    ctl.requests.length = 0;
    const a = await alone(...args);
    const b = await node(...args);
    expect(ctl.requests.length, `${args.join(" ")}: one request each`).toBe(2);
    expect(ctl.requests[0], `${args.join(" ")}: the same bytes`).toBe(ctl.requests[1]);
    expect(a, args.join(" ")).toEqual(b);
    return [a, b];
  }

  test("the request is the Node CLI's byte for byte", async () => {
    const cases = [
      ["service", "create", "-d", "busybox:1"],
      ["service", "create", "--detach", "--name", "web", "--replicas", "3", "busybox:1", "sh", "-c", "trap 'exit 0' TERM; sleep 1000000 & wait"],
      ["service", "create", "-d", "--replicas", "0", "busybox:1"],
      ["service", "create", "-d", "--replicas", "007", "--replicas", "12", "--name", "a", "--name", "b", "busybox:1"], // the last wins
      ["service", "create", "-d", "--replicas", "9007199254740991", "busybox:1"],
      ["service", "create", "--name=web", "--replicas=2", "--constraint=node.labels.zone!=east", "--env=A=1", "-d", "busybox:1", "sleep", "1000"],
      ["service", "create", "-d", "--constraint", "node.role==manager", "--constraint", "node.role!=Worker", "--constraint", "node.hostname==h1", "--constraint", "node.id!=abc", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.platform.os==linux", "--constraint", "engine.labels.Disk==ssd", "--constraint", "node.labels.a.b/c==x:y", "busybox:1"],
      ["service", "create", "-d", "-e", "A=1", "-e", "B=", "-e", "C=x=y", "-e", "SHOAL_SVC_TEST_VAR", "-e", "SHOAL_SVC_TEST_EMPTY", "-e", "SHOAL_SVC_TEST_UNSET", "busybox:1"],
      ["service", "create", "-d", "--name", "", "--name", "ünï", "busybox:1", "echo", "--help", "-d", "--mount", "x", "é"], // after the image: the command
      ["service", "create", "-d", "-", "x"], // "-" is an argument
      ["-H", ctl.host, "service", "create", "-d", "busybox:1"],
      ["--host=" + ctl.host, "service", "create", "-d", "busybox:1"],
    ];
    for (const args of cases) {
      const [a] = await same(args);
      expect(a, args.join(" ")).toEqual({ code: 0, stdout: "svc0123456789abcdefghijkl\n", stderr: "" });
    }
  });

  test("a refusal is printed as the Node CLI prints it, with its exit code", async () => {
    const answers = [
      { code: status.ALREADY_EXISTS, details: "service web already exists: pick another name or update it" },
      { code: status.INVALID_ARGUMENT, details: "first line\nsecond line" },
      { code: status.FAILED_PRECONDITION, details: "" },
      { code: status.UNAVAILABLE, details: "no leader: the managers have lost quorum" },
      { code: status.PERMISSION_DENIED, details: "100% s%C3%BCre: ünï" },
    ];
    try {
      for (const answer of answers) {
        ctl.answer = () => answer;
        const [a] = await same(["service", "create", "-d", "--name", "web", "busybox:1"]);
        expect(a.code, answer.details).toBe(1);
        expect(a.stdout).toBe("");
        expect(a.stderr.split("\n").length, `${answer.details}: one line`).toBe(2);
      }
    } finally {
      ctl.answer = () => ({ id: "svc0123456789abcdefghijkl" });
    }
  });

  test("no daemon: the same line", async () => {
    const gone = clients(`unix://${join(ctl.dir, "nosuch.sock")}`);
    const args = ["service", "create", "-d", "busybox:1"];
    const a = await gone.alone(...args);
    expect(a).toEqual(await gone.node(...args));
    expect(a.stderr).toMatch(/^shoal: cannot connect to the Shoal daemon at unix:\/\/.*nosuch\.sock: is `shoal daemon` running\?\n$/);
  });

  test("what it does not take is handed to the Node CLI unchanged, before anything is sent", async () => {
    const cases = [
      ["service", "create", "busybox:1"], // no -d: the Node CLI shows the service converging
      ["service", "create", "-d", "-q", "busybox:1"],
      ["service", "create", "-dq", "busybox:1"],
      ["service", "create", "-d", "--mount", "type=volume,target=/data", "busybox:1"],
      ["service", "create", "-d", "--restart-delay", "0s", "busybox:1"],
      ["service", "create", "-d", "--help"],
      ["service", "create", "-d"], // no image
      ["service", "create", "-d", " "],
      ["service", "create", "-d", "--", "busybox:1"],
      ["service", "create", "-d", "--detach=yes", "busybox:1"],
      ["service", "create", "-d", "-eA=1", "busybox:1"],
      ["service", "create", "-d", "--name", "-x", "busybox:1"],
      ["service", "create", "-d", "--replicas", "-1", "busybox:1"],
      ["service", "create", "-d", "--replicas", " 2", "busybox:1"],
      ["service", "create", "-d", "--replicas", "2.0", "busybox:1"],
      ["service", "create", "-d", "--replicas", "9007199254740992", "busybox:1"],
      ["service", "create", "-d", "--replicas", "", "busybox:1"],
      ["service", "create", "-d", "-e", "=x", "busybox:1"],
      ["service", "create", "-d", "-e", "", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.foo==x", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.role==boss", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.role == manager", "busybox:1"],
      ["service", "create", "-d", "--constraint", "NODE.ROLE==manager", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.labels.==x", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.hostname==a=b", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.hostname=x", "busybox:1"],
      ["service", "create", "-d", "--constraint", "node.hostname==ünï", "busybox:1"],
      ["service", "-d", "create", "busybox:1"],
      ["service", "ls"],
      ["--tlscacert", "/nonexistent", "service", "create", "-d", "busybox:1"],
      ["-H", "tcp://127.0.0.1:1", "service", "create", "-d", "busybox:1"],
    ];
    for (const args of cases) {
      ctl.requests.length = 0;
      const a = await alone(...args);
      expect(a.stderr, args.join(" ")).toMatch(HANDED_OVER);
      expect(a.code, args.join(" ")).toBe(1);
      expect(ctl.requests, `${args.join(" ")}: nothing sent`).toEqual([]);
    }
    // With Node at hand, the Node CLI's own answer (refusals; a valid one is sent as the Node CLI sends it).
    for (const args of cases.filter((c) => c.includes("-d") && !c.includes("--help") && !c.includes("tcp://127.0.0.1:1"))) {
      ctl.requests.length = 0;
      const a = await native(...args);
      const b = await node(...args);
      expect(a, args.join(" ")).toEqual(b);
      if (ctl.requests.length) expect(ctl.requests[0], args.join(" ")).toBe(ctl.requests[1]);
    }
  });
});

describe("service create -d on a single-node swarm", () => {
  const IMG = "itest/busybox:1";
  let d: TestDaemon;
  let c: ReturnType<typeof clients>;
  const sh = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000000 & wait"];

  beforeAll(async () => {
    d = new TestDaemon();
    await d.start();
    c = clients(d.host, { SHOAL_SVC_TEST_VAR: "from the caller" });
    const tar = makeBusyboxTarball(join(d.root, "busybox.tar"), mkdtempSync(join(d.root, "rootfs-")), {});
    expect((await c.node("import", tar, IMG)).code).toBe(0);
    const addr = `127.0.0.1:${await freePort()}`;
    const init = await c.node("swarm", "init", "--advertise-addr", addr, "--listen-addr", addr);
    expect(init.code, init.stderr).toBe(0);
  });

  afterAll(async () => {
    if (!d) return;
    try {
      const ids = (await c.node("service", "ls", "-q")).stdout.split("\n").filter(Boolean);
      if (ids.length) await c.node("service", "rm", ...ids);
      await until("the services' containers gone", async () => (await c.node("ps", "-aq")).stdout === "", 30_000).catch(() => undefined);
      await c.node("swarm", "leave", "--force");
    } finally {
      expect(await d.destroy()).toEqual([]);
    }
  });

  /** `service inspect` without what differs between any two services (ids, versions, times) and the name. */
  async function spec(name: string): Promise<unknown> {
    const r = await c.node("service", "inspect", name);
    expect(r.code, r.stderr).toBe(0);
    const [s] = JSON.parse(r.stdout) as Record<string, unknown>[];
    delete s.ID;
    delete s.Version;
    delete s.CreatedAt;
    delete s.UpdatedAt;
    delete (s.Spec as Record<string, unknown>).Name;
    return s;
  }

  test("the same service as the Node CLI's, without Node", async () => {
    const flagSets = [
      ["-d", "--replicas", "0"],
      ["--detach", "--replicas", "1", "--constraint", "node.role==manager", "-e", "A=1", "-e", "SHOAL_SVC_TEST_VAR"],
      ["--replicas=2", "--constraint=node.labels.zone!=east", "--env=B=2", "-d"],
    ];
    for (const [i, flags] of flagSets.entries()) {
      const a = await c.alone("service", "create", ...flags, "--name", `native-${i}`, IMG, ...sh);
      const b = await c.node("service", "create", ...flags, "--name", `node-${i}`, IMG, ...sh);
      expect(a.stderr, flags.join(" ")).toBe("");
      expect(a.code, flags.join(" ")).toBe(0);
      expect({ ...a, stdout: a.stdout.replace(/^[0-9a-z]{25}\n$/, "<id>") }, flags.join(" ")).toEqual({ ...b, stdout: b.stdout.replace(/^[0-9a-z]{25}\n$/, "<id>") });
      expect(a.stdout).toMatch(/^[0-9a-z]{25}\n$/);
      expect(await spec(a.stdout.trim()), flags.join(" ")).toEqual(await spec(b.stdout.trim()));
    }
    // No name: the managers pick one, as for the Node CLI's.
    const a = await c.alone("service", "create", "-d", "--replicas", "0", IMG);
    const b = await c.node("service", "create", "-d", "--replicas", "0", IMG);
    expect(await spec(a.stdout.trim())).toEqual(await spec(b.stdout.trim()));
  });

  test("a name taken: the Node CLI's line and exit code", async () => {
    expect((await c.node("service", "create", "-d", "--replicas", "0", "--name", "taken", IMG)).code).toBe(0);
    const args = ["service", "create", "-d", "--replicas", "0", "--name", "taken", IMG];
    const a = await c.alone(...args);
    expect(a).toEqual(await c.node(...args));
    expect(a).toEqual({ code: 1, stdout: "", stderr: "shoal: service taken already exists: pick another name or update it\n" });
  });

  test("an invalid constraint is the Node CLI's to refuse, before anything is sent", async () => {
    const before = (await c.node("service", "ls", "-q")).stdout;
    const args = ["service", "create", "-d", "--replicas", "0", "--name", "bad", "--constraint", "node.rack==1", IMG];
    expect((await c.alone(...args)).stderr).toMatch(HANDED_OVER);
    const a = await c.native(...args);
    expect(a).toEqual(await c.node(...args));
    expect(a.code).toBe(125);
    expect((await c.node("service", "ls", "-q")).stdout).toBe(before);
  });

  test("a flag it does not take still works, through the Node CLI", async () => {
    const flags = ["-d", "--replicas", "0", "--mount", "type=volume,source=data,target=/data"];
    expect((await c.alone("service", "create", ...flags, "--name", "mnt-alone", IMG)).stderr).toMatch(HANDED_OVER);
    const a = await c.native("service", "create", ...flags, "--name", "mnt-native", IMG);
    const b = await c.node("service", "create", ...flags, "--name", "mnt-node", IMG);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^[0-9a-z]{25}\n$/);
    const s = await spec("mnt-native");
    expect(s).toEqual(await spec("mnt-node"));
    expect(s).toMatchObject({ Spec: { TaskTemplate: { ContainerSpec: { Mounts: [{ Type: "volume", Source: "data", Target: "/data" }] } } } });
  });
});
