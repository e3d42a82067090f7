// Bundles the `shoal` command after tsc (npm run build:cli): dist/cli/main.js is replaced by one
// ESM file plus lazily loaded chunks (dist/cli/bundle-*.js) holding the CLI, the daemon and the
// libraries read at every start (@grpc/grpc-js, commander, @bufbuild/protobuf). Node then reads a
// few files instead of resolving and compiling some 300 modules: most of the CLI's start-up time
// (docs/runtime.md, "CLI start-up"). The code is tsc's output, unchanged; a later tsc run simply
// puts the unbundled main.js back.
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cliDir = join(root, "dist/cli");
const entry = join(cliDir, "main.js");
const MARK = "// shoal: bundled by scripts/bundle-cli.mjs";

// Packages loaded by every command; the rest (etcd3, x509, tar-stream...) stay in node_modules,
// loaded from there when a daemon or a command needs them, as before.
const BUNDLED = ["@grpc/grpc-js", "@js-sdsl/ordered-map", "commander", "@bufbuild/protobuf"];
const packageOf = (spec) => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);

if (readFileSync(entry, "utf8").includes(MARK)) {
  console.error("bundle-cli: dist/cli/main.js is already a bundle (run tsc first to bundle anew)");
  process.exit(0);
}
for (const f of readdirSync(cliDir)) if (/^bundle-.*\.js$/.test(f)) rmSync(join(cliDir, f));

/** Keeps each module's own import.meta.url (the file tsc wrote), for code that finds files beside it. */
const ownUrl = {
  name: "own-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const rel = relative(cliDir, args.path).split("\\").join("/");
      return { contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: "js" };
    });
  },
};

const onlySome = {
  name: "bundle-only-some-packages",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:") || !BUNDLED.includes(packageOf(args.path))) return { path: args.path, external: true };
      return undefined;
    });
  },
};

const res = await build({
  entryPoints: [entry],
  outdir: cliDir,
  entryNames: "[name]",
  chunkNames: "bundle-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  allowOverwrite: true,
  logLevel: "warning",
  plugins: [ownUrl, onlySome],
  // The bundled CommonJS packages call require(); in an ES module it has to be made.
  metafile: true,
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  banner: { js: `${MARK}\nimport { createRequire as __shoalRequire } from "node:module";\nconst require = __shoalRequire(import.meta.url);` },
});
import("node:fs").then((fs) => fs.writeFileSync("/tmp/jt/meta.json", JSON.stringify(res.metafile)));
