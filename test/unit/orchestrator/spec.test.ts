import { describe, expect, it } from "vitest";
import { validateServiceSpec } from "../../../manager/orchestrator/spec.js";
import { service } from "../scheduler/fixtures.js";

describe("service spec validation", () => {
  it("accepts a plain spec", () => {
    expect(() => validateServiceSpec(service("web", { replicas: 3, constraints: ["node.role==worker"], hostPort: 8080 }).spec!)).not.toThrow();
  });

  it.each([
    ["a bad name", (s: ReturnType<typeof service>) => (s.spec!.annotations!.name = "-web"), "invalid service name"],
    ["no image", (s: ReturnType<typeof service>) => (s.spec!.task!.container!.image = ""), "has no image"],
    ["a malformed constraint", (s: ReturnType<typeof service>) => (s.spec!.task!.placement!.constraints = ["node.labels.zone=east"]), "invalid constraint"],
    ["a bad preference", (s: ReturnType<typeof service>) => (s.spec!.task!.placement!.preferences = [{ spread: { spreadDescriptor: "zone" } }]), "placement preference"],
    ["a port published twice", (s: ReturnType<typeof service>) => s.spec!.endpoint!.ports.push({ ...s.spec!.endpoint!.ports[0] }), "twice"],
  ])("refuses %s in one line", (_, edit, hint) => {
    const s = service("web", { hostPort: 8080 });
    edit(s);
    expect(() => validateServiceSpec(s.spec!)).toThrow(hint);
  });
});
