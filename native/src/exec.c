#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "container.h"
#include "error.h"
#include "seccomp.h"
#include "statefile.h"

#define ENV_MAX 512

extern char **environ;
static pid_t exec_child; /* for the signal forwarder: unavoidable process-wide state */

static void forward(int sig) {
  if (exec_child > 0) kill(exec_child, sig);
}

/* The container init's environment, then the overrides (same key replaced). */
static int build_env(pid_t pid, char **over, char **env, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  long len = read_file(path, buf, size);
  int n = 0;
  for (long i = 0; len > 0 && i < len && n < ENV_MAX - 1; i += (long)strlen(buf + i) + 1)
    if (buf[i]) env[n++] = buf + i;
  for (char **o = over; *o && n < ENV_MAX - 1; o++) {
    size_t k = strcspn(*o, "=");
    int j;
    for (j = 0; j < n; j++)
      if (!strncmp(env[j], *o, k) && env[j][k] == '=') break;
    env[j] = *o;
    if (j == n) n++;
  }
  env[n] = NULL;
  return n;
}

static void init_ids(pid_t pid, uid_t *uid, gid_t *gid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  *uid = 0;
  *gid = 0;
  if (read_file(path, buf, sizeof buf) < 0) return;
  char *u = strstr(buf, "\nUid:"), *g = strstr(buf, "\nGid:");
  if (u) *uid = (uid_t)strtoul(u + 5, NULL, 10);
  if (g) *gid = (gid_t)strtoul(g + 5, NULL, 10);
}

/* For a bare pid: its memory, cpu, cpuacct and pids cgroups from /proc/PID/cgroup. */
static void cgroups_of(pid_t pid, struct cgroups *cg) {
  char path[64], buf[4096];
  memset(cg, 0, sizeof *cg);
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  if (read_file(path, buf, sizeof buf) < 0) return;
  for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && cg->n < CGROUP_MAX; l = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || !strcmp(c2 + 1, "/")) continue;
    *c2 = 0;
    const char *ctrl = c1 + 1;
    if (!*ctrl) {
      snprintf(cg->paths[cg->n], PATH_MAX, "%s%s",
               access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified", c2 + 1);
      cg->v2[cg->n++] = 1;
    } else if (!strcmp(ctrl, "memory") || !strcmp(ctrl, "cpu") || !strcmp(ctrl, "cpuacct") || !strcmp(ctrl, "pids")) {
      snprintf(cg->paths[cg->n++], PATH_MAX, "/sys/fs/cgroup/%s%s", ctrl, c2 + 1);
    }
  }
}

int exec_in(const char *target, const struct exec_opts *o) {
  struct rt_error err;
  struct cgroups cg;
  char *end;
  long pid = strtol(target, &end, 10);
  if (*end || end == target) {
    char path[PATH_MAX];
    pid = state_read_long(target, "pid");
    snprintf(path, sizeof path, "%s/exit", target);
    if (pid <= 0 || access(path, F_OK) == 0) {
      fail_msg(&err, "exec: container in %s is not running", target);
      goto fail;
    }
    snprintf(path, sizeof path, "%s/cgroups", target);
    if (cgroup_load(&cg, path, &err) < 0) goto fail;
  } else {
    cgroups_of((pid_t)pid, &cg);
  }
  static char envbuf[65536];
  static char *env[ENV_MAX];
  build_env((pid_t)pid, o->env, env, envbuf, sizeof envbuf);
  uid_t uid;
  gid_t gid;
  init_ids((pid_t)pid, &uid, &gid);
  int filtered = seccomp_filtered((pid_t)pid); /* read now: /proc is the container's once inside */
  if (o->user) {
    char *colon;
    uid = (uid_t)strtoul(o->user, &colon, 10);
    if (*colon == ':') gid = (gid_t)strtoul(colon + 1, &colon, 10);
    if (*colon) {
      fail_msg(&err, "exec: user %s is not uid[:gid]", o->user);
      goto fail;
    }
  }
  /* Open every namespace first: once in the mount namespace, /proc/PID is the container's. */
  static const char *const kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
  int fds[5];
  for (int i = 0; i < 5; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, kinds[i]);
    if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
      fail(&err, "open %s", path);
      goto fail;
    }
  }
  if (cgroup_join(&cg, getpid(), &err) < 0) goto fail;
  for (int i = 0; i < 5; i++) {
    if (setns(fds[i], 0) < 0) {
      fail(&err, "join %s namespace of %ld", kinds[i], pid);
      goto fail;
    }
    close(fds[i]);
  }
  /* setns(pid) places only our children in the container's pid namespace. */
  pid_t child = fork();
  if (child < 0) {
    fail(&err, "fork into pid namespace");
    goto fail;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const char *cwd = o->cwd ? o->cwd : "/";
    if (chdir(cwd) < 0) fail(&err, "chdir %s", cwd);
    else if (drop_privileges(uid, gid, &gid, 1, &err) == 0 && (!filtered || seccomp_load_default(&err) == 0)) {
      environ = env;
      execvp(o->argv[0], o->argv);
      fail(&err, "exec %s", o->argv[0]);
    }
    report(&err);
    _exit(127);
  }
  exec_child = child;
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  int st;
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR) {
      fail(&err, "wait for exec'd process");
      goto fail;
    }
  return exit_code(st);
fail:
  report(&err);
  return 126;
}
