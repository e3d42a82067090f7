// The image store against Debian's docker-registry (basic auth), a bearer-token front, and
// docker-save / OCI layout / rootfs tarballs. Needs root (ownership, device nodes, overlay mounts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ImageStore } from "../../../agent/engine/image/index.js";
import { makeBusyboxTarball } from "../../support/busybox.js";
import { busyboxLayer, busyboxWeb, layerTar, layeredImage, makeImage, pushImage, pushTestImages, tarDir, writeDockerSave, writeOciLayout } from "../../support/images.js";
import { startRegistry, startTokenFront, type TestRegistry, type TokenFront } from "../../support/registry.js";

const LOGIN = { username: "shoal", password: "s3cret" };
const root = mkdtempSync("/tmp/shoal-image-it-");
let secured: TestRegistry; // htpasswd
let open: TestRegistry; // no auth, behind the token fronts
const fronts: TokenFront[] = [];
let n = 0;
const newStore = (o: ConstructorParameters<typeof ImageStore>[1] = {}) => new ImageStore(join(root, `store-${n++}`), o);

beforeAll(async () => {
  secured = await startRegistry({ auth: LOGIN });
  open = await startRegistry();
  await pushTestImages(secured.addr, LOGIN);
  await pushTestImages(open.addr);
});

afterAll(async () => {
  for (const f of fronts) await f.stop();
  await secured?.stop();
  await open?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Mounts the image's layers read-only as overlayfs does for a container, runs `look`, unmounts. */
function withOverlay<T>(layerDirs: string[], look: (dir: string) => T): T {
  const mnt = mkdtempSync(join(root, "mnt-"));
  execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${[...layerDirs].reverse().join(":")}`, mnt]);
  try {
    return look(mnt);
  } finally {
    execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

function oneLine(e: unknown): string {
  const m = (e as Error).message;
  expect(m).not.toContain("\n");
  return m;
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: number };
  }
  throw new Error("expected a failure");
}

describe("pull", () => {
  test("a multi-layer image over basic auth: whiteouts and opaque dirs hold in the overlay view", async () => {
    const store = newStore();
    const img = await store.pull(`${secured.addr}/shoal/layered:1`, { auth: LOGIN });
    expect(img.repoTags).toEqual([`${secured.addr}/shoal/layered:1`]);
    const r = await store.resolve(`${secured.addr}/shoal/layered:1`);
    expect(r.layerDirs).toHaveLength(3);
    expect(r.config.Cmd).toEqual(["sh"]);
    withOverlay(r.layerDirs, (m) => {
      expect(readFileSync(join(m, "data/keep.txt"), "utf8")).toBe("keep\n");
      expect(existsSync(join(m, "data/gone.txt"))).toBe(false);
      expect(existsSync(join(m, "olddir"))).toBe(false);
      expect(readdirSync(join(m, "opq"))).toEqual(["z"]);
      expect(existsSync(join(m, "bin/busybox"))).toBe(true);
    });
  });

  test("wrong or missing credentials fail with one line", async () => {
    const store = newStore();
    const wrong = await failure(store.pull(`${secured.addr}/shoal/layered:1`, { auth: { ...LOGIN, password: "nope" } }));
    expect(oneLine(wrong)).toMatch(/refused the credentials of user "shoal": check the username and password/);
    const none = await failure(store.pull(`${secured.addr}/shoal/layered:1`));
    expect(oneLine(none)).toMatch(/requires authentication/);
    expect(await store.list()).toEqual([]);
  });

  test("an unknown image fails with one line", async () => {
    const e = await failure(newStore().pull(`${secured.addr}/no/such:1`, { auth: LOGIN }));
    expect(oneLine(e)).toMatch(/^pull 127\.0\.0\.1:\d+\/no\/such:1: image not found in the registry/);
    expect(e.code).toBe(5); // NOT_FOUND
  });

  test("Docker Hub names come from the mirror; shared layers are unpacked once", async () => {
    const store = newStore({ mirror: secured.addr });
    const events: string[] = [];
    await store.pull("busybox:1", { auth: LOGIN });
    expect(store.layersUnpacked).toBe(2);
    await store.pull("busybox:2", { auth: LOGIN, onProgress: (p) => events.push(p.status) });
    expect(store.layersUnpacked).toBe(3);
    expect(events).toContain("Already exists");
    const [a, b] = [await store.resolve("busybox:1"), await store.resolve("busybox:2")];
    expect(a.layerDirs[0]).toBe(b.layerDirs[0]);
    expect(a.config.Cmd).toEqual(["httpd", "-f", "-p", "80", "-h", "/var/www"]);
    withOverlay(b.layerDirs, (m) => expect(readFileSync(join(m, "var/www/index.html"), "utf8")).toBe("shoal v2\n"));
    expect((await store.list()).flatMap((i) => i.repoTags).sort()).toEqual(["busybox:1", "busybox:2"]);

    const together = newStore({ mirror: secured.addr, credentials: (registry) => (registry === "docker.io" ? LOGIN : undefined) });
    await Promise.all([together.pull("busybox:1"), together.pull("busybox:2"), together.pull("busybox:1")]);
    expect(together.layersUnpacked).toBe(3);
  });

  test("bearer tokens, with credentials and anonymous", async () => {
    const withLogin = await startTokenFront(open.addr, LOGIN);
    const anonymous = await startTokenFront(open.addr);
    fronts.push(withLogin, anonymous);
    const store = newStore();
    await store.pull(`${withLogin.addr}/shoal/layered:1`, { auth: LOGIN });
    expect(withLogin.tokensIssued).toBeGreaterThan(0);
    const wrong = await failure(newStore().pull(`${withLogin.addr}/shoal/layered:1`, { auth: { ...LOGIN, password: "x" } }));
    expect(oneLine(wrong)).toMatch(/refused the credentials/);
    await newStore().pull(`${anonymous.addr}/library/busybox:1`);
    expect(anonymous.tokensIssued).toBeGreaterThan(0);
  });

  test("a corrupted blob is a digest error and nothing is half-written", async () => {
    const unique = await layerTar([{ path: "random.bin", content: randomBytes(4096).toString("hex") }]);
    const img = makeImage("corrupt:1", [await busyboxLayer(), unique]);
    await pushImage(img, open.addr, "shoal/corrupt:1");
    const blob = open.blobPath(`sha256:${createHashHex(img.layers[1])}`);
    const data = readFileSync(blob);
    data[Math.floor(data.length / 2)] ^= 0xff;
    writeFileSync(blob, data);
    const store = newStore();
    const e = await failure(store.pull(`${open.addr}/shoal/corrupt:1`));
    expect(oneLine(e)).toMatch(/digest mismatch/);
    expect(e.code).toBe(15); // DATA_LOSS
    expect(await store.list()).toEqual([]);
    expect(readdirSync(join(store.root, "tmp"))).toEqual([]);
    expect(readdirSync(join(store.root, "layers"))).toEqual([]); // the good base layer was collected too
  });
});

describe("import and load", () => {
  test("import of a rootfs tarball: one layer, no default command", async () => {
    const store = newStore();
    const tar = makeBusyboxTarball(join(root, "rootfs.tar"), mkdtempSync(join(root, "rootfs-")), { "hello.txt": "hi\n" });
    const img = await store.importRootfs(tar, "imported:1");
    expect(img.repoTags).toEqual(["imported:1"]);
    const r = await store.resolve("imported:1");
    expect(r.layerDirs).toHaveLength(1);
    expect(r.config.Cmd).toBeUndefined();
    expect(readFileSync(join(r.layerDirs[0], "hello.txt"), "utf8")).toBe("hi\n");
    expect((await store.inspect("imported:1")).RootFS.Layers).toHaveLength(1);
    const bad = await failure(store.importRootfs(tar, "Bad:Name"));
    expect(oneLine(bad)).toMatch(/must be lowercase/);
  });

  test("load of a docker save tarball", async () => {
    const store = newStore();
    const tar = writeDockerSave(join(root, "save.tar"), [await busyboxWeb(1), await layeredImage()]);
    expect(await store.load(tar)).toEqual(["busybox:1", "shoal/layered:1"]);
    const r = await store.resolve("shoal/layered:1");
    expect(r.layerDirs).toHaveLength(3);
    expect(store.layersUnpacked).toBe(4); // the busybox layer is shared
    withOverlay(r.layerDirs, (m) => expect(existsSync(join(m, "data/gone.txt"))).toBe(false));
  });

  test("load of an OCI layout tarball", async () => {
    const store = newStore();
    const dir = join(root, "layout");
    mkdirSync(dir);
    const tar = tarDir(writeOciLayout(dir, [await busyboxWeb(2)]), join(root, "layout.tar"));
    expect(await store.load(tar)).toEqual(["busybox:2"]);
    withOverlay((await store.resolve("busybox:2")).layerDirs, (m) => expect(readFileSync(join(m, "var/www/index.html"), "utf8")).toBe("shoal v2\n"));
    const notImage = join(root, "junk.tar");
    execFileSync("tar", ["-cf", notImage, "-C", root, "rootfs.tar"]);
    expect(oneLine(await failure(store.load(notImage)))).toMatch(/neither a docker save tarball/);
  });
});

describe("push", () => {
  test("pushes a loaded image (basic auth) that a fresh store then pulls; mirrors may omit library/", async () => {
    const store = newStore();
    await store.load(writeDockerSave(join(root, "push.tar"), [await layeredImage("pushme:1")]));
    await store.tag("pushme:1", `${secured.addr}/pushed/layered:7`);
    const denied = await failure(store.push(`${secured.addr}/pushed/layered:7`, { auth: { ...LOGIN, password: "bad" } }));
    expect(oneLine(denied)).toMatch(/^push .*refused the credentials/);
    const digest = await store.push(`${secured.addr}/pushed/layered:7`, { auth: LOGIN });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const other = newStore();
    await other.pull(`${secured.addr}/pushed/layered:7@${digest}`, { auth: LOGIN });
    const a = await store.resolve("pushme:1");
    const b = await other.resolve(`${secured.addr}/pushed/layered@${digest}`);
    expect(b.id).toBe(a.id);

    await store.tag("pushme:1", `${open.addr}/plain:1`);
    await store.push(`${open.addr}/plain:1`);
    const viaMirror = newStore({ mirror: open.addr });
    await viaMirror.pull("plain:1");
    expect((await viaMirror.resolve("plain:1")).id).toBe(a.id);
  });
});

describe("remove", () => {
  test("refused while in use; untags first; removes only unreferenced layers", async () => {
    const inUse = new Set<string>();
    const store = newStore({ isInUse: (id) => inUse.has(id) });
    await store.load(writeDockerSave(join(root, "rm.tar"), [await busyboxWeb(1), await busyboxWeb(2)]));
    const one = await store.resolve("busybox:1");
    await store.tag("busybox:1", "mine:latest");
    expect(await store.remove("mine")).toEqual({ untagged: ["mine:latest"], deleted: [] });
    inUse.add(one.id);
    const refused = await failure(store.remove("busybox:1"));
    expect(oneLine(refused)).toMatch(/is used by a container: remove the container first/);
    inUse.clear();
    const res = await store.remove("busybox:1");
    expect(res.untagged).toContain("busybox:1");
    expect(res.deleted[0]).toBe(one.id);
    expect(existsSync(one.layerDirs[1])).toBe(false); // its own page layer
    expect(existsSync(one.layerDirs[0])).toBe(true); // busybox:2 still uses the base
    const two = await store.resolve("busybox:2");
    expect(two.layerDirs[0]).toBe(one.layerDirs[0]);
    await store.remove(two.id.slice(7, 19));
    expect(readdirSync(join(store.root, "layers"))).toEqual([]);
    expect(oneLine(await failure(store.inspect("busybox:2")))).toMatch(/no such image: busybox:2/);
  });
});

function createHashHex(data: Buffer): string {
  return execFileSync("sha256sum", { input: data }).toString().split(" ")[0];
}
