/* `shoal run`, as cli/commands/run.ts: create, then start; in the foreground follow the log and
   wait for the exit (both in place before the start, so a fast container loses nothing), forward
   SIGINT and SIGTERM, and exit with the container's code. An image not here yet is left to the
   Node CLI, which pulls it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "values.h"

struct run_opts {
  int detach, rm;
  const char *name, *workdir, *user, *hostname, *network, *memory, *cpus, *pids, *restart, *stop_timeout, *stop_signal, *entrypoint;
  const char *env[CLI_MAX_LIST], *volume[CLI_MAX_LIST], *publish[CLI_MAX_LIST];
  size_t nenv, nvolume, npublish;
};

/* Returns the image's index or FALL_BACK. */
static int parse_opts(int argc, char **argv, struct run_opts *o) {
  const struct cli_opt opts[] = {
      {'d', "detach", NULL, &o->detach, NULL, NULL},
      {0, "rm", NULL, &o->rm, NULL, NULL},
      {0, "name", &o->name, NULL, NULL, NULL},
      {'e', "env", NULL, NULL, o->env, &o->nenv},
      {'w', "workdir", &o->workdir, NULL, NULL, NULL},
      {'u', "user", &o->user, NULL, NULL, NULL},
      {'h', "hostname", &o->hostname, NULL, NULL, NULL},
      {'v', "volume", NULL, NULL, o->volume, &o->nvolume},
      {'p', "publish", NULL, NULL, o->publish, &o->npublish},
      {0, "network", &o->network, NULL, NULL, NULL},
      {'m', "memory", &o->memory, NULL, NULL, NULL},
      {0, "cpus", &o->cpus, NULL, NULL, NULL},
      {0, "pids-limit", &o->pids, NULL, NULL, NULL},
      {0, "restart", &o->restart, NULL, NULL, NULL},
      {0, "stop-timeout", &o->stop_timeout, NULL, NULL, NULL},
      {0, "stop-signal", &o->stop_signal, NULL, NULL, NULL},
      {0, "entrypoint", &o->entrypoint, NULL, NULL, NULL},
  };
  return cli_options(argc, argv, opts, sizeof opts / sizeof opts[0]);
}

struct follow {
  int first, done_reading;
};

static void on_log(struct grpc_call *k, const uint8_t *msg, size_t len) {
  struct follow *f = k->ctx;
  Shoal__Engine__LogChunk *c = shoal__engine__log_chunk__unpack(NULL, len, msg);
  if (!c) return;
  f->first = 1;
  if (!strcmp(c->stream, "stderr")) cli_write(2, c->data.data, c->data.len);
  else if (!strcmp(c->stream, "stdout")) cli_write(1, c->data.data, c->data.len);
  shoal__engine__log_chunk__free_unpacked(c, NULL);
}

struct waiter {
  int first, exited, code;
};

static void on_wait(struct grpc_call *k, const uint8_t *msg, size_t len) {
  struct waiter *w = k->ctx;
  Shoal__Engine__WaitResponse *r = shoal__engine__wait_response__unpack(NULL, len, msg);
  if (!r) return;
  w->first = 1;
  if (!r->registered && !w->exited) {
    w->exited = 1;
    w->code = r->exit_code;
  }
  shoal__engine__wait_response__free_unpacked(r, NULL);
}

/* Builds the config as run.ts does; FALL_BACK for any value the Node CLI would refuse. */
static int build_config(const struct run_opts *o, const char *image, int nargs, char **args, Shoal__Engine__ContainerConfig *cfg,
                        Shoal__Engine__RestartPolicy *rp) {
  static Shoal__Engine__Mount mounts[CLI_MAX_LIST];
  static Shoal__Engine__Mount *mount_ptrs[CLI_MAX_LIST];
  static Shoal__Engine__PortBinding ports[CLI_MAX_LIST];
  static Shoal__Engine__PortBinding *port_ptrs[CLI_MAX_LIST];
  static char *env[CLI_MAX_LIST];
  static char *entry[1];
  shoal__engine__container_config__init(cfg);
  cfg->image = (char *)image;
  cfg->n_cmd = (size_t)nargs;
  cfg->cmd = args;
  if (o->entrypoint) {
    cfg->entrypoint_set = 1;
    if (o->entrypoint[0]) {
      entry[0] = (char *)o->entrypoint;
      cfg->entrypoint = entry;
      cfg->n_entrypoint = 1;
    }
  }
  for (size_t i = 0; i < o->nenv; i++)
    if (value_env(o->env[i], &env[i]) < 0) return FALL_BACK;
  cfg->env = env;
  cfg->n_env = o->nenv;
  cfg->working_dir = (char *)(o->workdir ? o->workdir : "");
  cfg->user = (char *)(o->user ? o->user : "");
  cfg->hostname = (char *)(o->hostname ? o->hostname : "");
  for (size_t i = 0; i < o->nvolume; i++) {
    if (value_volume(o->volume[i], &mounts[i]) < 0) return FALL_BACK;
    mount_ptrs[i] = &mounts[i];
  }
  cfg->mounts = mount_ptrs;
  cfg->n_mounts = o->nvolume;
  for (size_t i = 0; i < o->npublish; i++) {
    if (value_publish(o->publish[i], &ports[i]) < 0) return FALL_BACK;
    port_ptrs[i] = &ports[i];
  }
  cfg->ports = port_ptrs;
  cfg->n_ports = o->npublish;
  cfg->network_mode = (char *)(o->network ? o->network : "bridge");
  if (o->memory && value_size(o->memory, &cfg->memory_bytes) < 0) return FALL_BACK;
  if (o->cpus && value_cpus(o->cpus, &cfg->nano_cpus) < 0) return FALL_BACK;
  int64_t v;
  if (o->pids) {
    if (value_int(o->pids, 1, &v) < 0) return FALL_BACK;
    cfg->pids_limit = v;
  }
  if (value_restart(o->restart ? o->restart : "no", rp) < 0) return FALL_BACK;
  cfg->restart_policy = rp;
  cfg->auto_remove = o->rm;
  cfg->stop_timeout = -1;
  if (o->stop_timeout) {
    if (value_int(o->stop_timeout, 0, &v) < 0) return FALL_BACK;
    cfg->stop_timeout = (int32_t)v;
  }
  cfg->stop_signal = (char *)(o->stop_signal ? o->stop_signal : "SIGTERM");
  return 0;
}

