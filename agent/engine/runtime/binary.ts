// Where the native runtime binary is: native/build/ under the package root, found from this
// module's own location so it works from dist/ and from the TypeScript sources alike.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function runtimeBinary(): string {
  if (process.env.SHOAL_RUNTIME) return process.env.SHOAL_RUNTIME;
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "shoal") break;
    const up = dirname(dir);
    if (up === dir) throw new Error("shoal package root not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  cached = join(dir, "native/build/shoal-runtime");
  if (!existsSync(cached)) throw new Error(`${cached} is missing: run make -C native`);
  return cached;
}
