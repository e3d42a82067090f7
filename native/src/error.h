/* One way to build and carry errors: a message naming the failing step, then strerror(errno). */
#ifndef SHOAL_ERROR_H
#define SHOAL_ERROR_H
#include <stddef.h>

struct rt_error {
  char msg[512];
};

/* Formats "STEP: strerror(errno)" into err and returns -1. */
int fail(struct rt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like fail but without an errno part (for spec and usage errors). */
int fail_msg(struct rt_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "shoal-runtime: MSG" on stderr. */
void report(const struct rt_error *err);
/* Writes a whole buffer, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/* Writes a small string to a file (for cgroup and /proc knobs). */
int write_file(const char *path, const char *value, struct rt_error *err);
/* Reads up to size-1 bytes of a file into buf, NUL-terminated; returns bytes read or -1. */
long read_file(const char *path, char *buf, size_t size);
#endif
