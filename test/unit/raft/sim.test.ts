// Deterministic simulation over many seeds (see test/sim/raft/sim.ts). Replay one seed with
// SIM_SEED=N npx vitest run test/unit/raft/sim.test.ts, or npm run soak -- raft --seed N.
import { describe, expect, it } from "vitest";
import { replayCommand, runSeed } from "../../sim/raft/sim.js";

const SEEDS = Number(process.env.SIM_SEEDS ?? 2000);
const CHUNKS = 4;

function runRange(from: number, to: number): void {
  const failures: string[] = [];
  for (let seed = from; seed < to; seed++) {
    const r = runSeed(seed);
    if (!r.ok) failures.push(`seed ${seed}: ${r.error}\n  replay: ${replayCommand(seed)}`);
    if (failures.length >= 3) break;
  }
  expect(failures, failures.join("\n")).toEqual([]);
}

describe("raft simulation", () => {
  if (process.env.SIM_SEED) {
    it(`seed ${process.env.SIM_SEED}`, () => runRange(Number(process.env.SIM_SEED), Number(process.env.SIM_SEED) + 1));
    return;
  }
  const per = Math.ceil(SEEDS / CHUNKS);
  for (let c = 0; c < CHUNKS; c++) {
    const from = 1 + c * per;
    const to = Math.min(1 + SEEDS, from + per);
    it(`seeds ${from}..${to - 1} keep every safety property and linearizability`, () => runRange(from, to));
  }
});
