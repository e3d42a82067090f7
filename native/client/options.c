/* Command options as commander reads them before a command's first argument (passThroughOptions). */
#include <string.h>

#include "cli.h"

int cli_options(int argc, char **argv, const struct cli_opt *opts, size_t nopts) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || !a[1]) return i; /* the first argument ("-" alone is one) */
    if (!strcmp(a, "--")) return FALL_BACK;
    const struct cli_opt *hit = NULL;
    const char *inline_value = NULL;
    for (size_t k = 0; k < nopts; k++) {
      const struct cli_opt *p = &opts[k];
      if (a[1] == '-') {
        size_t n = strlen(p->longname);
        if (!strncmp(a + 2, p->longname, n) && (a[2 + n] == 0 || a[2 + n] == '=')) {
          hit = p;
          if (a[2 + n] == '=') inline_value = a + 3 + n;
        }
      } else if (p->shortname && a[1] == p->shortname && !a[2]) {
        hit = p;
      }
    }
    if (!hit) return FALL_BACK; /* unknown, combined or --help: the Node CLI's to say */
    if (hit->flag) {
      if (inline_value) return FALL_BACK;
      *hit->flag = 1;
      continue;
    }
    const char *v = inline_value;
    if (!v) {
      if (i + 1 >= argc) return FALL_BACK;
      v = argv[++i];
    }
    if (v[0] == '-') return FALL_BACK;
    if (hit->list) {
      if (*hit->nlist == CLI_MAX_LIST) return FALL_BACK;
      hit->list[(*hit->nlist)++] = v;
    } else {
      *hit->value = v;
    }
  }
  return FALL_BACK; /* no argument: the Node CLI says what is missing */
}
