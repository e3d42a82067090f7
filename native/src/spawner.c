#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "error.h"
#include "netlink.h"

/* Requests beyond this many running programs wait in the pipe until one finishes. */
#define MAX_JOBS 128
#define MAX_FIELDS 1024
#define MAX_FRAME (16u << 20)
#define MAX_OUTPUT (16u << 20)

enum outcome { EXITED = 0, SIGNALED = 1, NOT_STARTED = 2 };

struct buf {
  char *data;
  size_t len, cap;
};

struct job {
  int used;
  uint32_t seq;
  pid_t pid;
  int in_fd, out_fd, err_fd;
  struct buf in, out, err;
  size_t in_off;
  int reaped, status;
};

struct spawner {
  struct job jobs[MAX_JOBS];
  int njobs;
  struct buf req, resp;
  size_t resp_off;
  int sig_fd, eof;
};

static int buf_add(struct buf *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

static void buf_free(struct buf *b) {
  free(b->data);
  *b = (struct buf){0};
}

static int add_u32(struct buf *b, uint32_t v) { return buf_add(b, &v, 4); }

static int add_field(struct buf *b, const char *p, size_t n) { return add_u32(b, (uint32_t)n) || buf_add(b, p, n); }

static uint32_t get_u32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void reply(struct spawner *sp, uint32_t seq, enum outcome kind, int value, const struct buf *out, const char *err, size_t errlen) {
  struct buf *r = &sp->resp;
  size_t start = r->len;
  uint32_t len = 16 + (uint32_t)(out ? out->len : 0) + 4 + (uint32_t)errlen;
  if (add_u32(r, len) || add_u32(r, seq) || add_u32(r, (uint32_t)kind) || add_u32(r, (uint32_t)value) ||
      add_field(r, out ? out->data : "", out ? out->len : 0) || add_field(r, err, errlen))
    r->len = start; /* out of memory: the daemon's call times out rather than reading garbage */
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The spawner's own binary, resolved: requests to run it may skip the exec (child_exec). */
static char self_exe[PATH_MAX];

/* In the child: its stdio, a clean signal state, nothing else of ours open; then exec. */
static void child_exec(char **argv, int in, int out, int err, int status_fd) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto fail;
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  /* `@NAME`: one of the runtime's own steps (netlink.c), run here without an exec. */
  if (argv[0][0] == '@') {
    close(status_fd); /* started: the answer is the exit status and stderr */
    _exit(builtin_main(argv));
  }
  /* This very binary's short commands (an exit's delete and netns-delete, a stop's kill, state) run in place: an
     exec of it would only load the same program again. Not start: the shim it leaves behind must
     be a fresh small process, not a copy of this one. */
  char real[PATH_MAX];
  if (self_exe[0] && argv[1] && (!strcmp(argv[1], "delete") || !strcmp(argv[1], "netns-delete") || !strcmp(argv[1], "kill") || !strcmp(argv[1], "state")) &&
      realpath(argv[0], real) && !strcmp(real, self_exe)) {
    close(status_fd);
    int argc = 0;
    while (argv[argc]) argc++;
    int rc = runtime_main(argc, argv);
    fflush(NULL);
    _exit(rc);
  }
  execvp(argv[0], argv);
fail:;
  int e = errno;
  (void)!write(status_fd, &e, sizeof e);
  _exit(127);
}

static void start_job(struct spawner *sp, uint32_t seq, const char *input, size_t inlen, char **argv) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1}, st[2] = {-1, -1};
  struct rt_error err;
  int slot = 0;
  while (sp->jobs[slot].used) slot++;
  struct job *j = &sp->jobs[slot];
  if (inlen ? pipe2(in, O_CLOEXEC) : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) goto fail;
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) goto fail;
  pid_t pid = fork();
  if (pid < 0) goto fail;
  if (pid == 0) child_exec(argv, in[0], out[1], errp[1], st[1]);
  close(in[0]);
  close(out[1]);
  close(errp[1]);
  close(st[1]);
  int e = 0;
  ssize_t n;
  while ((n = read(st[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  close(st[0]);
  *j = (struct job){.used = 1, .seq = seq, .pid = pid, .in_fd = in[1], .out_fd = out[0], .err_fd = errp[0]};
  sp->njobs++;
  if (n == (ssize_t)sizeof e) { /* exec failed: answered as the spawn error Node would give */
    errno = e;
    fail(&err, "spawn %s", argv[0]);
    reply(sp, seq, NOT_STARTED, e, NULL, err.msg, strlen(err.msg));
    if (j->in_fd >= 0) close(j->in_fd);
    close(j->out_fd);
    close(j->err_fd);
    j->in_fd = j->out_fd = j->err_fd = -1;
    j->seq = UINT32_MAX; /* reaped below without a second answer */
    return;
  }
  set_nonblock(j->out_fd);
  set_nonblock(j->err_fd);
  if (j->in_fd >= 0) {
    set_nonblock(j->in_fd);
    if (buf_add(&j->in, input, inlen) < 0) {
      close(j->in_fd);
      j->in_fd = -1;
    }
  }
  return;
fail:
  fail(&err, "spawn %s", argv[0]);
  reply(sp, seq, NOT_STARTED, errno, NULL, err.msg, strlen(err.msg));
  int fds[] = {in[0], in[1], out[0], out[1], errp[0], errp[1], st[0], st[1]};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (fds[i] >= 0) close(fds[i]);
}

/* Parses whole frames from the request buffer while a job slot is free. */
static int take_requests(struct spawner *sp) {
  static char *argv[MAX_FIELDS + 1];
  size_t off = 0;
  while (sp->njobs < MAX_JOBS && sp->req.len - off >= 4) {
    uint32_t len = get_u32(sp->req.data + off);
    if (len > MAX_FRAME || len < 8) return -1;
    if (sp->req.len - off - 4 < len) break;
    const char *p = sp->req.data + off + 4, *end = p + len;
    uint32_t seq = get_u32(p), nfields = get_u32(p + 4);
    p += 8;
    if (nfields < 2 || nfields > MAX_FIELDS) return -1;
    /* Every field copied out NUL-terminated: argv for execvp, field 0 the child's stdin. */
    char *arena = malloc(len + nfields), *w = arena;
    if (!arena) return -1;
    const char *input = NULL;
    size_t inlen = 0;
    for (uint32_t i = 0; i < nfields; i++) {
      uint32_t flen;
      if (end - p < 4 || (size_t)(end - p - 4) < (flen = get_u32(p))) {
        free(arena);
        return -1;
      }
      memcpy(w, p + 4, flen);
      w[flen] = 0;
      if (i == 0) {
        input = w;
        inlen = flen;
      } else {
        argv[i - 1] = w;
      }
      w += flen + 1;
      p += 4 + flen;
    }
    argv[nfields - 1] = NULL;
    start_job(sp, seq, input, inlen, argv);
    free(arena);
    off += 4 + len;
  }
  memmove(sp->req.data, sp->req.data + off, sp->req.len - off);
  sp->req.len -= off;
  return 0;
}

static void finish_jobs(struct spawner *sp) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &sp->jobs[i];
    if (!j->used || !j->reaped || j->out_fd >= 0 || j->err_fd >= 0) continue;
    if (j->seq != UINT32_MAX) {
      if (WIFSIGNALED(j->status)) reply(sp, j->seq, SIGNALED, WTERMSIG(j->status), &j->out, j->err.data ? j->err.data : "", j->err.len);
      else reply(sp, j->seq, EXITED, WEXITSTATUS(j->status), &j->out, j->err.data ? j->err.data : "", j->err.len);
    }
    if (j->in_fd >= 0) close(j->in_fd);
    buf_free(&j->in);
    buf_free(&j->out);
    buf_free(&j->err);
    *j = (struct job){0};
    sp->njobs--;
  }
}

static void reap(struct spawner *sp) {
  struct signalfd_siginfo si;
  while (read(sp->sig_fd, &si, sizeof si) > 0) {
  }
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_JOBS; i++) {
      if (sp->jobs[i].used && sp->jobs[i].pid == pid) {
        sp->jobs[i].reaped = 1;
        sp->jobs[i].status = st;
      }
    }
  }
}

