#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int loopback_up(struct rt_error *err) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(err, "socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int rc = 0;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) rc = fail(err, "get lo flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (!rc && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) rc = fail(err, "set lo up");
  close(fd);
  return rc;
}

int netns_create(const char *path, struct rt_error *err) {
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return fail(err, "create netns file %s", path);
  close(fd);
  /* unshare in a child, so this process keeps the host's namespace. */
  int sv[2];
  if (pipe2(sv, O_CLOEXEC) < 0) {
    fail(err, "pipe");
    unlink(path);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    fail(err, "fork");
    unlink(path);
    return -1;
  }
  if (pid == 0) {
    struct rt_error cerr = {{0}};
    if (unshare(CLONE_NEWNET) < 0) fail(&cerr, "unshare network namespace");
    else if (loopback_up(&cerr) == 0 && mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
      fail(&cerr, "bind network namespace on %s", path);
    (void)!write(sv[1], cerr.msg, strlen(cerr.msg));
    _exit(cerr.msg[0] ? 1 : 0);
  }
  close(sv[1]);
  ssize_t n = read(sv[0], err->msg, sizeof err->msg - 1);
  close(sv[0]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (n > 0) {
    err->msg[n] = 0;
    unlink(path);
    return -1;
  }
  return 0;
}

int netns_delete(const char *path, struct rt_error *err) {
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) return fail(err, "unmount netns %s", path);
  if (unlink(path) < 0 && errno != ENOENT) return fail(err, "remove netns file %s", path);
  return 0;
}