/* A start that failed leaves no container behind (removeAfterFailure). */
static int remove_after_failure(struct cli *c, char *id, const struct grpc_call *failed) {
  Shoal__Engine__RemoveContainerRequest rm = SHOAL__ENGINE__REMOVE_CONTAINER_REQUEST__INIT;
  rm.id = id;
  rm.force = 1;
  struct grpc_call k;
  ProtobufCMessage *r = cli_call(c, &k, "RemoveContainer", &rm.base, &shoal__engine__empty__descriptor);
  if (r) protobuf_c_message_free_unpacked(r, NULL);
  cli_fail(c, failed);
  return 125;
}

int cmd_run(struct cli *c, int argc, char **argv) {
  struct run_opts o = {0};
  int img = parse_opts(argc, argv, &o);
  if (img == FALL_BACK) return FALL_BACK;
  Shoal__Engine__ContainerConfig cfg;
  Shoal__Engine__RestartPolicy rp;
  if (build_config(&o, argv[img], argc - img - 1, argv + img + 1, &cfg, &rp) == FALL_BACK) return FALL_BACK;

  Shoal__Engine__CreateContainerRequest req = SHOAL__ENGINE__CREATE_CONTAINER_REQUEST__INIT;
  req.name = (char *)(o.name ? o.name : "");
  req.config = &cfg;
  req.start = o.detach; /* detached, the daemon starts it in the same call (and removes it if that fails) */
  struct grpc_call k;
  Shoal__Engine__CreateContainerResponse *created =
      (Shoal__Engine__CreateContainerResponse *)cli_call(c, &k, "CreateContainer", &req.base, &shoal__engine__create_container_response__descriptor);
  if (!created) {
    if (k.status != GRPC_OK && !strncmp(k.message, "no such image", 13)) return FALL_BACK; /* the Node CLI pulls it */
    cli_fail(c, &k);
    return 125;
  }
  char *id = created->id;
  Shoal__Engine__ContainerRef ref = SHOAL__ENGINE__CONTAINER_REF__INIT;
  ref.id = id;

  if (o.detach) {
    if (!created->started) { /* an older daemon ignores `start` */
      ProtobufCMessage *r = cli_call(c, &k, "StartContainer", &ref.base, &shoal__engine__empty__descriptor);
      if (!r) return remove_after_failure(c, id, &k);
      protobuf_c_message_free_unpacked(r, NULL);
    }
    cli_write(1, id, strlen(id));
    cli_write(1, "\n", 1);
    return 0;
  }

  static struct grpc_call logs, wait;
  struct follow f = {0};
  struct waiter w = {0};
  Shoal__Engine__LogsRequest lr = SHOAL__ENGINE__LOGS_REQUEST__INIT;
  lr.id = id;
  lr.follow = 1;
  lr.tail = -1;
  logs.ctx = &f;
  logs.on_message = on_log;
  wait.ctx = &w;
  wait.on_message = on_wait;
  grpc_start(&c->conn, &logs, engine_path("ContainerLogs"), &lr.base);
  grpc_start(&c->conn, &wait, engine_path("WaitContainer"), &ref.base);
  while (!(f.first && w.first)) {
    struct grpc_call *ended = logs.done && !f.first ? &logs : wait.done && !w.first ? &wait : NULL;
    if (ended) {
      cli_fail(c, ended);
      return 1;
    }
    grpc_step(&c->conn, -1, -1);
  }
  ProtobufCMessage *r = cli_call(c, &k, "StartContainer", &ref.base, &shoal__engine__empty__descriptor);
  if (!r) return remove_after_failure(c, id, &k);
  protobuf_c_message_free_unpacked(r, NULL);

  /* From here the container gets the terminal's signals (as `docker run` forwards them). */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
  static struct grpc_call kills[16];
  int nkills = 0;
  while (!w.exited) {
    if (wait.done) { /* ended without an exit: its error is the command's */
      if (wait.status == GRPC_OK) return 0;
      cli_fail(c, &wait);
      return 1;
    }
    if (grpc_step(&c->conn, sfd, -1) == 1) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si && nkills < 16) {
        Shoal__Engine__KillContainerRequest kr = SHOAL__ENGINE__KILL_CONTAINER_REQUEST__INIT;
        kr.id = id;
        kr.signal = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        grpc_start(&c->conn, &kills[nkills++], engine_path("KillContainer"), &kr.base);
      }
    }
  }
  while (!logs.done && grpc_step(&c->conn, -1, -1) >= 0) {
  }
  return w.code;
}
