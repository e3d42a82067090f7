/* The container's seccomp filter: Docker's default profile, compiled at build time. */
#ifndef SHOAL_SECCOMP_H
#define SHOAL_SECCOMP_H
#include <sys/types.h>
#include "error.h"

/* Loads the default filter on the calling process; needs no_new_privs (or CAP_SYS_ADMIN) first.
   Last step before exec: everything after it runs under the filter. */
int seccomp_load_default(struct rt_error *err);
/* 1 if the process runs under a seccomp filter (exec gives its processes the init's), else 0. */
int seccomp_filtered(pid_t pid);
#endif
