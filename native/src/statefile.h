/* Small files in a container's state directory, replaced atomically (write then rename). */
#ifndef SHOAL_STATEFILE_H
#define SHOAL_STATEFILE_H
#include <sys/types.h>
#include "error.h"

int state_write(const char *path, const char *content, struct rt_error *err);
/* Reads an integer file such as DIR/pid; -1 if absent or malformed. */
long state_read_long(const char *dir, const char *name);
#endif
