#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void emit(struct log_stream *ls, const char *line, size_t len, char tag) {
  struct timespec ts;
  struct tm tm;
  char head[96];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(head + n, sizeof head - n, ".%09ldZ %s %c ", ts.tv_nsec, ls->name, tag);
  struct iovec iov[3] = {{head, n}, {(void *)line, len}, {"\n", 1}};
  /* A failed log write must not stop the container: the record is dropped. */
  while (writev(ls->log_fd, iov, 3) < 0 && errno == EINTR) {
  }
}

long log_pump(struct log_stream *ls, int fd) {
  ssize_t n;
  while ((n = read(fd, ls->buf + ls->len, sizeof ls->buf - ls->len)) < 0 && errno == EINTR) {
  }
  if (n < 0) return -1;
  if (n == 0) {
    if (ls->len) emit(ls, ls->buf, ls->len, 'F');
    ls->len = 0;
    return 0;
  }
  ls->len += (size_t)n;
  size_t start = 0;
  for (char *nl; (nl = memchr(ls->buf + start, '\n', ls->len - start));) {
    emit(ls, ls->buf + start, (size_t)(nl - (ls->buf + start)), 'F');
    start = (size_t)(nl - ls->buf) + 1;
  }
  if (start == 0 && ls->len == sizeof ls->buf) {
    emit(ls, ls->buf, ls->len, 'P');
    start = ls->len;
  }
  memmove(ls->buf, ls->buf + start, ls->len - start);
  ls->len -= start;
  return n;
}
