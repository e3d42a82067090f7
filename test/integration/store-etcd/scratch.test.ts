import { it, expect } from "vitest";
import { etcdHarness, service } from "./harness.js";
const h = etcdHarness();
it("scratch paging", async () => {
  const p = h.freshPrefix();
  const a = await h.open(p);
  await a.store.batch(async (b) => {
    for (let i = 0; i < 2500; i++) await b.update((tx) => tx.create("service", service(`s${i}`)));
  });
  const f = await h.open(p);
  expect(f.store.view((tx) => tx.find("service").length)).toBe(2500);
}, 60000);
