/* Privileges of the container process: Docker's default capabilities, no_new_privs. */
#ifndef SHOAL_CAPS_H
#define SHOAL_CAPS_H
#include <sys/types.h>
#include "error.h"

/* Drops the bounding set to the defaults, switches to uid:gid (+groups), sets the capability
   sets (kept only for uid 0, as Docker does), clears ambient and sets no_new_privs. */
int drop_privileges(uid_t uid, gid_t gid, const gid_t *groups, int ngroups, struct rt_error *err);
#endif
