import { describe, expect, it } from "vitest";
import { cgroup2Mount, remountOptions } from "../../../agent/daemon/cgroup-moves.js";

const HYBRID = [
  "31 25 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "33 31 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
].join("\n");
const PURE = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";

describe("the cgroup2 mount's favordynmods", () => {
  it("finds the cgroup2 mount beside v1 hierarchies, or alone, with its own options", () => {
    expect(cgroup2Mount(HYBRID)).toEqual({ mountPoint: "/sys/fs/cgroup/unified", superOptions: ["rw"] });
    expect(cgroup2Mount(PURE)).toEqual({ mountPoint: "/sys/fs/cgroup", superOptions: ["rw", "nsdelegate", "memory_recursiveprot"] });
    expect(cgroup2Mount(HYBRID.split("\n").slice(0, 2).join("\n"))).toBeUndefined();
  });

  it("remounts keeping the mount's options, which a cgroup2 remount would otherwise drop", () => {
    expect(remountOptions(cgroup2Mount(PURE)!)).toBe("remount,nsdelegate,memory_recursiveprot,favordynmods");
    expect(remountOptions(cgroup2Mount(HYBRID)!)).toBe("remount,favordynmods");
  });
});
