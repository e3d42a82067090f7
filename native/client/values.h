/* Docker-style flag values, parsed exactly as the Node CLI parses them (cli/parse.ts,
   agent/network/ports.ts, restart-policy.ts). Each returns -1 for anything the Node CLI would
   refuse or might read differently: the caller then hands the whole command to the Node CLI,
   which prints its own error. */
#ifndef SHOAL_CLIENT_VALUES_H
#define SHOAL_CLIENT_VALUES_H
#include <stdint.h>
#include "engine.pb-c.h"

/* -e KEY=VALUE, or -e KEY taking the caller's value. Returns a malloc'd string. */
int value_env(const char *s, char **out);
/* -v SRC:DST[:ro]: a named volume, or a bind mount of an absolute or ./relative host path. */
int value_volume(const char *s, Shoal__Engine__Mount *m);
/* -p [IP:]HOSTPORT:PORT[/tcp|udp] */
int value_publish(const char *s, Shoal__Engine__PortBinding *p);
/* --memory 32m */
int value_size(const char *s, uint64_t *out);
/* --cpus 0.5, as nano cpus */
int value_cpus(const char *s, uint64_t *out);
/* A whole number of at least min (and at most 2^31-1). */
int value_int(const char *s, int64_t min, int64_t *out);
/* --restart no|always|unless-stopped|on-failure[:N] */
int value_restart(const char *s, Shoal__Engine__RestartPolicy *p);
#endif
