#include "statefile.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int state_write(const char *path, const char *content, struct rt_error *err) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(err, "create %s", tmp);
  if (write_all(fd, content, strlen(content)) < 0) {
    fail(err, "write %s", tmp);
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, path) < 0) {
    fail(err, "rename %s to %s", tmp, path);
    unlink(tmp);
    return -1;
  }
  return 0;
}

long state_read_long(const char *dir, const char *name) {
  char path[PATH_MAX], buf[64], *end;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (read_file(path, buf, sizeof buf) <= 0) return -1;
  long v = strtol(buf, &end, 10);
  if (end == buf) return -1;
  return v;
}
