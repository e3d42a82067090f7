/* `shoal`, natively, for the commands run most (run, ps, start, stop, rm, service create -d): the
   same flags, output and exit codes as the Node CLI (dist/cli/main.js), over the same engine and
   Control APIs, without Node's start-up. Anything else, any flag or value it does not take exactly
   as the Node CLI would, and an image to pull, is handed to the Node CLI unchanged (docs/runtime.md,
   "The native client"). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "text.h"

#define DEFAULT_HOST "unix:///run/shoal/shoal.sock"

static const char *const status_names[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
                                           "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                           "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                           "UNAUTHENTICATED"};

const char *engine_path(const char *method) {
  static char paths[8][96];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof paths[0], "/shoal.engine.Engine/%s", method);
  return p;
}

int cli_connect(struct cli *c) {
  if (!c->connected) c->connected = grpc_connect(&c->conn, c->socket) == 0 ? 1 : -1;
  return c->connected == 1 ? 0 : -1;
}

ProtobufCMessage *cli_unary(struct cli *c, struct grpc_call *call, const char *path, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp) {
  memset(call, 0, sizeof *call);
  if (cli_connect(c) < 0) {
    call->status = GRPC_UNAVAILABLE;
    snprintf(call->message, sizeof call->message, "No connection established");
    return NULL;
  }
  return grpc_unary(&c->conn, call, path, req, resp);
}

ProtobufCMessage *cli_call(struct cli *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp) {
  return cli_unary(c, call, engine_path(method), req, resp);
}

void cli_describe(const struct cli *c, const struct grpc_call *call, char *out, size_t cap) {
  const char *d = call->message;
  if (call->status == GRPC_UNAVAILABLE && (!strncasecmp(d, "No connection established", 25) || !strncasecmp(d, "Connection dropped", 18) ||
                                           !strncasecmp(d, "Failed to connect", 17))) {
    snprintf(out, cap, "cannot connect to the Shoal daemon at %s: is `shoal daemon` running?", c->host);
    return;
  }
  if (d[0]) snprintf(out, cap, "%.*s", (int)strcspn(d, "\n"), d);
  else snprintf(out, cap, "%d %s: ", call->status, call->status >= 0 && call->status <= 16 ? status_names[call->status] : "UNKNOWN");
}

void cli_fail(const struct cli *c, const struct grpc_call *call) {
  char line[1200];
  cli_describe(c, call, line, sizeof line);
  fprintf(stderr, "shoal: %s\n", line);
}

void cli_write(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (fd == 1 && errno == EPIPE) exit(0);
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

/* The Node CLI beside this binary: <root>/native/build/shoal → <root>/dist/cli/main.js. */
static void fall_back(char **argv) {
  char exe[PATH_MAX], cli[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) n = 0;
  exe[n] = 0;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
  }
  snprintf(cli, sizeof cli, "%s/dist/cli/main.js", exe);
  int argc = 0;
  while (argv[argc]) argc++;
  char **nargv = calloc((size_t)argc + 3, sizeof *nargv);
  int k = 0;
  nargv[k++] = "node";
  /* The daemon's V8 flags (agent/daemon/node-flags.ts says why): only at start do they apply. */
  if (argc > 1 && !strcmp(argv[1], "daemon")) nargv[k++] = "--max-semi-space-size=64";
  nargv[k++] = cli;
  for (int i = 1; i < argc; i++) nargv[k++] = argv[i];
  execvp("node", nargv);
  fprintf(stderr, "shoal: cannot run the Node CLI %s: %s\n", cli, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++)
    if (!utf8_valid(argv[i])) fall_back(argv);
  int i = 1;
  const char *host = NULL;
  while (i < argc && argv[i][0] == '-') { /* the program's own option: -H/--host */
    if ((!strcmp(argv[i], "-H") || !strcmp(argv[i], "--host")) && i + 1 < argc && argv[i + 1][0] != '-') host = argv[i + 1], i += 2;
    else if (!strncmp(argv[i], "--host=", 7)) host = argv[i] + 7, i++;
    else fall_back(argv);
  }
  if (i >= argc) fall_back(argv);
  if (!host || !host[0]) host = getenv("SHOAL_HOST");
  if (!host || !host[0]) host = DEFAULT_HOST;
  if (strncmp(host, "unix:///", 8)) fall_back(argv); /* the Node CLI's error */
  struct cli c = {.host = host, .socket = host + 7};
  const char *cmd = argv[i];
  int sub_argc = argc - i - 1;
  char **sub_argv = argv + i + 1;
  int code = FALL_BACK;
  if (!strcmp(cmd, "run")) code = cmd_run(&c, sub_argc, sub_argv);
  else if (!strcmp(cmd, "ps")) code = cmd_ps(&c, sub_argc, sub_argv);
  else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "rm")) code = cmd_each(&c, cmd, sub_argc, sub_argv);
  else if (!strcmp(cmd, "service")) code = cmd_service(&c, sub_argc, sub_argv);
  if (code == FALL_BACK) {
    if (c.connected == 1) grpc_close(&c.conn);
    fall_back(argv);
  }
  if (c.connected == 1) grpc_close(&c.conn);
  fflush(stdout);
  fflush(stderr);
  return code;
}
