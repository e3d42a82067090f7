#include "seccomp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

/* build/gen/seccomp-filter.h, printed by gen/seccomp-gen.c: loading a ready program costs
   microseconds, where compiling the profile with libseccomp costs milliseconds per start. */
#include "seccomp-filter.h"

int seccomp_load_default(struct rt_error *err) {
  struct sock_fprog prog = {
      .len = (unsigned short)(sizeof seccomp_default_filter / sizeof seccomp_default_filter[0]),
      .filter = (struct sock_filter *)seccomp_default_filter,
  };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return fail(err, "load seccomp filter");
  return 0;
}

int seccomp_filtered(pid_t pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  if (read_file(path, buf, sizeof buf) < 0) return 0;
  const char *line = strstr(buf, "\nSeccomp:");
  return line && atoi(line + strlen("\nSeccomp:")) == SECCOMP_MODE_FILTER;
}
