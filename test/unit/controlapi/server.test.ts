// The Control API over a real gRPC server on loopback: answers and statuses as a client sees them.
import { credentials, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Service } from "../../../proto/gen/cluster.js";
import { ControlClient, ControlService, type CreateServiceRequest, type ListServicesResponse, type LogLine } from "../../../proto/gen/swarm.js";
import { controlServer } from "../../../manager/controlapi/server.js";
import { setup, spec } from "./fixtures.js";

let server: Server;
let client: ControlClient;

beforeAll(async () => {
  const { api } = await setup();
  server = new Server();
  server.addService(
    ControlService,
    controlServer(api, (call) => {
      call.write({ taskId: "t1", slot: 1, nodeId: "n1", nodeName: "n1", serviceName: call.request.service, stream: "stdout", line: Buffer.from("hi\n"), timeUnixMicro: 1 });
      call.end();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  client = new ControlClient(`127.0.0.1:${port}`, credentials.createInsecure());
});

afterAll(() => {
  client?.close();
  server?.forceShutdown();
});

const call = <Req, Res>(method: (req: Req, cb: (e: ServiceError | null, r: Res) => void) => unknown, req: Req) =>
  new Promise<Res>((resolve, reject) => method.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

describe("controlServer", () => {
  it("creates and reads a service over the wire", async () => {
    const s = await call<CreateServiceRequest, Service>(client.createService, { spec: spec("web", (x) => (x.mode = { $case: "replicated", value: { replicas: 2 } })) });
    expect(s.specVersion).toBe(1);
    const list = await call<object, ListServicesResponse>(client.listServices, {});
    expect(list.services.map((x) => [x.service?.spec?.annotations?.name, x.desired])).toEqual([["web", 2]]);
  });

  it("answers a refusal with its status and one line", async () => {
    const err = await call(client.createService, { spec: spec("bad", (x) => (x.task!.container!.image = "busybox::1")) }).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((err as ServiceError).details).toMatch(/^service bad: invalid image reference "busybox::1": [^\n]+$/);
    const missing = await call(client.getService, { ref: "nope" }).catch((e: ServiceError) => e);
    expect([(missing as ServiceError).code, (missing as ServiceError).details]).toEqual([status.NOT_FOUND, "no such service: nope"]);
  });

  it("hands service logs to the given stream", async () => {
    const lines: LogLine[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = client.serviceLogs({ service: "web", follow: false, tail: 0 });
      s.on("data", (l: LogLine) => lines.push(l));
      s.on("end", resolve);
      s.on("error", reject);
    });
    expect(lines.map((l) => [l.serviceName, Buffer.from(l.line).toString()])).toEqual([["web", "hi\n"]]);
  });
});
