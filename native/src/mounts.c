#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Docker's defaults: hidden (masked) and read-only kernel interfaces. */
static const char *const masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"};
static const char *const readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags, const char *data,
                    struct rt_error *err) {
  if (mount(src, dst, type, flags, data) < 0)
    return fail(err, "mount %s on %s", type ? type : (src ? src : "none"), dst);
  return 0;
}

/* mkdir -p, for mount points inside the rootfs. */
static int make_dirs(const char *path, struct rt_error *err) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return fail(err, "mkdir %s", tmp);
    *p = '/';
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return fail(err, "mkdir %s", tmp);
  return 0;
}

/* A bind target must be of the source's kind: a directory, or a file to mount over. */
static int make_target(const char *src, const char *dst, struct rt_error *err) {
  struct stat st, at;
  if (stat(src, &st) < 0) return fail(err, "stat bind source %s", src);
  /* Already there (the daemon's init layer has /etc/hosts and its kin): opening it to write
   * would copy it up into the container's upper layer for nothing. */
  if (lstat(dst, &at) == 0 && S_ISDIR(at.st_mode) == S_ISDIR(st.st_mode) && !S_ISLNK(at.st_mode)) return 0;
  if (S_ISDIR(st.st_mode)) return make_dirs(dst, err);
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dst);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    if (make_dirs(parent, err) < 0) return -1;
  }
  int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return fail(err, "create bind target %s", dst);
  close(fd);
  return 0;
}

static int bind(const char *src, const char *dst, int readonly, struct rt_error *err) {
  if (do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL, err) < 0) return -1;
  if (readonly && do_mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL, err) < 0)
    return -1;
  return 0;
}

static int mount_rootfs(const struct spec *s, struct rt_error *err) {
  if (!s->nlower) return bind(s->rootfs, s->rootfs, 0, err);
  /* overlayfs lists lowerdirs topmost first; the spec lists them lowest first. */
  char data[8192];
  size_t len = (size_t)snprintf(data, sizeof data, "lowerdir=");
  for (int i = s->nlower - 1; i >= 0; i--) {
    len += (size_t)snprintf(data + len, sizeof data - len, "%s%s", s->lower[i], i ? ":" : "");
    if (len >= sizeof data) return fail_msg(err, "overlay options longer than %zu bytes", sizeof data);
  }
  len += (size_t)snprintf(data + len, sizeof data - len, ",upperdir=%s,workdir=%s", s->upper, s->work);
  if (len >= sizeof data) return fail_msg(err, "overlay options longer than %zu bytes", sizeof data);
  return do_mount("overlay", s->rootfs, "overlay", 0, data, err);
}

static int mount_dev(struct rt_error *err) {
  if (do_mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", err) < 0) return -1;
  for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
    char host[64], dst[64];
    snprintf(host, sizeof host, "/dev/%s", devices[i]);
    snprintf(dst, sizeof dst, "dev/%s", devices[i]);
    int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) return fail(err, "create %s", dst);
    close(fd);
    if (do_mount(host, dst, NULL, MS_BIND, NULL, err) < 0) return -1;
  }
  static const char *const dirs[] = {"dev/pts", "dev/shm", "dev/mqueue"};
  for (size_t i = 0; i < 3; i++)
    if (mkdir(dirs[i], 0755) < 0) return fail(err, "mkdir %s", dirs[i]);
  if (do_mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620", err) < 0)
    return -1;
  if (do_mount("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", err) < 0)
    return -1;
  if (do_mount("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0) return -1;
  static const char *const links[][2] = {{"pts/ptmx", "dev/ptmx"},      {"/proc/self/fd", "dev/fd"},
                                         {"/proc/self/fd/0", "dev/stdin"}, {"/proc/self/fd/1", "dev/stdout"},
                                         {"/proc/self/fd/2", "dev/stderr"}};
  for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
    if (symlink(links[i][0], links[i][1]) < 0) return fail(err, "symlink %s", links[i][1]);
  return 0;
}

static int mask_paths(struct rt_error *err) {
  for (size_t i = 0; i < sizeof masked_paths / sizeof masked_paths[0]; i++) {
    struct stat st;
    const char *p = masked_paths[i];
    if (stat(p, &st) < 0) continue; /* absent on this kernel: nothing to hide */
    if (S_ISDIR(st.st_mode)) {
      if (do_mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0", err) < 0) return -1;
    } else if (do_mount("/dev/null", p, NULL, MS_BIND, NULL, err) < 0) {
      return -1;
    }
  }
  for (size_t i = 0; i < sizeof readonly_paths / sizeof readonly_paths[0]; i++) {
    const char *p = readonly_paths[i];
    if (access(p, F_OK) < 0) continue;
    if (bind(p, p, 1, err) < 0) return -1;
  }
  return 0;
}

static int pivot(const char *root, struct rt_error *err) {
  if (chdir(root) < 0) return fail(err, "chdir %s", root);
  /* pivot_root(".", "."): the old root ends up stacked on the new one, then is detached. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) return fail(err, "pivot_root into %s", root);
  if (umount2(".", MNT_DETACH) < 0) return fail(err, "detach old root");
  if (chdir("/") < 0) return fail(err, "chdir /");
  return 0;
}

int mounts_setup(const struct spec *s, struct rt_error *err) {
  /* Keep every mount below private, so nothing propagates back to the host. */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail(err, "make / private");
  if (mount_rootfs(s, err) < 0) return -1;
  if (chdir(s->rootfs) < 0) return fail(err, "chdir rootfs %s", s->rootfs);
  for (int i = 0; i < s->nmounts; i++) {
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s%s", s->rootfs, s->mounts[i].dst);
    if (make_target(s->mounts[i].src, dst, err) < 0) return -1;
    if (bind(s->mounts[i].src, dst, s->mounts[i].readonly, err) < 0) return -1;
  }
  if (make_dirs("proc", err) < 0 || make_dirs("sys", err) < 0 || make_dirs("dev", err) < 0) return -1;
  if (do_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0) return -1;
  if (do_mount("sysfs", "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL, err) < 0) {
    /* A joined host network namespace cannot get a fresh sysfs: bind the host's, read-only. */
    if (bind("/sys", "sys", 1, err) < 0) return -1;
  }
  if (mount_dev(err) < 0) return -1;
  if (pivot(s->rootfs, err) < 0) return -1;
  return mask_paths(err);
}
