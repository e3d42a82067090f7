/* shoal-runtime: subcommands over one container at a time (docs/runtime.md). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "error.h"
#include "exec.h"
#include "netns.h"
#include "shim.h"
#include "spawner.h"
#include "spec.h"
#include "statefile.h"

static int usage(void) {
  fputs("usage: shoal-runtime run SPEC | start SPEC STATEDIR | state STATEDIR | kill STATEDIR SIGNAL |\n"
        "       delete [--keep-log] STATEDIR | exec STATEDIR|PID [--env K=V] [--cwd D] [--user U[:G]] -- CMD... |\n"
        "       netns-create PATH | netns-delete PATH | spawner\n",
        stderr);
  return 2;
}

static int cmd_run(const char *spec_path) {
  struct spec s;
  struct container c;
  struct rt_error err;
  int none[3] = {-1, -1, -1};
  if (spec_load(spec_path, &s, &err) < 0 || container_create(&s, none, &c, &err) < 0) {
    report(&err);
    return 125;
  }
  /* The container gets terminal signals itself; the runtime waits for it. */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  int st;
  while (waitpid(c.pid, &st, 0) < 0)
    if (errno != EINTR) {
      fail(&err, "wait for container");
      report(&err);
      return 125;
    }
  if (cgroup_destroy(&c.cg, &err) < 0) report(&err);
  return exit_code(st);
}

static int parse_signal(const char *name) {
  static const struct {
    const char *name;
    int sig;
  } table[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
               {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP}, {"CONT", SIGCONT}, {"WINCH", SIGWINCH}};
  char *end;
  long n = strtol(name, &end, 10);
  if (!*end && end != name) return n > 0 && n < 65 ? (int)n : -1;
  if (!strncmp(name, "SIG", 3)) name += 3;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(table[i].name, name)) return table[i].sig;
  return -1;
}

/* Alive and not a zombie: a finished shim may wait a while for a slow init to reap it. */
static int process_alive(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (pid <= 0 || read_file(path, buf, sizeof buf) <= 0) return 0;
  char *paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* The shim is alive, or (if it was killed) the container init still is. */
static int is_running(const char *dir, long *pid) {
  char path[PATH_MAX];
  *pid = state_read_long(dir, "pid");
  snprintf(path, sizeof path, "%s/exit", dir);
  if (*pid <= 0 || access(path, F_OK) == 0) return 0;
  long shim = state_read_long(dir, "shim.pid");
  return process_alive(shim) || process_alive(*pid);
}

static int cmd_state(const char *dir) {
  long pid;
  if (is_running(dir, &pid)) {
    printf("{\"status\":\"running\",\"pid\":%ld,\"shimPid\":%ld}\n", pid, state_read_long(dir, "shim.pid"));
    return 0;
  }
  char path[PATH_MAX], buf[96];
  int code = -1, sig = 0, oom = 0;
  snprintf(path, sizeof path, "%s/exit", dir);
  if (read_file(path, buf, sizeof buf) > 0) sscanf(buf, "%d %d %d", &code, &sig, &oom);
  printf("{\"status\":\"stopped\",\"pid\":%ld,\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s}\n", pid, code, sig,
         oom ? "true" : "false");
  return 0;
}

static int cmd_kill(const char *dir, const char *signame) {
  struct rt_error err;
  long pid;
  int sig = parse_signal(signame);
  if (sig < 0) {
    fail_msg(&err, "kill: unknown signal %s", signame);
  } else if (!is_running(dir, &pid)) {
    fail_msg(&err, "kill: container in %s is not running", dir);
  } else if (kill((pid_t)pid, sig) < 0) {
    fail(&err, "kill %ld with %s", pid, signame);
  } else {
    return 0;
  }
  report(&err);
  return 1;
}

static int cmd_delete(const char *dir, int keep_log) {
  struct rt_error err;
  char path[PATH_MAX];
  long pid;
  if (is_running(dir, &pid)) kill((pid_t)pid, SIGKILL);
  long shim = state_read_long(dir, "shim.pid");
  /* The shim records the exit and removes the cgroups; give it time to do so (5 s at most). */
  for (int i = 0; process_alive(shim) && i < 2500; i++) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  struct cgroups cg;
  snprintf(path, sizeof path, "%s/cgroups", dir);
  if (cgroup_load(&cg, path, &err) == 0 && cgroup_destroy(&cg, &err) < 0) {
    report(&err);
    return 1;
  }
  static const char *const files[] = {"pid", "shim.pid", "exit", "cgroups", "shim.sock", "log", "spec"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    if (keep_log && !strcmp(files[i], "log")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    if (unlink(path) < 0 && errno != ENOENT) {
      fail(&err, "delete %s", path);
      report(&err);
      return 1;
    }
  }
  if (!keep_log && rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY) {
    fail(&err, "delete %s", dir);
    report(&err);
    return 1;
  }
  return 0;
}

static int cmd_exec(int argc, char **argv) {
  static char *env[256];
  int nenv = 0;
  struct exec_opts o = {.env = env};
  int i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--")) {
      i++;
      break;
    }
    if (i + 1 >= argc) return usage();
    if (!strcmp(argv[i], "--env") && nenv < 255) env[nenv++] = argv[++i];
    else if (!strcmp(argv[i], "--cwd")) o.cwd = argv[++i];
    else if (!strcmp(argv[i], "--user")) o.user = argv[++i];
    else return usage();
  }
  if (i >= argc) return usage();
  o.argv = argv + i;
  return exec_in(argv[0], &o);
}

int runtime_main(int argc, char **argv) {
  struct rt_error err;
  if (argc == 2 && !strcmp(argv[1], "spawner")) return spawner_main();
  if (argc < 3) return usage();
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run") && argc == 3) return cmd_run(argv[2]);
  if (!strcmp(cmd, "start") && argc == 4) return shim_start(argv[2], argv[3]);
  if (!strcmp(cmd, "state") && argc == 3) return cmd_state(argv[2]);
  if (!strcmp(cmd, "kill") && argc == 4) return cmd_kill(argv[2], argv[3]);
  if (!strcmp(cmd, "delete") && argc == 3) return cmd_delete(argv[2], 0);
  if (!strcmp(cmd, "delete") && argc == 4 && !strcmp(argv[2], "--keep-log")) return cmd_delete(argv[3], 1);
  if (!strcmp(cmd, "exec")) return cmd_exec(argc - 2, argv + 2);
  if (!strcmp(cmd, "netns-create") && argc == 3) {
    if (netns_create(argv[2], &err) == 0) return 0;
    report(&err);
    return 1;
  }
  if (!strcmp(cmd, "netns-delete") && argc == 3) {
    if (netns_delete(argv[2], &err) == 0) return 0;
    report(&err);
    return 1;
  }
  return usage();
}

int main(int argc, char **argv) { return runtime_main(argc, argv); }
