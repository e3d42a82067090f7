// Linearizability of a history of puts and gets on independent registers, checked per key
// (P-compositionality) by Wing & Gong's search with memoisation of (linearized set, value),
// as in Porcupine. Puts write unique values; a put whose outcome is unknown has end = Infinity
// and may or may not take effect.
export interface Op {
  client: number;
  key: string;
  kind: "put" | "get";
  /** put: the value written; get: the value read (undefined = never written). */
  value: string | undefined;
  start: number;
  end: number;
}

export interface CheckResult {
  ok: boolean;
  key?: string;
  ops?: Op[];
}

export function checkLinearizable(history: Op[]): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const op of history) {
    const ops = byKey.get(op.key) ?? [];
    ops.push(op);
    byKey.set(op.key, ops);
  }
  for (const [key, ops] of byKey) {
    if (!checkRegister(ops)) return { ok: false, key, ops };
  }
  return { ok: true };
}

function checkRegister(input: Op[]): boolean {
  const ops = [...input].sort((a, b) => a.start - b.start);
  const n = ops.length;
  if (n > 60) throw new Error(`history of ${n} operations on one key is too long to check; keep it under 60`);
  let mustFinish = 0n;
  ops.forEach((op, i) => {
    if (op.end !== Infinity) mustFinish |= 1n << BigInt(i);
  });
  const seen = new Set<string>();
  const search = (done: bigint, value: string | undefined): boolean => {
    if ((done & mustFinish) === mustFinish) return true;
    // Only an op called before every pending op returned can go next (real-time order).
    let minEnd = Infinity;
    for (let i = 0; i < n; i++) if (!(done & (1n << BigInt(i))) && ops[i]!.end < minEnd) minEnd = ops[i]!.end;
    for (let i = 0; i < n; i++) {
      const bit = 1n << BigInt(i);
      if (done & bit) continue;
      const op = ops[i]!;
      if (op.start > minEnd) break;
      let next = value;
      if (op.kind === "put") next = op.value;
      else if (op.value !== value) continue;
      const d = done | bit;
      const k = `${d.toString(36)}:${next ?? ""}`;
      if (seen.has(k)) continue;
      seen.add(k);
      if (search(d, next)) return true;
    }
    return false;
  };
  return search(0n, undefined);
}
