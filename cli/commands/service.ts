// `shoal service create|ls|ps|inspect|scale|update|rollback|rm|logs`, as docker's; create, update,
// scale and rollback show the service converging unless -d.
import type { Command } from "commander";
import type { Service, ServiceSpec, UpdateStatus } from "../../proto/gen/cluster.js";
import type { ListTasksResponse } from "../../proto/gen/swarm.js";
import { clusterAction, eachRef } from "../cluster/action.js";
import type { Cluster } from "../cluster/connect.js";
import type { CreateFlags, UpdateFlags } from "../cluster/spec.js";
import { collect } from "../parse.js";

interface WaitFlags {
  detach?: boolean;
  quiet?: boolean;
}

/** The flags create and update share (docker's addServiceFlags). */
function commonFlags(cmd: Command): Command {
  return cmd
    .option("-d, --detach", "exit at once instead of waiting for the service to converge")
    .option("-q, --quiet", "no progress output")
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user>", "user[:group] the process runs as")
    .option("--hostname <name>", "container hostname")
    .option("--entrypoint <command>", "override the image's ENTRYPOINT (one string, split as a shell would)")
    .option("--replicas <n>", "number of tasks (replicated mode)")
    .option("--replicas-max-per-node <n>", "at most this many tasks on one node (0 = no limit)")
    .option("--endpoint-mode <mode>", "vip (one virtual IP) or dnsrr (DNS round robin)")
    .option("--reserve-cpu <cpus>", "CPUs to reserve per task, e.g. 0.5")
    .option("--reserve-memory <size>", "memory to reserve per task, e.g. 64m")
    .option("--limit-cpu <cpus>", "CPU limit per task")
    .option("--limit-memory <size>", "memory limit per task")
    .option("--restart-condition <when>", "none, on-failure or any (default any)")
    .option("--restart-delay <duration>", "wait between restarts (default 5s)")
    .option("--restart-max-attempts <n>", "restarts before giving up (0 = no limit)")
    .option("--restart-window <duration>", "window the attempts are counted over")
    .option("--stop-grace-period <duration>", "time between the stop signal and SIGKILL")
    .option("--health-cmd <command>", "command run in the container to check health (by /bin/sh)")
    .option("--health-interval <duration>", "time between checks")
    .option("--health-timeout <duration>", "longest a check may run")
    .option("--health-retries <n>", "failures in a row that make a task unhealthy")
    .option("--health-start-period <duration>", "grace time before failures count")
    .option("--no-healthcheck", "disable the image's HEALTHCHECK")
    .option("--update-parallelism <n>", "tasks updated at once (0 = all; default 1)")
    .option("--update-delay <duration>", "wait between batches (default 0s)")
    .option("--update-order <order>", "stop-first or start-first (default stop-first)")
    .option("--update-failure-action <action>", "pause, continue or rollback (default pause)")
    .option("--update-monitor <duration>", "how long each new task is watched for failure (default 5s)")
    .option("--update-max-failure-ratio <ratio>", "share of failed tasks tolerated (default 0)")
    .option("--rollback-parallelism <n>", "tasks rolled back at once (0 = all; default 1)")
    .option("--rollback-delay <duration>", "wait between rollback batches")
    .option("--rollback-order <order>", "stop-first or start-first")
    .option("--rollback-failure-action <action>", "pause or continue")
    .option("--rollback-monitor <duration>", "how long each rolled-back task is watched")
    .option("--rollback-max-failure-ratio <ratio>", "share of failed tasks tolerated in a rollback");
}

/** Shows the service converging unless -d. */
async function settle(c: Cluster, id: string, o: WaitFlags, extra: { rollback?: boolean; before?: UpdateStatus } = {}): Promise<void> {
  if (o.detach) return;
  const { waitForService } = await import("../cluster/converge.js");
  await waitForService(c, id, { quiet: o.quiet, ...extra });
}

async function getService(c: Cluster, ref: string): Promise<Service> {
  const { call } = await import("../client.js");
  const control = c.control();
  return call(control, control.getService, { ref });
}

