// WAL damage seen by a real member process (one voter, the real core). Needs a build: npx tsc -p tsconfig.json.
import { afterEach, describe, expect, it } from "vitest";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RECORD_MAGIC } from "../../../manager/raft/wal/record.js";
import { Cluster, httpCall, type Member } from "../../support/raft/cluster.js";

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

function lastWalSegment(m: Member): string {
  const dir = join(m.dataDir, "wal");
  return join(dir, readdirSync(dir).filter((f) => f.endsWith(".log")).sort().at(-1)!);
}

/** Where the records of a (preallocated, zero-filled) segment end, and where its last record starts. */
function records(buf: Buffer): { lastStart: number; end: number } {
  let off = 0;
  let lastStart = 0;
  while (off + 16 <= buf.length && buf.readUInt32LE(off) === RECORD_MAGIC) {
    lastStart = off;
    off += 16 + buf.readUInt32LE(off + 8);
  }
  return { lastStart, end: off };
}

describe("WAL recovery in a member process", () => {
  it("repairs a torn or bit-flipped last record at start, and refuses to start on an earlier corrupt one", async () => {
    cluster = await Cluster.start({ size: 1 });
    const m = cluster.members[0];
    for (let i = 0; i < 20; i++) await cluster.client.put(`w${i}`, `v${i}`);
    await m.kill("SIGKILL");
    const seg = lastWalSegment(m);
    const good = readFileSync(seg);

    // a half-written record after the last one, as a crash mid-append leaves it
    const { lastStart, end } = records(good);
    const torn = Buffer.from(good);
    good.copy(torn, end, lastStart, lastStart + Math.ceil((end - lastStart) / 2));
    writeFileSync(seg, torn);
    m.start();
    await cluster.waitForLeader();
    expect(JSON.parse((await httpCall(m.client, "GET", "/dump", undefined, 5000)).body.toString())["w19"]).toBe("v19");
    expect(m.log).toMatch(new RegExp(`cut damaged last record at offset ${end} \\(checksum mismatch\\)`));

    // a bit flipped in the last record
    await m.kill("SIGKILL");
    const now = readFileSync(seg);
    now[records(now).end - 3] ^= 0x10;
    writeFileSync(seg, now);
    m.log = "";
    m.start();
    await cluster.waitForLeader();
    expect(m.log).toMatch(/cut damaged last record at offset \d+/);

    // an early record damaged, with valid records after it
    await m.kill("SIGKILL");
    const early = readFileSync(seg);
    early[20] ^= 0xff;
    writeFileSync(seg, early);
    m.log = "";
    m.start();
    expect(await m.exit).toBe(3);
    expect(m.log).toMatch(new RegExp(`wal: ${seg} is corrupt at offset 0 \\(checksum mismatch\\) and valid records follow at offset \\d+; restore`));
  });
});
