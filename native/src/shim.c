#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "log.h"
#include "statefile.h"

#define MAX_CLIENTS 16

struct shim {
  struct container c;
  int listen_fd, sig_fd, out_fd, err_fd;
  int clients[MAX_CLIENTS];
  int nclients;
  int exited, status;
  struct log_stream out, err;
};

static int listen_on(const char *name, struct rt_error *err) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", name);
  if (unlink(name) < 0 && errno != ENOENT) return fail(err, "remove stale %s", name);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(err, "socket %s", name);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 16) < 0) {
    fail(err, "listen on %s", name);
    close(fd);
    return -1;
  }
  return fd;
}

static int signal_fd(struct rt_error *err) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return fail(err, "block SIGCHLD");
  int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return fail(err, "signalfd");
  return fd;
}

static void reap(struct shim *sh) {
  struct signalfd_siginfo si;
  while (read(sh->sig_fd, &si, sizeof si) > 0) {
  }
  int st;
  pid_t pid;
  /* As subreaper the shim also inherits orphans of exec'd processes: reap them all. */
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    if (pid == sh->c.pid) {
      sh->exited = 1;
      sh->status = st;
    }
  }
}

static void accept_client(struct shim *sh) {
  int fd = accept4(sh->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return;
  if (sh->nclients == MAX_CLIENTS) { /* the oldest watcher is most likely a dead daemon's */
    close(sh->clients[0]);
    memmove(sh->clients, sh->clients + 1, sizeof(int) * (MAX_CLIENTS - 1));
    sh->nclients--;
  }
  sh->clients[sh->nclients++] = fd;
}

static void drop_client(struct shim *sh, int i) {
  close(sh->clients[i]);
  sh->clients[i] = sh->clients[--sh->nclients];
}

static void run_loop(struct shim *sh) {
  struct pollfd pfd[4 + MAX_CLIENTS];
  for (;;) {
    if (sh->exited && sh->out_fd < 0 && sh->err_fd < 0) return;
    int n = 0;
    pfd[n++] = (struct pollfd){sh->sig_fd, POLLIN, 0};
    pfd[n++] = (struct pollfd){sh->listen_fd, POLLIN, 0};
    pfd[n++] = (struct pollfd){sh->out_fd, POLLIN, 0};
    pfd[n++] = (struct pollfd){sh->err_fd, POLLIN, 0};
    for (int i = 0; i < sh->nclients; i++) pfd[n++] = (struct pollfd){sh->clients[i], POLLIN, 0};
    /* Once init is gone the kernel kills its namespace; give stragglers holding the pipes 2 s. */
    int rc = poll(pfd, (nfds_t)n, sh->exited ? 2000 : -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return;
    if (pfd[0].revents) reap(sh);
    if (pfd[1].revents) accept_client(sh);
    if (pfd[2].revents && log_pump(&sh->out, sh->out_fd) <= 0) {
      close(sh->out_fd);
      sh->out_fd = -1;
    }
    if (pfd[3].revents && log_pump(&sh->err, sh->err_fd) <= 0) {
      close(sh->err_fd);
      sh->err_fd = -1;
    }
    for (int i = n - 1; i >= 4; i--) {
      char junk[64];
      if (pfd[i].revents && read(pfd[i].fd, junk, sizeof junk) <= 0) drop_client(sh, i - 4);
    }
  }
}

static void finish(struct shim *sh) {
  char line[96];
  int code = exit_code(sh->status);
  int sig = WIFSIGNALED(sh->status) ? WTERMSIG(sh->status) : 0;
  int oom = cgroup_oom_killed(&sh->c.cg);
  snprintf(line, sizeof line, "%d %d %d\n", code, sig, oom);
  struct rt_error err;
  if (state_write("exit", line, &err) < 0) report(&err);
  snprintf(line, sizeof line, "exit %d %d %d\n", code, sig, oom);
  for (int i = 0; i < sh->nclients; i++) (void)!write_all(sh->clients[i], line, strlen(line));
  if (cgroup_destroy(&sh->c.cg, &err) < 0) report(&err);
  unlink("shim.sock");
}

/* Runs in the detached shim; writes "ok PID SHIMPID" or the error to report_fd. */
static int shim_main(const char *spec_path, const char *state_dir, int report_fd) {
  static struct shim sh; /* 32 KiB of log buffers: keep them off the stack */
  struct spec s;
  struct rt_error err;
  int devnull = -1, out[2] = {-1, -1}, errp[2] = {-1, -1};
  sh.out = (struct log_stream){.name = "stdout"};
  sh.err = (struct log_stream){.name = "stderr"};
  if (spec_load(spec_path, &s, &err) < 0) goto fail;
  if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
    fail(&err, "mkdir state dir %s", state_dir);
    goto fail;
  }
  if (chdir(state_dir) < 0) {
    fail(&err, "chdir state dir %s", state_dir);
    goto fail;
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    fail(&err, "become subreaper");
    goto fail;
  }
  unlink("exit"); /* a restart in the same state dir */
  int log_fd = open("log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    fail(&err, "open log in %s", state_dir);
    goto fail;
  }
  sh.out.log_fd = sh.err.log_fd = log_fd;
  if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
    fail(&err, "open /dev/null");
    goto fail;
  }
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
    fail(&err, "pipe for container output");
    goto fail;
  }
  if ((sh.sig_fd = signal_fd(&err)) < 0) goto fail;
  if ((sh.listen_fd = listen_on("shim.sock", &err)) < 0) goto fail;
  int stdio[3] = {devnull, out[1], errp[1]};
  if (container_create(&s, stdio, &sh.c, &err) < 0) goto fail_sock;
  close(out[1]);
  close(errp[1]);
  sh.out_fd = out[0];
  sh.err_fd = errp[0];
  char v[32];
  snprintf(v, sizeof v, "%d\n", (int)getpid());
  if (state_write("shim.pid", v, &err) < 0 || cgroup_save(&sh.c.cg, "cgroups", &err) < 0) goto fail_container;
  snprintf(v, sizeof v, "%d\n", (int)sh.c.pid);
  if (state_write("pid", v, &err) < 0) goto fail_container;
  /* "ok PID SHIMPID": the start prints both, so the daemon need not read them back from files. */
  char ok[64];
  int oklen = snprintf(ok, sizeof ok, "ok %d %d", (int)sh.c.pid, (int)getpid());
  (void)!write_all(report_fd, ok, (size_t)oklen);
  close(report_fd);
  /* From here nobody reads our stderr: failures end up in the exit file or nowhere. */
  dup2(devnull, 1);
  dup2(devnull, 2);
  run_loop(&sh);
  finish(&sh);
  return 0;
