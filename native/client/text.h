/* Text as the Node CLI prints it: JavaScript string lengths (UTF-16 units), JSON.stringify of a
   string, docker's tables and "N seconds ago". */
#ifndef SHOAL_CLIENT_TEXT_H
#define SHOAL_CLIENT_TEXT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable string. */
struct str {
  char *s;
  size_t len, cap;
};
void str_add(struct str *b, const char *p, size_t n);
void str_puts(struct str *b, const char *p);
void str_printf(struct str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 if s is valid UTF-8. */
int utf8_valid(const char *s);
/* The length JavaScript gives the string (UTF-16 code units). */
size_t js_length(const char *s);
/* JSON.stringify(s.length > n ? s.slice(0, n - 1) + "…" : s), as JavaScript would. */
void json_ellipsis(struct str *out, const char *s, size_t n);
/* "3 seconds ago" for a unix time, as cli/parse.ts's ago(). */
void ago(struct str *out, uint64_t unix_seconds);
/* Columns separated by at least three spaces (cli/parse.ts's table()), written to f. */
void table(FILE *f, const char *const *header, size_t ncols, char ***rows, size_t nrows);
#endif
