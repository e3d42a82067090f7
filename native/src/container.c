#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "mounts.h"
#include "netns.h"
#include "seccomp.h"

extern char **environ;

/* Runs in the new namespaces; only returns on failure. */
static int child_setup(const struct spec *s, const int stdio[3], int netns_fd, int sync, struct rt_error *err) {
  char go;
  if (read(sync, &go, 1) != 1) return fail(err, "wait for the cgroup join");
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) return fail(err, "reset signal mask");
  if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0) return fail(err, "join network namespace %s", s->netns);
  if (!strcmp(s->netns, "new") && loopback_up(err) < 0) return -1;
  if (sethostname(s->hostname, strlen(s->hostname)) < 0) return fail(err, "sethostname %s", s->hostname);
  if (mounts_setup(s, err) < 0) return -1;
  if (chdir(s->cwd) < 0) return fail(err, "chdir %s", s->cwd);
  for (int i = 0; i < 3; i++)
    if (stdio[i] >= 0 && dup2(stdio[i], i) < 0) return fail(err, "dup2 stdio %d", i);
  if (drop_privileges(s->uid, s->gid, s->groups, s->ngroups, err) < 0) return -1;
  /* Nothing of the runtime's (spec, sockets, state files) may leak into the container. */
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) return fail(err, "mark fds close-on-exec");
  if (s->seccomp && seccomp_load_default(err) < 0) return -1;
  environ = (char **)s->env;
  execvp(s->args[0], (char **)s->args);
  return fail(err, "exec %s", s->args[0]);
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

int container_create(const struct spec *s, const int stdio[3], struct container *c, struct rt_error *err) {
  int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
  int netns_fd = -1, sv[2];
  memset(c, 0, sizeof *c);
  if (!strcmp(s->netns, "new")) {
    flags |= CLONE_NEWNET;
  } else if (strcmp(s->netns, "host")) {
    netns_fd = open(s->netns, O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) return fail(err, "open network namespace %s", s->netns);
  }
  if (access(s->rootfs, F_OK) < 0) {
    fail(err, "rootfs %s", s->rootfs);
    goto out_netns;
  }
  if (cgroup_create(s, &c->cg, err) < 0) goto out_netns;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    fail(err, "socketpair");
    goto out_cgroup;
  }
  /* Raw clone with no new stack behaves like fork, with every namespace made in the same call. */
  pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0);
  if (pid < 0) {
    fail(err, "clone namespaces");
    goto out_sync;
  }
  if (pid == 0) {
    close(sv[0]);
    struct rt_error cerr;
    child_setup(s, stdio, netns_fd, sv[1], &cerr);
    (void)!write(sv[1], cerr.msg, strlen(cerr.msg));
    _exit(127);
  }
  close(sv[1]);
  sv[1] = -1;
  c->pid = pid;
  if (cgroup_join(&c->cg, pid, err) < 0) goto out_child;
  if (write(sv[0], "g", 1) != 1) {
    fail(err, "start container process");
    goto out_child;
  }
  ssize_t n;
  while ((n = read(sv[0], err->msg, sizeof err->msg - 1)) < 0 && errno == EINTR) {
  }
  if (n < 0) {
    fail(err, "read container start result");
    goto out_child;
  }
  if (n > 0) { /* the child's own message, naming its failing step */
    err->msg[n] = 0;
    goto out_child;
  }
  close(sv[0]);
  if (netns_fd >= 0) close(netns_fd);
  return 0;
out_child:
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
out_sync:
  close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
out_cgroup:;
  struct rt_error ignored;
  cgroup_destroy(&c->cg, &ignored);
out_netns:
  if (netns_fd >= 0) close(netns_fd);
  return -1;
}
