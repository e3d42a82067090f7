// A Control API call refused unwritten because leadership is moving is sent again once it has
// settled; a call that may have been written is never sent twice.
import { status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ControlServer } from "../../../proto/gen/swarm.js";
import { forwardingControl, toStatus } from "../../../manager/cluster/services.js";
import type { Manager } from "../../../manager/cluster/manager.js";
import { NotLeaderError as EtcdNotLeaderError } from "../../../manager/store/etcd/errors.js";
import { LeadershipLostError } from "../../../manager/raft/errors.js";
import { asControlError, refusedUnwritten } from "../../../manager/controlapi/errors.js";

type Answer = { err: Partial<ServiceError> | null; res?: unknown };

/** A manager that leads, whose local createService answers each call with the next of `answers`. */
function serving(answers: Answer[]) {
  const m = { isLeader: () => true, leaderAddr: () => "10.0.0.1:2377", addr: "10.0.0.1:2377" } as unknown as Manager;
  let calls = 0;
  const local = {
    createService: (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
      const a = answers[Math.min(calls++, answers.length - 1)];
      cb(a.err as ServiceError | null, a.res);
    },
  } as unknown as ControlServer;
  const api = forwardingControl(m, local);
  const call = (): Promise<Answer> =>
    new Promise((resolve) => (api.createService as unknown as (c: object, cb: sendUnaryData<unknown>) => void)({ request: {}, cancelled: false }, (err, res) => resolve({ err: err as Partial<ServiceError> | null, res })));
  return { call, calls: () => calls };
}

describe("forwardingControl", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("sends a call refused by a manager that just lost leadership again, and answers with the next try", async () => {
    const refused = asControlError(new EtcdNotLeaderError()).toStatus();
    expect(refusedUnwritten(refused)).toBe(true);
    const s = serving([{ err: refused }, { err: refused }, { err: null, res: { ok: 1 } }]);
    const answer = s.call();
    await vi.advanceTimersByTimeAsync(1000);
    expect(await answer).toEqual({ err: null, res: { ok: 1 } });
    expect(s.calls()).toBe(3);
  });

  it("answers with the refusal once leadership has not settled within a takeover's length", async () => {
    const s = serving([{ err: asControlError(new EtcdNotLeaderError()).toStatus() }]);
    const answer = s.call();
    await vi.advanceTimersByTimeAsync(10_000);
    const { err } = await answer;
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(err?.details).toMatch(/no longer leads.*nothing was written/);
    expect(s.calls()).toBeGreaterThan(10);
  });

  it("never sends again a call that may have been written", async () => {
    const s = serving([{ err: toStatus(new LeadershipLostError()) }, { err: null, res: {} }]);
    const answer = s.call();
    await vi.advanceTimersByTimeAsync(1000);
    expect((await answer).err?.details).toMatch(/may still commit/);
    expect(s.calls()).toBe(1);
  });
});
