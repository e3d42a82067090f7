// Serves `logs [-f] [--tail N]` from the container's CRI log file. A follower polls the file and
// ends once the container has stopped for good and everything written is sent.
import type { LogChunk, LogsRequest } from "../../../proto/gen/engine.js";
import type { ContainerEngine } from "../containers/engine.js";
import { LogReader, tailRecords, type LogRecord } from "./cri.js";

const POLL_MS = 50;

export async function followLogs(engine: ContainerEngine, req: LogsRequest, send: (c: LogChunk) => void, signal: AbortSignal): Promise<void> {
  const rec = engine.store.get(req.id);
  const reader = new LogReader(engine.logPath(rec));
  const emit = (rs: LogRecord[]) => {
    for (const r of rs) send({ stream: r.stream, data: r.data, time: req.timestamps ? r.time : "" });
  };
  if (!req.follow) {
    emit(tailRecords(reader.readNew(), req.tail));
    return;
  }
  const leave = engine.followerEnter(rec.id);
  try {
    send({ stream: "", data: Buffer.alloc(0), time: "" }); // the follower is in place
    emit(tailRecords(reader.readNew(), req.tail));
    const gone = () => !engine.store.all().includes(rec);
    while (!signal.aborted) {
      const stopped = rec.state.status === "exited" || rec.state.status === "dead" || gone();
      emit(reader.readNew());
      if (stopped) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, POLL_MS);
        engine.events.once(`state:${rec.id}`, done);
        function done() {
          clearTimeout(t);
          engine.events.off(`state:${rec.id}`, done);
          resolve();
        }
      });
    }
  } finally {
    leave();
  }
}
