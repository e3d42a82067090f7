/* The container spec: a line-based text file written by the daemon (docs/runtime.md). */
#ifndef SHOAL_SPEC_H
#define SHOAL_SPEC_H
#include <stdint.h>
#include <sys/types.h>
#include "error.h"

#define SPEC_MAX_LIST 256

struct bind_mount {
  char *src;
  char *dst;
  int readonly;
};

struct spec {
  char *id;
  char *args[SPEC_MAX_LIST + 1]; /* NULL-terminated */
  int nargs;
  char *env[SPEC_MAX_LIST + 1]; /* NULL-terminated */
  int nenv;
  char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t groups[SPEC_MAX_LIST];
  int ngroups;
  char *hostname;
  char *rootfs; /* the plain rootfs, or where the overlay is mounted (inside the container's mount ns) */
  char *lower[SPEC_MAX_LIST]; /* lowest first */
  int nlower;
  char *upper;
  char *work;
  struct bind_mount mounts[SPEC_MAX_LIST];
  int nmounts;
  char *netns; /* "new", "host" or a path to join */
  int64_t memory;     /* bytes, 0 = no limit */
  int64_t cpu_quota;  /* microseconds per period, 0 = no limit */
  int64_t cpu_period; /* microseconds */
  int64_t pids;       /* 0 = no limit */
  char *cgroup_parent;
  int seccomp; /* 1: the default filter (the default), 0: unconfined */
  char *buf; /* the file's contents; every string above points into it */
};

int spec_load(const char *path, struct spec *s, struct rt_error *err);
#endif
