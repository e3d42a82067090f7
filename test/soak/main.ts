// Soak runner: `node dist/test/soak/main.js raft [--seeds 100000] [--seed N] [--from N] [--workers K]`.
// Runs simulation seeds over worker threads (one per core), prints progress every 5,000 seeds
// and, for each failing seed, the command that replays it.
import { availableParallelism } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { replayCommand, runSeed, type SimResult } from "../sim/raft/sim.js";

interface Job {
  from: number;
  to: number;
  stride: number;
  offset: number;
}

function parseArgs(argv: string[]): { target: string; seeds: number; from: number; seed?: number; workers: number } {
  const [target, ...rest] = argv;
  const opts = { target: target ?? "", seeds: 10_000, from: 1, seed: undefined as number | undefined, workers: Math.max(1, Math.min(availableParallelism(), 2)) };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = Number(rest[++i]);
    if (!Number.isInteger(value)) throw new Error(`soak: ${flag} needs an integer value`);
    if (flag === "--seeds") opts.seeds = value;
    else if (flag === "--from") opts.from = value;
    else if (flag === "--seed") opts.seed = value;
    else if (flag === "--workers") opts.workers = value;
    else throw new Error(`soak: unknown flag ${flag}; use --seeds N, --from N, --seed N or --workers K`);
  }
  return opts;
}

function runWorker(job: Job): void {
  for (let seed = job.from + job.offset; seed < job.to; seed += job.stride) {
    const r = runSeed(seed);
    parentPort!.postMessage(r);
  }
  parentPort!.postMessage("done");
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.target !== "raft") {
    console.error(`soak: unknown target "${args.target}"; the only one is "raft"`);
    return 2;
  }
  if (args.seed !== undefined) {
    const r = runSeed(args.seed);
    console.log(JSON.stringify({ seed: r.seed, ok: r.ok, rounds: r.rounds, messages: r.messages, ops: r.ops, committed: r.committed, leaders: r.leaders }));
    if (!r.ok) console.log(r.error);
    return r.ok ? 0 : 1;
  }
  const from = args.from;
  const to = from + args.seeds;
  const started = Date.now();
  let done = 0;
  const failures: SimResult[] = [];
  await Promise.all(
    Array.from({ length: args.workers }, (_, offset) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { from, to, stride: args.workers, offset } satisfies Job });
      return new Promise<void>((resolve, reject) => {
        w.on("message", (r: SimResult | "done") => {
          if (r === "done") return resolve();
          done++;
          if (!r.ok) {
            failures.push(r);
            console.log(`FAIL seed ${r.seed}: ${r.error}\n  replay: ${replayCommand(r.seed)}`);
          }
          if (done % 5000 === 0) {
            const s = (Date.now() - started) / 1000;
            console.log(`${done}/${args.seeds} seeds, ${failures.length} failed, ${(done / s).toFixed(0)} seeds/s`);
          }
        });
        w.on("error", reject);
      });
    }),
  );
  const secs = (Date.now() - started) / 1000;
  console.log(JSON.stringify({ target: "raft", from, seeds: args.seeds, failed: failures.map((f) => f.seed), seconds: secs, seedsPerSecond: Math.round(args.seeds / secs) }));
  return failures.length === 0 ? 0 : 1;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(2);
    },
  );
} else {
  runWorker(workerData as Job);
}