/* Reads what a child wrote; closes the pipe at EOF (or past the output limit). */
static void pump_out(int *fd, struct buf *b) {
  char chunk[16384];
  ssize_t n;
  while ((n = read(*fd, chunk, sizeof chunk)) > 0) {
    if (b->len + (size_t)n > MAX_OUTPUT || buf_add(b, chunk, (size_t)n) < 0) break;
  }
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || n > 0) {
    close(*fd);
    *fd = -1;
  }
}

static void pump_in(struct job *j) {
  ssize_t n = write(j->in_fd, j->in.data + j->in_off, j->in.len - j->in_off);
  if (n > 0) j->in_off += (size_t)n;
  if ((n < 0 && errno != EAGAIN && errno != EINTR) || j->in_off == j->in.len) {
    close(j->in_fd); /* all written, or the child stopped reading: it answers through its status */
    j->in_fd = -1;
  }
}

static int flush_responses(struct spawner *sp) {
  while (sp->resp_off < sp->resp.len) {
    ssize_t n = write(1, sp->resp.data + sp->resp_off, sp->resp.len - sp->resp_off);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    sp->resp_off += (size_t)n;
  }
  sp->resp.len = sp->resp_off = 0;
  return 0;
}

int spawner_main(void) {
  static struct spawner sp;
  struct rt_error err;
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the daemon's helper goes with the daemon */
  signal(SIGPIPE, SIG_IGN);
  /* Shims leave the daemon's cgroups (a daemon's limits or its service's stop must not reach
     them). Moving once here, where every shim is forked from, spares each container start the
     move: a cgroup.procs write waits out an RCU grace period, ~10 ms on this kernel. */
  cgroup_move_to_roots(getpid());
  ssize_t len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  self_exe[len > 0 ? len : 0] = 0;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sp.sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
    fail(&err, "spawner: signalfd");
    report(&err);
    return 1;
  }
  set_nonblock(0);
  set_nonblock(1);
  for (;;) {
    if (sp.eof && sp.njobs == 0) break;
    struct pollfd pfd[3 + 3 * MAX_JOBS];
    struct job *owner[3 + 3 * MAX_JOBS];
    int kind[3 + 3 * MAX_JOBS];
    int n = 0;
    pfd[n++] = (struct pollfd){sp.sig_fd, POLLIN, 0};
    pfd[n++] = (struct pollfd){sp.eof || sp.njobs >= MAX_JOBS ? -1 : 0, POLLIN, 0};
    pfd[n++] = (struct pollfd){sp.resp.len > sp.resp_off ? 1 : -1, POLLOUT, 0};
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &sp.jobs[i];
      if (!j->used) continue;
      int fds[3] = {j->in_fd, j->out_fd, j->err_fd};
      short ev[3] = {POLLOUT, POLLIN, POLLIN};
      for (int k = 0; k < 3; k++) {
        if (fds[k] < 0) continue;
        owner[n] = j;
        kind[n] = k;
        pfd[n++] = (struct pollfd){fds[k], ev[k], 0};
      }
    }
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      fail(&err, "spawner: poll");
      report(&err);
      return 1;
    }
    if (pfd[0].revents) reap(&sp);
    for (int i = 3; i < n; i++) {
      if (!pfd[i].revents) continue;
      struct job *j = owner[i];
      if (kind[i] == 0) pump_in(j);
      else if (kind[i] == 1) pump_out(&j->out_fd, &j->out);
      else pump_out(&j->err_fd, &j->err);
    }
    if (pfd[1].revents) {
      char chunk[65536];
      ssize_t r = read(0, chunk, sizeof chunk);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) sp.eof = 1;
      else if (r > 0 && buf_add(&sp.req, chunk, (size_t)r) < 0) return 1;
    }
    if (take_requests(&sp) < 0) {
      fail_msg(&err, "spawner: malformed request frame");
      report(&err);
      return 1;
    }
    finish_jobs(&sp);
    if (flush_responses(&sp) < 0) return sp.eof ? 0 : 1;
  }
  return 0;
}
