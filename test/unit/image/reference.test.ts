import { describe, expect, test } from "vitest";
import { familiarString, parseReference } from "../../../agent/engine/image/reference.js";

const D = "sha256:" + "a".repeat(64);

describe("image references", () => {
  test.each([
    ["busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
    ["busybox:1", { registry: "docker.io", repository: "library/busybox", tag: "1" }],
    ["user/app:v1.2", { registry: "docker.io", repository: "user/app", tag: "v1.2" }],
    ["localhost:5000/x/y:tag", { registry: "localhost:5000", repository: "x/y", tag: "tag" }],
    ["localhost/x", { registry: "localhost", repository: "x", tag: "latest" }],
    ["127.0.0.1:5000/busybox", { registry: "127.0.0.1:5000", repository: "busybox", tag: "latest" }],
    ["registry.example.com/a/b/c", { registry: "registry.example.com", repository: "a/b/c", tag: "latest" }],
    [`busybox@${D}`, { registry: "docker.io", repository: "library/busybox", digest: D }],
    [`busybox:1@${D}`, { registry: "docker.io", repository: "library/busybox", tag: "1", digest: D }],
    ["docker.io/library/busybox:1", { registry: "docker.io", repository: "library/busybox", tag: "1" }],
    ["index.docker.io/busybox", { registry: "docker.io", repository: "library/busybox", tag: "latest" }],
    ["a__b-c.d:X_1", { registry: "docker.io", repository: "library/a__b-c.d", tag: "X_1" }],
  ])("%s", (ref, want) => {
    expect(parseReference(ref)).toEqual({ tag: undefined, digest: undefined, ...want });
  });

  test("familiar strings drop docker.io and library/", () => {
    expect(familiarString(parseReference("docker.io/library/busybox"))).toBe("busybox:latest");
    expect(familiarString(parseReference("docker.io/user/app:2"))).toBe("user/app:2");
    expect(familiarString(parseReference("localhost:5000/x/y:t"))).toBe("localhost:5000/x/y:t");
    expect(familiarString(parseReference(`busybox:1@${D}`))).toBe(`busybox@${D}`);
  });

  test.each([
    ["", "no image name"],
    ["Busybox", "must be lowercase"],
    ["busybox:", "tag"],
    ["busybox:-x", "tag"],
    ["busybox@sha256:abc", "digest"],
    ["busybox@md5:" + "a".repeat(64), "digest"],
    ["a//b", "name component"],
    ["a/-b", "name component"],
    ["bad_host:5000:x/y", "registry"],
    [":tag", "no repository name"],
    ["x".repeat(260), "255"],
  ])("rejects %j with one line naming the reference", (ref, why) => {
    let msg = "";
    try {
      parseReference(ref);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(why);
    expect(msg).toContain(`"${ref}"`);
    expect(msg).not.toContain("\n");
  });
});
