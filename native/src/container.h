/* Creating a container: one clone(2) with every namespace, then the child builds its world and
   execs while the parent puts it in its cgroups. */
#ifndef SHOAL_CONTAINER_H
#define SHOAL_CONTAINER_H
#include <sys/types.h>
#include "cgroup.h"
#include "error.h"
#include "spec.h"

struct container {
  pid_t pid; /* the container's init, as the host sees it */
  struct cgroups cg;
};

/* Returns once the container process has exec'd, or with everything it made undone.
   stdio[i] >= 0 replaces the child's fd i. */
int container_create(const struct spec *s, const int stdio[3], struct container *c, struct rt_error *err);
/* Exit code as a shell reports it: the status, or 128 + signal. */
int exit_code(int status);
#endif
