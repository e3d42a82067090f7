/* The container's stdout/stderr in the CRI log format, one file appended by the shim. */
#ifndef SHOAL_LOG_H
#define SHOAL_LOG_H
#include <stddef.h>

#define LOG_LINE_MAX 16384 /* longer lines are split into partial (P) records */

struct log_stream {
  const char *name; /* "stdout" or "stderr" */
  int log_fd;
  size_t len;
  char buf[LOG_LINE_MAX];
};

/* Reads what is available from fd into the stream and writes every complete record.
   Returns bytes read (0 at EOF, when the rest is flushed as a final record) or -1. */
long log_pump(struct log_stream *ls, int fd);
#endif
