import { defineConfig } from "vitest/config";

// Unit tests are pure and run in parallel. Integration and end-to-end tests share the host's
// namespaces, cgroups and ports, so they run one file at a time.
// Every manager the tests start (in-process or spawned: they inherit this) checks that what it
// applies of its own proposals is what their log bytes say, and freezes it (manager/store/raft.ts).
process.env.SHOAL_CHECK_OWN_APPLY = "1";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 120_000 } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
