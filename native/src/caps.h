/* Privileges of the container process: Docker's default capabilities, no_new_privs. */
#ifndef SHOAL_CAPS_H
#define SHOAL_CAPS_H
#include <sys/types.h>
#include "error.h"

/* Docker's default capability set; gen/seccomp-gen.c grants the system calls that go with it. */
#define SHOAL_DEFAULT_CAPS                                                                                  \
  CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID, CAP_SETUID,        \
      CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE

/* Drops the bounding set to the defaults, switches to uid:gid (+groups), sets the capability
   sets (kept only for uid 0, as Docker does), clears ambient and sets no_new_privs. */
int drop_privileges(uid_t uid, gid_t gid, const gid_t *groups, int ngroups, struct rt_error *err);
#endif
