// The command groups as commander wires them: values that look like options reach the flag
// parsers, and refusals come before any call to the daemon (the socket here does not exist).
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { register as registerNode } from "../../../cli/commands/node.js";
import { register as registerService } from "../../../cli/commands/service.js";
import { joinInstructions, register as registerSwarm } from "../../../cli/commands/swarm.js";

async function run(...argv: string[]): Promise<{ stderr: string; stdout: string; code: number }> {
  const program = new Command("shoal").option("-H, --host <url>").enablePositionalOptions().exitOverride();
  for (const register of [registerSwarm, registerNode, registerService]) register(program);
  let stderr = "";
  let stdout = "";
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  await program.parseAsync(["-H", "unix:///nonexistent/shoal-cli-test.sock", ...argv], { from: "user" });
  const code = Number(process.exitCode ?? 0);
  vi.restoreAllMocks();
  return { stderr, stdout, code };
}

afterEach(() => {
  process.exitCode = 0;
});

describe("cluster commands", () => {
  it.each([
    [["service", "create", "--replicas", "-1", "busybox"], "shoal: invalid --replicas -1: use a whole number of at least 0\n"],
    [["service", "create", "--replicas=-1", "busybox"], "shoal: invalid --replicas -1: use a whole number of at least 0\n"],
    [["service", "create", "--update-delay", "-5s", "busybox"], "shoal: invalid --update-delay -5s: a duration cannot be negative\n"],
    [["service", "create", "-p", "8080:80/icmp", "busybox"], "shoal: invalid --publish protocol icmp: use tcp, udp or sctp\n"],
    [["service", "scale", "web=-1"], "shoal: invalid scale specifier web=-1: replicas must be a whole number of at least 0\n"],
    [["swarm", "join-token", "admin"], "shoal: unknown role admin: use worker or manager\n"],
  ])("refuses %j in one line before calling the daemon", async (argv, message) => {
    const r = await run(...argv);
    expect(r.stderr).toBe(message);
    expect(r.code).toBe(125);
  });

  it("passes flags after the image to the command", async () => {
    const r = await run("service", "create", "--name", "web", "busybox", "sh", "-c", "echo --replicas -1");
    expect(r.stderr).toMatch(/^shoal: cannot connect to the Shoal daemon at unix:\/\/\/nonexistent\/shoal-cli-test.sock/);
    expect(r.code).toBe(1);
  });

  it("prints the join command as docker does", () => {
    expect(joinInstructions("worker", "SWMTKN-1-x", "10.0.0.1:2377")).toBe(
      "To add a worker to this swarm, run the following command:\n\n    shoal swarm join --token SWMTKN-1-x 10.0.0.1:2377\n\n",
    );
  });
});