/**
 * Reads the service, lets `change` make its new spec, and writes it with the version read (again
 * on a fresh read if someone wrote in between). Answers the service as it was read.
 */
async function changeService(c: Cluster, ref: string, change: (s: Service) => ServiceSpec | undefined, rollback = false): Promise<Service> {
  const { call } = await import("../client.js");
  const { rereadOnConflict } = await import("../cluster/connect.js");
  const control = c.control();
  return rereadOnConflict(async () => {
    const s = await getService(c, ref);
    await call(control, control.updateService, { ref: s.id, version: s.meta?.version ?? 0, spec: change(s), rollback });
    return s;
  });
}

/**
 * A spec names its networks by id, the user by name (or id): `--network-add|rm` compare names,
 * so the spec's networks are named and the --network-rm refs turned into names. The managers
 * name them by id again.
 */
async function networksByName(c: Cluster, o: UpdateFlags): Promise<(spec: ServiceSpec) => ServiceSpec> {
  const { call } = await import("../client.js");
  const control = c.control();
  const { networks } = await call(control, control.listNetworks, {});
  const nameOf = (ref: string) => networks.find((n) => n.id === ref || n.spec?.annotations?.name === ref)?.spec?.annotations?.name ?? networks.find((n) => n.id.startsWith(ref))?.spec?.annotations?.name ?? ref;
  o.networkRm = o.networkRm?.map(nameOf);
  return (spec) => {
    const named = structuredClone(spec);
    for (const a of named.task?.networks ?? []) a.target = nameOf(a.target);
    return named;
  };
}

