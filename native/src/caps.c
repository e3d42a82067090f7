#include "caps.h"

#include <grp.h>
#include <stdlib.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const int default_caps[] = {SHOAL_DEFAULT_CAPS};

static int is_default(int cap) {
  for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++)
    if (default_caps[i] == cap) return 1;
  return 0;
}

static int last_cap(void) {
  char buf[16];
  if (read_file("/proc/sys/kernel/cap_last_cap", buf, sizeof buf) > 0) return atoi(buf);
  return CAP_LAST_CAP;
}

int drop_privileges(uid_t uid, gid_t gid, const gid_t *groups, int ngroups, struct rt_error *err) {
  int last = last_cap();
  for (int cap = 0; cap <= last; cap++)
    if (!is_default(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return fail(err, "drop capability %d from bounding set", cap);
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return fail(err, "clear ambient capabilities");
  if (setgroups((size_t)ngroups, groups) < 0) return fail(err, "setgroups");
  if (setresgid(gid, gid, gid) < 0) return fail(err, "setgid %u", (unsigned)gid);
  /* A non-root uid loses its permitted set at setresuid, which is what Docker gives it too. */
  if (setresuid(uid, uid, uid) < 0) return fail(err, "setuid %u", (unsigned)uid);
  if (uid == 0) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    for (size_t i = 0; i < sizeof default_caps / sizeof default_caps[0]; i++) {
      int c = default_caps[i];
      data[c / 32].effective |= 1u << (c % 32);
      data[c / 32].permitted |= 1u << (c % 32);
      data[c / 32].inheritable |= 1u << (c % 32);
    }
    if (syscall(SYS_capset, &hdr, data) < 0) return fail(err, "capset");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail(err, "set no_new_privs");
  return 0;
}
