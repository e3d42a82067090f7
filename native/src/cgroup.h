/* The container's cgroups: v1 where a controller has its own hierarchy, else cgroup2. */
#ifndef SHOAL_CGROUP_H
#define SHOAL_CGROUP_H
#include <limits.h>
#include <sys/types.h>
#include "error.h"
#include "spec.h"

#define CGROUP_MAX 5

struct cgroups {
  char paths[CGROUP_MAX][PATH_MAX]; /* directories made for this container */
  int v2[CGROUP_MAX];               /* 1 where paths[i] is in a cgroup2 hierarchy */
  int n;
};

/* Makes <hierarchy>/<parent>/<id> for memory, cpu, cpuacct and pids and writes the limits. */
int cgroup_create(const struct spec *s, struct cgroups *cg, struct rt_error *err);
int cgroup_join(const struct cgroups *cg, pid_t pid, struct rt_error *err);
/* Removes the directories, retrying briefly while exiting tasks drain. */
int cgroup_destroy(const struct cgroups *cg, struct rt_error *err);
/* 1 if the memory cgroup recorded an OOM kill. */
int cgroup_oom_killed(const struct cgroups *cg);
/* Persisted as one "v1|v2 PATH" line each, so delete and exec find them later. */
int cgroup_save(const struct cgroups *cg, const char *file, struct rt_error *err);
int cgroup_load(struct cgroups *cg, const char *file, struct rt_error *err);
/* Moves pid to the root cgroup of every mounted hierarchy, out of the caller's (best effort). */
void cgroup_move_to_roots(pid_t pid);
#endif
