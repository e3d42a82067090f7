// The engine's gRPC service: each call maps to one engine, volume or image operation. Errors go
// back as one line with a status code the CLI prints as is.
import { Server, ServerCredentials, status, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation, type sendUnaryData } from "@grpc/grpc-js";
import { arch, release } from "node:os";
import { EngineService, type EngineServer, type ExecInput, type VersionResponse } from "../../../proto/gen/engine.js";
import type { ContainerEngine } from "../containers/engine.js";
import { inspectOf, summaryOf } from "../containers/views.js";
import { EngineError, invalid } from "../errors.js";
import { followLogs } from "../logs/follow.js";
import type { VolumeStore } from "../volumes/store.js";
import type { ImagesPort } from "./images-port.js";

export const API_VERSION = "1.0";

export interface ApiDeps {
  engine: ContainerEngine;
  volumes: VolumeStore;
  images: ImagesPort;
  info: () => Omit<VersionResponse, "containers" | "containersRunning" | "images">;
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof EngineError) return { code: err.code, details: err.message, message: err.message };
  const message = (err as Error)?.message ?? String(err);
  return { code: status.UNKNOWN, details: message.split("\n")[0], message };
}

/** Ends a stream with an error status (grpc-js sends the status on an 'error' event; destroy() would drop it). */
function fail(call: { emit(event: "error", err: unknown): boolean }, err: unknown): void {
  call.emit("error", toServiceError(err));
}

function unary<Req, Res>(fn: (req: Req) => Promise<Res> | Res) {
  return (call: { request: Req }, cb: sendUnaryData<Res>) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then((r) => cb(null, r), (e) => cb(toServiceError(e)));
  };
}

export function engineServer(d: ApiDeps): EngineServer {
  const { engine, volumes, images } = d;
  const volumeView = (v: ReturnType<VolumeStore["inspect"]>) => ({ name: v.name, driver: "local", mountpoint: v.mountpoint, createdUnix: v.createdUnix, labels: v.labels, usedBy: engine.volumeUsers(v.name) });
  return {
    version: unary(async () => {
      const all = engine.store.all();
      return { ...d.info(), containers: all.length, containersRunning: engine.runningCount(), images: (await images.list()).length };
    }),

    pullImage: (call) => {
      images
        .pull(call.request.reference, (p) => call.write({ status: p.status, id: p.id ?? "", current: p.current ?? 0, total: p.total ?? 0 }))
        .then(() => call.end(), (e) => fail(call, e));
    },
    importImage: unary(async (r) => {
      if (!r.path) throw invalid("no file to import: give a rootfs tarball");
      const row = await images.importRootfs(r.path, r.reference);
      return { id: row.id, references: row.references, createdUnix: row.createdUnix, size: row.size };
    }),
    loadImage: unary(async (r) => ({ references: await images.load(r.path) })),
    listImages: unary(async () => ({ images: await images.list() })),
    inspectImage: unary(async (r) => ({ json: JSON.stringify(await images.inspect(r.reference), null, 2) })),
    removeImage: unary(async (r) => images.remove(r.reference, r.force)),

    createContainer: unary(async (r) => {
      if (!r.config) throw invalid("no container config");
      const rec = r.start ? await engine.createStarted(r.name, r.config) : await engine.create(r.name, r.config);
      return { id: rec.id, warnings: [], started: r.start };
    }),
    startContainer: unary(async (r) => (await engine.start(r.id), {})),
    stopContainer: unary(async (r) => (await engine.stop(r.id, r.timeoutSet ? r.timeout : undefined), {})),
    restartContainer: unary(async (r) => (await engine.restart(r.id, r.timeoutSet ? r.timeout : undefined), {})),
    killContainer: unary(async (r) => (await engine.kill(r.id, r.signal || "SIGKILL"), {})),
    removeContainer: unary(async (r) => (await engine.remove(r.id, r.force), {})),
    listContainers: unary((r) => ({
      containers: engine.store
        .all()
        .filter((c) => r.all || c.state.status === "running" || c.state.status === "restarting")
        .map(summaryOf),
    })),
    inspectContainer: unary((r) => {
      const rec = engine.store.get(r.id);
      return { json: JSON.stringify(inspectOf(rec, engine.logPath(rec), (n) => volumes.inspect(n).mountpoint), null, 2) };
    }),
    waitContainer: (call) => {
      let ended = false;
      call.on("cancelled", () => (ended = true));
      Promise.resolve()
        .then(() => engine.wait(call.request.id, () => call.write({ registered: true, exitCode: 0, oomKilled: false, error: "" })))
        .then((s) => {
          if (ended) return;
          call.write({ registered: false, exitCode: s.exitCode, oomKilled: s.oomKilled, error: "" });
          call.end();
        }, (e) => fail(call, e));
    },
    containerLogs: (call) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      followLogs(engine, call.request, (chunk) => call.write(chunk), abort.signal).then(
        () => call.end(),
        (e) => fail(call, e),
      );
    },
    exec: (call) => {
      let child: ReturnType<ContainerEngine["exec"]> | undefined;
      call.on("data", (msg: ExecInput) => {
        const input = msg.input;
        if (!input) return;
        try {
          if (input.$case === "start" && !child) {
            child = engine.exec(input.value);
            child.stdout?.on("data", (b: Buffer) => call.write({ output: { $case: "stdout", value: b } }));
            child.stderr?.on("data", (b: Buffer) => call.write({ output: { $case: "stderr", value: b } }));
            child.on("error", (e) => fail(call, e));
            child.on("close", (code, signal) => {
              call.write({ output: { $case: "exitCode", value: code ?? 128 + signalNumber(signal) } });
              call.end();
            });
            if (!input.value.stdin) child.stdin?.end();
          } else if (input.$case === "stdin") child?.stdin?.write(input.value);
          else if (input.$case === "stdinClose") child?.stdin?.end();
        } catch (e) {
          fail(call, e);
        }
      });
      call.on("end", () => child?.stdin?.end());
      call.on("cancelled", () => child?.kill("SIGKILL"));
    },

    createVolume: unary((r) => volumeView(volumes.create(r.name || undefined, r.labels))),
    listVolumes: unary(() => ({ volumes: volumes.list().map(volumeView) })),
    inspectVolume: unary((r) => volumeView(volumes.inspect(r.name))),
    removeVolume: unary((r) => (volumes.remove(r.name, engine.volumeUsers(r.name)), {})),
  };
}

function signalNumber(sig: NodeJS.Signals | null): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };
  return sig ? (table[sig] ?? 0) : 0;
}

/** Serves the engine API, and any other local services (swarm, control), on the daemon's socket. */
export async function serveEngine(socketPath: string, impl: EngineServer, more: [ServiceDefinition, UntypedServiceImplementation][] = []): Promise<Server> {
  const server = new Server();
  server.addService(EngineService, impl);
  for (const [def, svc] of more) server.addService(def, svc);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
