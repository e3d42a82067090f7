#include "text.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void str_add(struct str *b, const char *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) abort();
    b->s = s;
    b->cap = cap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = 0;
}

void str_puts(struct str *b, const char *p) { str_add(b, p, strlen(p)); }

void str_printf(struct str *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) str_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Decodes one code point at *p (valid UTF-8 assumed after utf8_valid); returns its byte length. */
static int next_cp(const unsigned char *p, uint32_t *cp) {
  if (p[0] < 0x80) return *cp = p[0], 1;
  if ((p[0] & 0xe0) == 0xc0) return *cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f), 2;
  if ((p[0] & 0xf0) == 0xe0) return *cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f), 3;
  return *cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f), 4;
}

int utf8_valid(const char *str) {
  const unsigned char *p = (const unsigned char *)str;
  while (*p) {
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
      if ((p[i] & 0xc0) != 0x80) return 0;
    uint32_t cp;
    next_cp(p, &cp);
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    p += n;
  }
  return 1;
}

size_t js_length(const char *s) {
  size_t units = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    uint32_t cp;
    p += next_cp(p, &cp);
    units += cp >= 0x10000 ? 2 : 1;
  }
  return units;
}

static void json_unit(struct str *out, uint32_t cp, const char *bytes, int n) {
  switch (cp) {
  case '"': str_puts(out, "\\\""); return;
  case '\\': str_puts(out, "\\\\"); return;
  case '\b': str_puts(out, "\\b"); return;
  case '\f': str_puts(out, "\\f"); return;
  case '\n': str_puts(out, "\\n"); return;
  case '\r': str_puts(out, "\\r"); return;
  case '\t': str_puts(out, "\\t"); return;
  }
  if (cp < 0x20) str_printf(out, "\\u%04x", cp);
  else str_add(out, bytes, (size_t)n);
}

void json_ellipsis(struct str *out, const char *s, size_t n) {
  size_t total = js_length(s), keep = total > n ? n - 1 : total, units = 0;
  str_puts(out, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p && units < keep;) {
    uint32_t cp;
    int len = next_cp(p, &cp);
    if (cp >= 0x10000 && units + 2 > keep) { /* slice() cut the pair: a lone high surrogate, escaped */
      str_printf(out, "\\u%04x", 0xd800 + ((cp - 0x10000) >> 10));
      units++;
      break;
    }
    json_unit(out, cp, (const char *)p, len);
    units += cp >= 0x10000 ? 2 : 1;
    p += len;
  }
  if (total > n) str_puts(out, "\xe2\x80\xa6");
  str_puts(out, "\"");
}

void ago(struct str *out, uint64_t unix_seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now_ms = (double)ts.tv_sec * 1000 + (double)(ts.tv_nsec / 1000000);
  double d = floor(now_ms / 1000 - (double)unix_seconds);
  uint64_t s = d > 0 ? (uint64_t)d : 0;
  if (s < 60) {
    if (s <= 1) str_puts(out, "Less than a second ago");
    else str_printf(out, "%llu seconds ago", (unsigned long long)s);
    return;
  }
  uint64_t m = s / 60;
  if (m < 60) {
    if (m == 1) str_puts(out, "About a minute ago");
    else str_printf(out, "%llu minutes ago", (unsigned long long)m);
    return;
  }
  uint64_t h = m / 60;
  if (h < 48) {
    if (h == 1) str_puts(out, "About an hour ago");
    else str_printf(out, "%llu hours ago", (unsigned long long)h);
    return;
  }
  str_printf(out, "%llu days ago", (unsigned long long)(h / 24));
}

static void line(FILE *f, const char *const *cells, size_t ncols, const size_t *widths) {
  struct str l = {0};
  for (size_t i = 0; i < ncols; i++) {
    str_puts(&l, cells[i]);
    if (i + 1 == ncols) break;
    for (size_t pad = js_length(cells[i]); pad < widths[i] + 3; pad++) str_add(&l, " ", 1);
  }
  while (l.len && (l.s[l.len - 1] == ' ' || l.s[l.len - 1] == '\t')) l.len--; /* trimEnd */
  fwrite(l.s ? l.s : "", 1, l.len, f);
  fputc('\n', f);
  free(l.s);
}

void table(FILE *f, const char *const *header, size_t ncols, char ***rows, size_t nrows) {
  size_t widths[16] = {0};
  for (size_t i = 0; i < ncols; i++) {
    widths[i] = js_length(header[i]);
    for (size_t r = 0; r < nrows; r++) {
      size_t w = js_length(rows[r][i]);
      if (w > widths[i]) widths[i] = w;
    }
  }
  line(f, header, ncols, widths);
  for (size_t r = 0; r < nrows; r++) line(f, (const char *const *)rows[r], ncols, widths);
}
