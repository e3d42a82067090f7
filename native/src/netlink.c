#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"

struct nlreq {
  struct nlmsghdr *h;
  char buf[1024];
};

static void nl_init(struct nlreq *r, int type, int flags, const void *body, size_t len) {
  memset(r->buf, 0, sizeof r->buf);
  r->h = (struct nlmsghdr *)r->buf;
  r->h->nlmsg_type = (unsigned short)type;
  r->h->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
  r->h->nlmsg_len = NLMSG_LENGTH(len);
  memcpy(NLMSG_DATA(r->h), body, len);
}

static struct rtattr *nl_attr(struct nlreq *r, int type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->h->nlmsg_len));
  a->rta_type = (unsigned short)type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->h->nlmsg_len = NLMSG_ALIGN(r->h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}

/* Closes a nested attribute opened by nl_attr(r, type, NULL, 0). */
static void nl_end(struct nlreq *r, struct rtattr *nest) { nest->rta_len = (unsigned short)(r->buf + r->h->nlmsg_len - (char *)nest); }

/* Sends one request and reads its ack: 0, or -1 with errno set to the kernel's answer. */
static int nl_talk(int fd, struct nlreq *r) {
  static unsigned seq;
  r->h->nlmsg_seq = ++seq;
  if (send(fd, r->buf, r->h->nlmsg_len, 0) < 0) return -1;
  char ans[4096];
  for (;;) {
    ssize_t n = recv(fd, ans, sizeof ans, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)ans; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h->nlmsg_seq || h->nlmsg_type != NLMSG_ERROR) continue;
      int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (e == 0) return 0;
      errno = -e;
      return -1;
    }
  }
}

static int nl_open(struct rt_error *err) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return fail(err, "netlink socket");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return fail(err, "bind netlink socket");
  }
  return fd;
}

static int link_up(int fd, const char *name, int master, struct rt_error *err) {
  unsigned idx = if_nametoindex(name);
  if (!idx) return fail(err, "find link %s", name);
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = (int)idx, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct nlreq r;
  nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
  if (master) nl_attr(&r, IFLA_MASTER, &master, sizeof master);
  if (nl_talk(fd, &r) < 0) return fail(err, "set link %s up", name);
  return 0;
}

static int link_del(int fd, const char *name, struct rt_error *err) {
  unsigned idx = if_nametoindex(name);
  if (!idx) return 0;
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = (int)idx};
  struct nlreq r;
  nl_init(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
  if (nl_talk(fd, &r) < 0 && errno != ENODEV) return fail(err, "delete stale link %s", name);
  return 0;
}

static int veth_add(int fd, const char *host, const char *peer, int peer_ns, struct rt_error *err) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct nlreq r;
  nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
  nl_attr(&r, IFLA_IFNAME, host, strlen(host) + 1);
  struct rtattr *info = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
  nl_attr(&r, IFLA_INFO_KIND, "veth", 4);
  struct rtattr *data = nl_attr(&r, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *pinfo = nl_attr(&r, VETH_INFO_PEER, &ifi, sizeof ifi);
  nl_attr(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
  nl_attr(&r, IFLA_NET_NS_FD, &peer_ns, sizeof peer_ns);
  nl_end(&r, pinfo);
  nl_end(&r, data);
  nl_end(&r, info);
  if (nl_talk(fd, &r) < 0) return fail(err, "create veth %s", host);
  return 0;
}

static int addr_add(int fd, const char *dev, struct in_addr a, int prefix, struct rt_error *err) {
  unsigned idx = if_nametoindex(dev);
  if (!idx) return fail(err, "find link %s", dev);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_index = idx};
  struct nlreq r;
  nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
  nl_attr(&r, IFA_LOCAL, &a, sizeof a);
  nl_attr(&r, IFA_ADDRESS, &a, sizeof a);
  if (prefix < 31) {
    struct in_addr b = {.s_addr = a.s_addr | htonl(prefix ? 0xffffffffu >> prefix : 0xffffffffu)};
    nl_attr(&r, IFA_BROADCAST, &b, sizeof b);
  }
  if (nl_talk(fd, &r) < 0) return fail(err, "add address to %s", dev);
  return 0;
}

static int default_route(int fd, struct in_addr gw, struct rt_error *err) {
  struct rtmsg rt = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST};
  struct nlreq r;
  nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
  nl_attr(&r, RTA_GATEWAY, &gw, sizeof gw);
  if (nl_talk(fd, &r) < 0) return fail(err, "add default route via %s", inet_ntoa(gw));
  return 0;
}

int bridge_attach(const char *ns, const char *veth, const char *bridge, const char *cidr, const char *gateway, struct rt_error *err) {
  char path[256], ip[64];
  struct in_addr addr, gw;
  const char *slash = strchr(cidr, '/');
  if (!slash || (size_t)(slash - cidr) >= sizeof ip) return fail_msg(err, "bridge attach: bad address %s", cidr);
  memcpy(ip, cidr, (size_t)(slash - cidr));
  ip[slash - cidr] = 0;
  int prefix = atoi(slash + 1);
  if (inet_pton(AF_INET, ip, &addr) != 1 || inet_pton(AF_INET, gateway, &gw) != 1 || prefix < 0 || prefix > 32)
    return fail_msg(err, "bridge attach: bad address %s or gateway %s", cidr, gateway);
  unsigned master = if_nametoindex(bridge);
  if (!master) return fail(err, "find bridge %s", bridge);
  int fd = nl_open(err);
  if (fd < 0) return -1;
  int rc = -1, nsfd = -1;
  if (link_del(fd, veth, err) < 0) goto out; /* a detach the kernel has not finished */
  mkdir("/run/netns", 0755);
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  if (netns_create(path, err) < 0) goto out;
  nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    fail(err, "open netns %s", path);
    goto out;
  }
  if (veth_add(fd, veth, "eth0", nsfd, err) < 0 || link_up(fd, veth, (int)master, err) < 0) goto out;
  close(fd);
  /* The rest inside the container's namespace: this process is the spawner's throwaway child. */
  if (setns(nsfd, CLONE_NEWNET) < 0) {
    fd = -1;
    fail(err, "enter netns %s", path);
    goto out;
  }
  fd = nl_open(err);
  if (fd < 0) goto out;
  if (addr_add(fd, "eth0", addr, prefix, err) < 0 || link_up(fd, "eth0", 0, err) < 0 || default_route(fd, gw, err) < 0) goto out;
  rc = 0;
out:
  if (fd >= 0) close(fd);
  if (nsfd >= 0) close(nsfd);
  return rc;
}

int builtin_main(char **argv) {
  struct rt_error err = {{0}};
  int rc;
  if (!strcmp(argv[0], "@bridge-attach") && argv[1] && argv[2] && argv[3] && argv[4] && argv[5] && !argv[6])
    rc = bridge_attach(argv[1], argv[2], argv[3], argv[4], argv[5], &err);
  else {
    rc = fail_msg(&err, "unknown built-in %s or wrong arguments", argv[0]);
  }
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  return 0;
}
