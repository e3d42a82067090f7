/* Network namespaces: loopback for a new one, and persistent ones bound at a path. */
#ifndef SHOAL_NETNS_H
#define SHOAL_NETNS_H
#include "error.h"

int loopback_up(struct rt_error *err);
/* Makes a network namespace with lo up, kept alive by a bind mount at path. */
int netns_create(const char *path, struct rt_error *err);
int netns_delete(const char *path, struct rt_error *err);
#endif
