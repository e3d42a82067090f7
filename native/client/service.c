/* `shoal service create -d`, as cli/commands/service.ts and cli/cluster/spec.ts make it: the same
   ServiceSpec, byte for byte (createServiceSpec's defaults: one replica, Swarm's update and
   rollback config, a VIP endpoint), sent to /shoal.swarm.Control/CreateService on the daemon's
   socket. Only --name, --replicas, --constraint and -e/--env are taken, with values as the Node
   CLI reads them; without -d (the Node CLI shows the service converging), with any other flag or
   any value it might refuse or read otherwise, the command is the Node CLI's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "swarm.pb-c.h"
#include "values.h"

struct create_opts {
  int detach;
  const char *name, *replicas;
  const char *env[CLI_MAX_LIST], *constraint[CLI_MAX_LIST];
  size_t nenv, nconstraint;
};

/* image.trim() is not empty: it holds a printable ASCII character (never whitespace to JavaScript). */
static int has_graphic(const char *s) {
  for (; *s; s++)
    if (*s > ' ' && *s < 0x7f) return 1;
  return 0;
}

/* wholeNumber(): /^\d+$/ (no spaces here, trim() aside) and a safe integer. */
static int whole_number(const char *s, uint64_t *out) {
  size_t n = strlen(s);
  if (!n || strspn(s, "0123456789") != n) return -1;
  while (n > 1 && *s == '0') s++, n--;
  if (n > 16) return -1;
  uint64_t v = strtoull(s, NULL, 10);
  if (v > 9007199254740991ULL) return -1; /* Number.MAX_SAFE_INTEGER */
  *out = v;
  return 0;
}

/* Name and value characters parseConstraint reads as given: printable ASCII without space, "=" or "!". */
static int plain(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '=' || s[i] == '!') return 0;
  return 1;
}

/* A constraint manager/scheduler/constraint.ts's parseConstraint takes, and constraint() stores as
   it is (trim() leaves it alone): KEY==VALUE or KEY!=VALUE, KEY one of the fixed keys (in lower
   case) or node.labels.NAME / engine.labels.NAME, node.role's value manager or worker. */
static int plain_constraint(const char *s) {
  size_t k = strcspn(s, "=!");
  if (!s[k] || s[k + 1] != '=' || !plain(s, k) || !plain(s + k + 2, strlen(s + k + 2))) return 0;
  const char *value = s + k + 2;
  static const char *const fixed[] = {"node.id", "node.hostname", "node.role", "node.platform.os", "node.platform.arch"};
  static const char *const prefixes[] = {"node.labels.", "engine.labels."};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    size_t n = strlen(prefixes[i]);
    if (k > n && !strncmp(s, prefixes[i], n)) return 1;
  }
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    if (strlen(fixed[i]) != k || strncmp(s, fixed[i], k)) continue;
    return strcmp(fixed[i], "node.role") || !strcasecmp(value, "manager") || !strcasecmp(value, "worker");
  }
  return 0;
}

static int cmd_create(struct cli *c, int argc, char **argv) {
  struct create_opts o = {0};
  const struct cli_opt opts[] = {
      {'d', "detach", NULL, &o.detach, NULL, NULL},
      {0, "name", &o.name, NULL, NULL, NULL},
      {0, "replicas", &o.replicas, NULL, NULL, NULL},
      {0, "constraint", NULL, NULL, o.constraint, &o.nconstraint},
      {'e', "env", NULL, NULL, o.env, &o.nenv},
  };
  int img = cli_options(argc, argv, opts, sizeof opts / sizeof opts[0]);
  if (img == FALL_BACK || !o.detach || !has_graphic(argv[img])) return FALL_BACK;

  uint64_t replicas = 1;
  if (o.replicas && whole_number(o.replicas, &replicas) < 0) return FALL_BACK;
  static char *env[CLI_MAX_LIST];
  for (size_t i = 0; i < o.nenv; i++)
    if (value_env(o.env[i], &env[i]) < 0) return FALL_BACK;
  for (size_t i = 0; i < o.nconstraint; i++)
    if (!plain_constraint(o.constraint[i])) return FALL_BACK;

  Shoal__Cluster__ContainerSpec container = SHOAL__CLUSTER__CONTAINER_SPEC__INIT;
  container.image = argv[img];
  container.args = argv + img + 1;
  container.n_args = (size_t)(argc - img - 1);
  container.env = env;
  container.n_env = o.nenv;
  Shoal__Cluster__Placement placement = SHOAL__CLUSTER__PLACEMENT__INIT;
  placement.constraints = (char **)o.constraint;
  placement.n_constraints = o.nconstraint;
  Shoal__Cluster__TaskSpec task = SHOAL__CLUSTER__TASK_SPEC__INIT;
  task.container = &container;
  task.placement = &placement;
  Shoal__Cluster__Annotations annotations = SHOAL__CLUSTER__ANNOTATIONS__INIT;
  annotations.name = (char *)(o.name ? o.name : "");
  Shoal__Cluster__ReplicatedService replicated = SHOAL__CLUSTER__REPLICATED_SERVICE__INIT;
  replicated.replicas = replicas;
  /* DEFAULT_UPDATE_CONFIG, for updates and rollbacks: one at a time, pause on failure, 5 s watch, stop-first. */
  Shoal__Cluster__UpdateConfig update = SHOAL__CLUSTER__UPDATE_CONFIG__INIT;
  update.parallelism = 1;
  update.monitor_ms = 5000;
  update.failure_action = SHOAL__CLUSTER__UPDATE_FAILURE_ACTION__UPDATE_FAILURE_ACTION_PAUSE;
  update.order = SHOAL__CLUSTER__UPDATE_ORDER__UPDATE_ORDER_STOP_FIRST;
  Shoal__Cluster__EndpointSpec endpoint = SHOAL__CLUSTER__ENDPOINT_SPEC__INIT;
  endpoint.mode = SHOAL__CLUSTER__ENDPOINT_MODE__ENDPOINT_MODE_VIP;
  Shoal__Cluster__ServiceSpec spec = SHOAL__CLUSTER__SERVICE_SPEC__INIT;
  spec.annotations = &annotations;
  spec.task = &task;
  spec.mode_case = SHOAL__CLUSTER__SERVICE_SPEC__MODE_REPLICATED;
  spec.replicated = &replicated;
  spec.update = &update;
  spec.rollback = &update;
  spec.endpoint = &endpoint;
  Shoal__Swarm__CreateServiceRequest req = SHOAL__SWARM__CREATE_SERVICE_REQUEST__INIT;
  req.spec = &spec;

  struct grpc_call k;
  Shoal__Cluster__Service *s =
      (Shoal__Cluster__Service *)cli_unary(c, &k, "/shoal.swarm.Control/CreateService", &req.base, &shoal__cluster__service__descriptor);
  if (!s) {
    cli_fail(c, &k);
    return 1;
  }
  cli_write(1, s->id, strlen(s->id));
  cli_write(1, "\n", 1);
  shoal__cluster__service__free_unpacked(s, NULL);
  return 0;
}

int cmd_service(struct cli *c, int argc, char **argv) {
  if (argc > 0 && !strcmp(argv[0], "create")) return cmd_create(c, argc - 1, argv + 1);
  return FALL_BACK;
}
