/* The container's filesystem, built inside its own mount namespace so nothing outlives it. */
#ifndef SHOAL_MOUNTS_H
#define SHOAL_MOUNTS_H
#include "error.h"
#include "spec.h"

/* Mounts the rootfs (overlay or bind), /proc, /sys, /dev and the bind mounts, then pivots. */
int mounts_setup(const struct spec *s, struct rt_error *err);
#endif
