#include "spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes %XX escapes in place; fields never hold raw spaces, newlines or '%'. */
static int unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r == '%') {
      unsigned v;
      if (!r[1] || !r[2] || sscanf(r + 1, "%2x", &v) != 1) return -1;
      *w++ = (char)v;
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = 0;
  return 0;
}

static int split(char *line, char **fields, int max) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    if (n == max) return -1;
    if (unescape(t) < 0) return -1;
    fields[n++] = t;
  }
  return n;
}

static int number(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || end == s || v < 0) return -1;
  *out = v;
  return 0;
}

static int parse_line(struct spec *s, char **f, int n, struct rt_error *err) {
  const char *k = f[0];
  int64_t a, b;
#define NEED(count) \
  if (n != (count) + 1) return fail_msg(err, "spec: %s takes %d value(s), got %d", k, count, n - 1)
#define ROOM(cnt) \
  if ((cnt) >= SPEC_MAX_LIST) return fail_msg(err, "spec: too many %s lines (max %d)", k, SPEC_MAX_LIST)
  if (!strcmp(k, "version")) {
    NEED(1);
    if (strcmp(f[1], "1")) return fail_msg(err, "spec: unsupported version %s (this runtime reads 1)", f[1]);
  } else if (!strcmp(k, "id")) {
    NEED(1);
    s->id = f[1];
  } else if (!strcmp(k, "arg")) {
    NEED(1);
    ROOM(s->nargs);
    s->args[s->nargs++] = f[1];
  } else if (!strcmp(k, "env")) {
    NEED(1);
    ROOM(s->nenv);
    s->env[s->nenv++] = f[1];
  } else if (!strcmp(k, "cwd")) {
    NEED(1);
    s->cwd = f[1];
  } else if (!strcmp(k, "user")) {
    NEED(2);
    if (number(f[1], &a) < 0 || number(f[2], &b) < 0 || a > 0xfffffffe || b > 0xfffffffe)
      return fail_msg(err, "spec: user %s:%s is not a numeric uid:gid", f[1], f[2]);
    s->uid = (uid_t)a;
    s->gid = (gid_t)b;
  } else if (!strcmp(k, "group")) {
    NEED(1);
    ROOM(s->ngroups);
    if (number(f[1], &a) < 0 || a > 0xfffffffe) return fail_msg(err, "spec: group %s is not a numeric gid", f[1]);
    s->groups[s->ngroups++] = (gid_t)a;
  } else if (!strcmp(k, "hostname")) {
    NEED(1);
    s->hostname = f[1];
  } else if (!strcmp(k, "rootfs")) {
    NEED(1);
    s->rootfs = f[1];
  } else if (!strcmp(k, "lower")) {
    NEED(1);
    ROOM(s->nlower);
    s->lower[s->nlower++] = f[1];
  } else if (!strcmp(k, "upper")) {
    NEED(1);
    s->upper = f[1];
  } else if (!strcmp(k, "work")) {
    NEED(1);
    s->work = f[1];
  } else if (!strcmp(k, "mount")) {
    NEED(3);
    ROOM(s->nmounts);
    if (strcmp(f[3], "ro") && strcmp(f[3], "rw")) return fail_msg(err, "spec: mount mode must be ro or rw, got %s", f[3]);
    if (f[2][0] != '/') return fail_msg(err, "spec: mount destination %s must be absolute", f[2]);
    s->mounts[s->nmounts++] = (struct bind_mount){f[1], f[2], !strcmp(f[3], "ro")};
  } else if (!strcmp(k, "netns")) {
    NEED(1);
    s->netns = f[1];
  } else if (!strcmp(k, "memory")) {
    NEED(1);
    if (number(f[1], &s->memory) < 0) return fail_msg(err, "spec: memory %s is not a byte count", f[1]);
  } else if (!strcmp(k, "cpu")) {
    NEED(2);
    if (number(f[1], &s->cpu_quota) < 0 || number(f[2], &s->cpu_period) < 0 || !s->cpu_period)
      return fail_msg(err, "spec: cpu takes QUOTA PERIOD in microseconds");
  } else if (!strcmp(k, "pids")) {
    NEED(1);
    if (number(f[1], &s->pids) < 0) return fail_msg(err, "spec: pids %s is not a count", f[1]);
  } else if (!strcmp(k, "seccomp")) {
    NEED(1);
    if (strcmp(f[1], "default") && strcmp(f[1], "unconfined"))
      return fail_msg(err, "spec: seccomp must be default or unconfined, got %s", f[1]);
    s->seccomp = !strcmp(f[1], "default");
  } else if (!strcmp(k, "cgroup_parent")) {
    NEED(1);
    s->cgroup_parent = f[1];
  } else {
    return fail_msg(err, "spec: unknown key %s", k);
  }
  return 0;
#undef NEED
#undef ROOM
}

int spec_load(const char *path, struct spec *s, struct rt_error *err) {
  memset(s, 0, sizeof *s);
  FILE *fp = fopen(path, "re");
  if (!fp) return fail(err, "open spec %s", path);
  char *buf = NULL;
  size_t cap = 0;
  ssize_t len = getdelim(&buf, &cap, 0, fp); /* the whole file: it holds no NUL */
  fclose(fp);
  if (len < 0) {
    free(buf);
    return fail_msg(err, "read spec %s: empty or unreadable", path);
  }
  s->buf = buf;
  s->cwd = "/";
  s->netns = "new";
  s->cgroup_parent = "shoal";
  s->seccomp = 1;
  s->hostname = NULL;
  int lineno = 0;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    if (line[0] == '#' || !line[0]) continue;
    char *f[5];
    int n = split(line, f, 5);
    if (n < 0) return fail_msg(err, "spec %s line %d: bad field encoding", path, lineno);
    if (n == 0) continue;
    if (parse_line(s, f, n, err) < 0) return -1;
  }
  if (!s->id || !s->id[0] || strchr(s->id, '/') || s->id[0] == '.') return fail_msg(err, "spec: id missing or not a plain name");
  if (!s->nargs) return fail_msg(err, "spec: no arg lines (the command to run)");
  if (!s->rootfs) return fail_msg(err, "spec: rootfs missing");
  if (s->nlower && (!s->upper || !s->work)) return fail_msg(err, "spec: an overlay rootfs needs upper and work");
  if (!s->hostname) s->hostname = s->id;
  return 0;
}
