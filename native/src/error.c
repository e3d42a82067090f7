#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fail(struct rt_error *err, const char *fmt, ...) {
  int saved = errno;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n < sizeof err->msg) snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
  errno = saved;
  return -1;
}

int fail_msg(struct rt_error *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  va_end(ap);
  return -1;
}

void report(const struct rt_error *err) {
  char line[600];
  int n = snprintf(line, sizeof line, "shoal-runtime: %s\n", err->msg);
  if (n > 0) (void)!write_all(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int write_file(const char *path, const char *value, struct rt_error *err) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(err, "open %s", path);
  if (write_all(fd, value, strlen(value)) < 0) {
    fail(err, "write %s to %s", value, path);
    close(fd);
    return -1;
  }
  if (close(fd) < 0) return fail(err, "close %s", path);
  return 0;
}

long read_file(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < size) {
    ssize_t n = read(fd, buf + got, size - 1 - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  buf[got] = 0;
  close(fd);
  return (long)got;
}
