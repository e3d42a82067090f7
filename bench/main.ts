// `npm run bench -- NAME`: runs bench/NAME.ts, whose last printed line is one JSON object of
// figures and ratios against a peer measured in the same run.
const name = process.argv[2];
const known = ["engine", "engine-runtime", "raft", "scheduler", "converge", "network", "update", "store"];
if (!name || !known.includes(name)) {
  console.error(`bench: name one of ${known.join(", ")} (e.g. npm run bench -- engine)`);
  process.exit(2);
}
try {
  const mod = (await import(`./${name}.js`)) as { main: (args: string[]) => Promise<void> };
  await mod.main(process.argv.slice(3));
} catch (err) {
  if ((err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") {
    console.error(`bench: ${name} is not written yet`);
    process.exit(2);
  }
  throw err;
}
