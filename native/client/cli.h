/* What the native client's commands share: the daemon connection, the Node CLI's one-line error
   wording, and handing a command over to the Node CLI. */
#ifndef SHOAL_CLIENT_CLI_H
#define SHOAL_CLIENT_CLI_H
#include "grpc.h"

/* Returned by a command that leaves this invocation to the Node CLI (nothing done yet). */
#define FALL_BACK (-1000)

struct cli {
  const char *host;   /* unix:///PATH, as given */
  const char *socket; /* PATH */
  struct grpc_conn conn;
  int connected; /* 1 connected, -1 could not connect */
};

/* The most values a repeatable option takes here (more: the Node CLI's). */
#define CLI_MAX_LIST 256

/* One option of a command: a boolean (flag), a value (the last one given wins) or a repeatable one (list). */
struct cli_opt {
  char shortname; /* 0: none */
  const char *longname;
  const char **value;
  int *flag;
  const char **list;
  size_t *nlist;
};

/* The options before the command's first argument, as commander reads them with passThroughOptions:
   `--long V`, `--long=V`, `-s V`, booleans alone. Returns the first argument's index, or FALL_BACK for
   anything else (an unknown or combined option, --help, `--`, a value starting with "-", no argument). */
int cli_options(int argc, char **argv, const struct cli_opt *opts, size_t nopts);

/* Connects on first use; 0, or -1 when no daemon answers (calls then fail as UNAVAILABLE). */
int cli_connect(struct cli *c);
/* A unary call on the daemon's socket (path "/shoal.swarm.Control/CreateService"); NULL with
   call->status/message on failure. */
ProtobufCMessage *cli_unary(struct cli *c, struct grpc_call *call, const char *path, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp);
/* A unary engine call ("CreateContainer"), as cli_unary. */
ProtobufCMessage *cli_call(struct cli *c, struct grpc_call *call, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *resp);
/* The Node CLI's describe(): one line for the user. */
void cli_describe(const struct cli *c, const struct grpc_call *call, char *out, size_t cap);
/* Prints "shoal: <describe>" on stderr. */
void cli_fail(const struct cli *c, const struct grpc_call *call);
/* Writes all of buf to fd; a closed stdout ends the command quietly, as in the Node CLI. */
void cli_write(int fd, const void *buf, size_t len);
/* "/shoal.engine.Engine/<Method>" */
const char *engine_path(const char *method);

int cmd_run(struct cli *c, int argc, char **argv);
int cmd_ps(struct cli *c, int argc, char **argv);
/* start, stop, rm */
int cmd_each(struct cli *c, const char *name, int argc, char **argv);
/* service create -d */
int cmd_service(struct cli *c, int argc, char **argv);
#endif
