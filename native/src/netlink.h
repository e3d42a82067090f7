/* The bridge network's per-container steps over rtnetlink, run by the spawner in a child of its
   own (no `ip` exec): two `ip -batch` runs cost a start ~8 ms, these well under one. */
#ifndef SHOAL_NETLINK_H
#define SHOAL_NETLINK_H
#include "error.h"

/* A netns at /run/netns/NS, a veth VETH on BRIDGE (up) whose peer is the netns's eth0 with
   ADDR/PREFIX, up, and a default route via GATEWAY; lo up. Undoes nothing on failure: the
   daemon's detach removes what was made. */
int bridge_attach(const char *ns, const char *veth, const char *bridge, const char *cidr, const char *gateway, struct rt_error *err);

/* `@NAME ARGS...` as the spawner's children run them: 0, or prints the error on stderr and 1. */
int builtin_main(char **argv);
#endif
