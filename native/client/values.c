#include "values.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text.h"

static int all_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* JavaScript's Math.round. */
static double js_round(double x) {
  double r = floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

int value_env(const char *s, char **out) {
  if (!s[0] || s[0] == '=') return -1;
  if (strchr(s, '=')) {
    *out = strdup(s);
    return 0;
  }
  const char *v = getenv(s);
  if (v && !utf8_valid(v)) return -1; /* Node would read it with replacement characters */
  if (!v) {
    *out = strdup(s);
    return 0;
  }
  size_t n = strlen(s) + strlen(v) + 2;
  *out = malloc(n);
  snprintf(*out, n, "%s=%s", s, v);
  return 0;
}

/* path.resolve(p): against the working directory, with ".", ".." and repeated slashes gone. */
static char *resolve_path(const char *p) {
  char cwd[PATH_MAX] = "";
  if (p[0] != '/' && !getcwd(cwd, sizeof cwd)) return NULL;
  size_t cap = strlen(cwd) + strlen(p) + 3;
  char *joined = malloc(cap), *out = malloc(cap);
  snprintf(joined, cap, "%s/%s", cwd, p);
  size_t w = 0;
  for (char *save = NULL, *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
    if (!strcmp(seg, ".")) continue;
    if (!strcmp(seg, "..")) {
      while (w > 0 && out[w - 1] != '/') w--;
      if (w > 0) w--;
      continue;
    }
    out[w++] = '/';
    size_t n = strlen(seg);
    memcpy(out + w, seg, n);
    w += n;
  }
  if (!w) out[w++] = '/';
  out[w] = 0;
  free(joined);
  return out;
}

int value_volume(const char *s, Shoal__Engine__Mount *m) {
  char *copy = strdup(s), *parts[4];
  int n = 0;
  for (char *p = copy;; p++) { /* split(":") keeps empty parts */
    char *c = strchr(p, ':');
    if (n == 4) break;
    parts[n++] = p;
    if (!c) break;
    *c = 0;
    p = c;
  }
  const char *mode = n == 3 ? parts[2] : "rw";
  if (n < 2 || n > 3 || !parts[0][0] || !parts[1][0] || (strcmp(mode, "ro") && strcmp(mode, "rw")) || parts[1][0] != '/') {
    free(copy);
    return -1;
  }
  int bind = parts[0][0] == '/' || parts[0][0] == '.';
  if (!bind) {
    const char *v = parts[0];
    if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z') || (v[0] >= '0' && v[0] <= '9'))) goto bad;
    for (const char *c = v; *c; c++)
      if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
        goto bad;
  }
  shoal__engine__mount__init(m);
  m->type = bind ? "bind" : "volume";
  m->source = bind ? resolve_path(parts[0]) : strdup(parts[0]);
  m->destination = strdup(parts[1]);
  m->read_only = !strcmp(mode, "ro");
  free(copy);
  return m->source ? 0 : -1;
bad:
  free(copy);
  return -1;
}

static int port_number(const char *s, uint32_t *out) {
  size_t n = strlen(s);
  if (!all_digits(s, n) || n > 9) return -1;
  long v = strtol(s, NULL, 10);
  if (v < 1 || v > 65535) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int ipv4_shape(const char *s) { /* /^\d+\.\d+\.\d+\.\d+$/ */
  int groups = 0;
  for (const char *p = s;;) {
    size_t n = strspn(p, "0123456789");
    if (!n) return 0;
    groups++;
    p += n;
    if (!*p) return groups == 4;
    if (*p != '.' || groups == 4) return 0;
    p++;
  }
}

int value_publish(const char *s, Shoal__Engine__PortBinding *pb) {
  char *copy = strdup(s), *proto = "tcp";
  char *slash = strchr(copy, '/');
  if (slash) {
    *slash = 0;
    proto = slash + 1;
    if (strchr(proto, '/')) goto bad;
  }
  if (strcmp(proto, "tcp") && strcmp(proto, "udp")) goto bad;
  char *parts[4];
  int n = 0;
  for (char *p = copy;; p++) {
    char *c = strchr(p, ':');
    if (n == 4) break;
    parts[n++] = p;
    if (!c) break;
    *c = 0;
    p = c;
  }
  if (n < 2 || n > 3) goto bad;
  const char *ip = n == 3 ? parts[0] : "";
  if (ip[0] && !ipv4_shape(ip)) goto bad;
  shoal__engine__port_binding__init(pb);
  if (port_number(parts[n - 2], &pb->host_port) < 0 || port_number(parts[n - 1], &pb->container_port) < 0) goto bad;
  pb->host_ip = strdup(strcmp(ip, "0.0.0.0") ? ip : "");
  pb->protocol = strdup(proto);
  free(copy);
  return 0;
bad:
  free(copy);
  return -1;
}

/* /^\d+(\.\d+)?/ at s: its length, or 0. */
static size_t decimal(const char *s) {
  size_t n = strspn(s, "0123456789");
  if (!n) return 0;
  if (s[n] == '.') {
    size_t f = strspn(s + n + 1, "0123456789");
    if (f) n += 1 + f;
  }
  return n;
}

int value_size(const char *s, uint64_t *out) {
  size_t n = decimal(s);
  if (!n) return -1;
  const char *u = s + n;
  double unit = 1;
  const char *units = "bkmgtp";
  if (*u) {
    const char *k = strchr(units, *u | 0x20);
    if (!k || (*u | 0x20) < 'a') return -1;
    for (long i = 0; i < k - units; i++) unit *= 1024;
    u++;
    if ((*u | 0x20) == 'b' && *u) u++;
  }
  if (*u) return -1;
  double v = js_round(strtod(s, NULL) * unit);
  if (!(v <= 9007199254740992.0)) return -1;
  *out = (uint64_t)v;
  return 0;
}

int value_cpus(const char *s, uint64_t *out) {
  size_t n = decimal(s);
  if (!n || s[n]) return -1;
  double v = strtod(s, NULL);
  if (!(v > 0) || !isfinite(v)) return -1;
  double nano = js_round(v * 1e9);
  if (!(nano <= 9007199254740992.0)) return -1;
  *out = (uint64_t)nano;
  return 0;
}

int value_int(const char *s, int64_t min, int64_t *out) {
  const char *d = s[0] == '-' ? s + 1 : s;
  size_t n = strlen(d);
  if (!all_digits(d, n) || n > 10) return -1;
  long long v = strtoll(s, NULL, 10);
  if (v < min || v > INT_MAX) return -1;
  *out = v;
  return 0;
}

int value_restart(const char *s, Shoal__Engine__RestartPolicy *p) {
  const char *colon = strchr(s, ':');
  size_t nlen = colon ? (size_t)(colon - s) : strlen(s);
  static const char *const names[] = {"no", "always", "unless-stopped", "on-failure"};
  const char *name = NULL;
  for (size_t i = 0; i < 4; i++)
    if (strlen(names[i]) == nlen && !strncmp(s, names[i], nlen)) name = names[i];
  if (!name) return -1;
  shoal__engine__restart_policy__init(p);
  p->name = (char *)name;
  if (colon) {
    const char *count = colon + 1;
    size_t cn = strlen(count);
    if (strcmp(name, "on-failure") || !all_digits(count, cn) || cn > 9) return -1; /* also a second ':' */
    p->maximum_retry_count = (uint32_t)strtoul(count, NULL, 10);
  }
  return 0;
}