export function register(program: Command): void {
  const service = program.command("service").description("Manage the swarm's services (on a manager)").enablePositionalOptions();

  const create = commonFlags(service.command("create").description("Create a service").argument("<image>").argument("[command...]", "command and arguments for the image"))
    .option("--name <name>", "service name")
    .option("--mode <mode>", "replicated (N tasks) or global (one per node)", "replicated")
    .option("-e, --env <KEY=VALUE>", "environment variable (repeatable)", collect)
    .option("-l, --label <key=value>", "service label (repeatable)", collect)
    .option("--mount <spec>", "type=bind|volume|tmpfs,source=SRC,target=/DST[,readonly] (repeatable)", collect)
    .option("-p, --publish <spec>", "8080:80[/udp] or published=8080,target=80,protocol=tcp,mode=ingress|host (repeatable)", collect)
    .option("--network <name>", "network to attach (repeatable)", collect)
    .option("--constraint <expr>", "placement constraint such as node.labels.zone==east (repeatable)", collect)
    .option("--placement-pref <pref>", "spread=node.labels.NAME (repeatable)", collect)
    .passThroughOptions();
  create.action(
    clusterAction(create, async (c, image: string, args: string[], o: CreateFlags & WaitFlags) => {
      const { call } = await import("../client.js");
      const { createServiceSpec } = await import("../cluster/spec.js");
      const spec = createServiceSpec(image, args, o);
      const control = c.control();
      const s = await call(control, control.createService, { spec });
      process.stdout.write(s.id + "\n");
      await settle(c, s.id, o);
    }),
  );

  const update = commonFlags(service.command("update").description("Update a service (a rolling update when its tasks change)").argument("<service>"))
    .option("--image <image>", "new image")
    .option("--args <command>", "new command arguments (one string, split as a shell would)")
    .option("--force", "replace the tasks even if nothing changed")
    .option("--rollback", "go back to the previous spec (as service rollback)")
    .option("--env-add <KEY=VALUE>", "add or change an environment variable (repeatable)", collect)
    .option("--env-rm <KEY>", "remove an environment variable (repeatable)", collect)
    .option("--label-add <key=value>", "add or change a service label (repeatable)", collect)
    .option("--label-rm <key>", "remove a service label (repeatable)", collect)
    .option("--mount-add <spec>", "add or replace a mount (repeatable)", collect)
    .option("--mount-rm <target>", "remove the mount at this target (repeatable)", collect)
    .option("--publish-add <spec>", "publish a port (repeatable)", collect)
    .option("--publish-rm <spec>", "stop publishing a target port, e.g. 80 or 80/udp (repeatable)", collect)
    .option("--network-add <name>", "attach a network (repeatable)", collect)
    .option("--network-rm <name>", "detach a network (repeatable)", collect)
    .option("--constraint-add <expr>", "add a placement constraint (repeatable)", collect)
    .option("--constraint-rm <expr>", "remove a placement constraint (repeatable)", collect)
    .option("--placement-pref-add <pref>", "add a placement preference (repeatable)", collect)
    .option("--placement-pref-rm <pref>", "remove a placement preference (repeatable)", collect);
  update.action(
    clusterAction(update, async (c, ref: string, o: UpdateFlags & WaitFlags & { rollback?: boolean }) => {
      const { updateServiceSpec } = await import("../cluster/spec.js");
      const byName = o.networkAdd || o.networkRm ? await networksByName(c, o) : undefined;
      const current = await changeService(c, ref, (s) => (o.rollback ? s.spec : updateServiceSpec(byName ? byName(s.spec ?? {}) : (s.spec ?? {}), o)), !!o.rollback);
      process.stdout.write(ref + "\n");
      await settle(c, current.id, o, { rollback: o.rollback, before: current.updateStatus });
    }),
  );

  const rollback = service.command("rollback").description("Go back to the service's previous spec").argument("<service>").option("-d, --detach", "exit at once").option("-q, --quiet", "no progress output");
  rollback.action(
    clusterAction(rollback, async (c, ref: string, o: WaitFlags) => {
      const current = await changeService(c, ref, (s) => s.spec, true);
      process.stdout.write(ref + "\n");
      await settle(c, current.id, o, { rollback: true, before: current.updateStatus });
    }),
  );

  const scale = service.command("scale").description("Scale replicated services").argument("<service=replicas...>").option("-d, --detach", "exit at once");
  scale.action(
    clusterAction(scale, async (c, specs: string[], o: WaitFlags) => {
      const { describe, CliError } = await import("../client.js");
      const { scaleSpec } = await import("../cluster/flags.js");
      const wanted = specs.map(scaleSpec);
      let failed = 0;
      const scaled: { name: string; id: string; before?: UpdateStatus }[] = [];
      for (const { name, replicas } of wanted) {
        try {
          const s = await changeService(c, name, (read) => {
            const spec = structuredClone(read.spec ?? {});
            if (spec.mode?.$case !== "replicated") throw new CliError(`${name}: scale can only be used with replicated services`);
            spec.mode.value.replicas = replicas;
            return spec;
          });
          process.stdout.write(`${name} scaled to ${replicas}\n`);
          scaled.push({ name, id: s.id, before: s.updateStatus });
        } catch (err) {
          failed++;
          process.stderr.write(`shoal: ${describe(err, c.host)}\n`);
        }
      }
      for (const s of scaled) {
        try {
          await settle(c, s.id, o, { before: s.before });
        } catch (err) {
          failed++;
          process.stderr.write(`shoal: ${s.name}: ${describe(err, c.host)}\n`);
        }
      }
      return failed ? 1 : 0;
    }),
  );

  const ls = service.command("ls").alias("list").description("List services").option("-q, --quiet", "only ids");
  ls.action(
    clusterAction(ls, async (c, o: { quiet?: boolean }) => {
      const { call } = await import("../client.js");
      const { serviceTable } = await import("../cluster/tables.js");
      const control = c.control();
      const { services } = await call(control, control.listServices, {});
      if (o.quiet) return void process.stdout.write(services.map((s) => s.service!.id.slice(0, 12) + "\n").join(""));
      process.stdout.write(serviceTable(services));
    }),
  );

  const ps = service.command("ps").description("List the tasks of services, with their history").argument("<services...>").option("-q, --quiet", "only task ids").option("--no-trunc", "do not shorten ids, images and errors");
  ps.action(
    clusterAction(ps, async (c, refs: string[], o: { quiet?: boolean; trunc?: boolean }) => {
      const { call } = await import("../client.js");
      const { sortedTasks, taskTable } = await import("../cluster/tables.js");
      const control = c.control();
      const all: ListTasksResponse = { tasks: [], nodeNames: {}, serviceNames: {} };
      for (const ref of refs) {
        const res = await call(control, control.listTasks, { service: ref, node: "" });
        all.tasks.push(...res.tasks);
        Object.assign(all.nodeNames, res.nodeNames);
        Object.assign(all.serviceNames, res.serviceNames);
      }
      const noTrunc = o.trunc === false;
      if (o.quiet) return void process.stdout.write(sortedTasks(all).map(({ task }) => (noTrunc ? task.id : task.id.slice(0, 12)) + "\n").join(""));
      process.stdout.write(taskTable(all, { noTrunc, now: Date.now() }));
    }),
  );

  const inspect = service.command("inspect").description("Show services in detail (JSON, or --pretty)").argument("<services...>").option("--pretty", "human-readable");
  inspect.action(
    clusterAction(inspect, async (c, refs: string[], o: { pretty?: boolean }) => {
      const { serviceJson } = await import("../cluster/json.js");
      const { servicePretty } = await import("../cluster/pretty.js");
      const found: Service[] = [];
      const code = await eachRef(c, refs, async (ref) => void found.push(await getService(c, ref)));
      if (o.pretty) process.stdout.write(found.map((s) => servicePretty(s, Date.now())).join(""));
      else process.stdout.write(JSON.stringify(found.map(serviceJson), null, 4) + "\n");
      return code;
    }),
  );

  const rm = service.command("rm").alias("remove").description("Remove services (their tasks stop)").argument("<services...>");
  rm.action(
    clusterAction(rm, async (c, refs: string[]) => {
      const { call } = await import("../client.js");
      const control = c.control();
      return eachRef(c, refs, async (ref) => {
        await call(control, control.removeService, { ref });
        process.stdout.write(ref + "\n");
      });
    }),
  );

  const logs = service
    .command("logs")
    .description("Show the output of every task of a service, from every node")
    .argument("<service>")
    .option("-f, --follow", "keep streaming new output")
    .option("-n, --tail <n>", "lines from the end of each task's log (default all)", "all")
    .option("-t, --timestamps", "show timestamps")
    .option("--no-task-ids", "leave task ids out of the prefix")
    .option("--no-trunc", "full task ids");
  logs.action(
    clusterAction(logs, async (c, ref: string, o: { follow?: boolean; tail: string; timestamps?: boolean; taskIds?: boolean; trunc?: boolean }) => {
      const { CliError } = await import("../client.js");
      const { logPrefix } = await import("../cluster/tables.js");
      if (o.tail !== "all" && !/^\d+$/.test(o.tail)) throw new CliError(`invalid --tail ${o.tail}: use a number or all`, 125);
      const s = await getService(c, ref);
      const replicas = s.spec?.mode?.$case === "replicated" ? s.spec.mode.value.replicas : 0;
      // The API reads tail 0 as "all": `--tail 0` asks for none of the old lines, so they are skipped here.
      const since = o.tail === "0" ? Date.now() * 1e3 : 0;
      const stream = c.control().serviceLogs({ service: s.id, follow: !!o.follow, tail: o.tail === "all" ? 0 : Number(o.tail) });
      await new Promise<void>((resolve, reject) => {
        stream.on("data", (l: import("../../proto/gen/swarm.js").LogLine) => {
          if (l.timeUnixMicro < since) return;
          const text = Buffer.from(l.line).toString();
          const time = o.timestamps ? new Date(l.timeUnixMicro / 1e3).toISOString() + " " : "";
          const line = `${time}${logPrefix(l, { replicas, noTaskIds: o.taskIds === false, noTrunc: o.trunc === false })}${text}${text.endsWith("\n") ? "" : "\n"}`;
          (l.stream === "stderr" ? process.stderr : process.stdout).write(line);
        });
        stream.on("end", resolve);
        stream.on("error", reject);
      });
    }),
  );
}