fail_container:
  kill(sh.c.pid, SIGKILL);
  waitpid(sh.c.pid, NULL, 0);
  cgroup_destroy(&sh.c.cg, &(struct rt_error){{0}});
fail_sock:
  unlink("shim.sock");
fail:
  (void)!write_all(report_fd, err.msg, strlen(err.msg));
  return 1;
}

int shim_start(const char *spec_path, const char *state_dir) {
  int rpipe[2];
  struct rt_error err;
  if (pipe2(rpipe, O_CLOEXEC) < 0) {
    report_fail:
    fail(&err, "pipe to shim");
    report(&err);
    return 1;
  }
  pid_t first = fork();
  if (first < 0) goto report_fail;
  if (first == 0) {
    /* Double fork + setsid: the shim is nobody's child but init's (or a subreaper's), and has
       no controlling terminal, so the daemon's death or its session's signals do not reach it. */
    close(rpipe[0]);
    if (setsid() < 0) _exit(1);
    pid_t shim = fork();
    if (shim < 0) _exit(1);
    if (shim > 0) _exit(0);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) dup2(devnull, 0);
    cgroup_move_to_roots(getpid());
    _exit(shim_main(spec_path, state_dir, rpipe[1]));
  }
  close(rpipe[1]);
  while (waitpid(first, NULL, 0) < 0 && errno == EINTR) {
  }
  char msg[sizeof err.msg];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof msg - 1 && (n = read(rpipe[0], msg + got, sizeof msg - 1 - got)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += (size_t)n;
  }
  msg[got] = 0;
  close(rpipe[0]);
  if (!strncmp(msg, "ok ", 3)) {
    printf("%s\n", msg + 3);
    return 0;
  }
  if (!got) snprintf(msg, sizeof msg, "start: the shim exited before the container started");
  snprintf(err.msg, sizeof err.msg, "%s", msg);
  report(&err);
  return 1;
}
