/* `shoal ps`, `start`, `stop` and `rm`, as cli/commands/containers.ts prints them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "text.h"
#include "values.h"

int cmd_ps(struct cli *c, int argc, char **argv) {
  int all = 0, quiet = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--all")) all = 1;
    else if (!strcmp(a, "--quiet")) quiet = 1;
    else if (a[0] == '-' && a[1] && a[1] != '-' && strspn(a + 1, "aq") == strlen(a + 1)) { /* -a, -q, -aq */
      if (strchr(a, 'a')) all = 1;
      if (strchr(a, 'q')) quiet = 1;
    } else return FALL_BACK; /* arguments, unknown options, --help */
  }
  Shoal__Engine__ListContainersRequest req = SHOAL__ENGINE__LIST_CONTAINERS_REQUEST__INIT;
  req.all = all;
  struct grpc_call k;
  Shoal__Engine__ListContainersResponse *r =
      (Shoal__Engine__ListContainersResponse *)cli_call(c, &k, "ListContainers", &req.base, &shoal__engine__list_containers_response__descriptor);
  if (!r) {
    cli_fail(c, &k);
    return 1;
  }
  struct str out = {0};
  if (quiet) {
    for (size_t i = 0; i < r->n_containers; i++) str_printf(&out, "%.12s\n", r->containers[i]->id);
  } else {
    static const char *const header[] = {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"};
    char ***rows = calloc(r->n_containers + 1, sizeof *rows);
    for (size_t i = 0; i < r->n_containers; i++) {
      Shoal__Engine__ContainerSummary *x = r->containers[i];
      struct str id = {0}, cmd = {0}, created = {0}, ports = {0};
      str_printf(&id, "%.12s", x->id);
      json_ellipsis(&cmd, x->command, 20);
      ago(&created, x->created_unix);
      str_puts(&ports, "");
      for (size_t p = 0; p < x->n_ports; p++) {
        Shoal__Engine__PortBinding *b = x->ports[p];
        str_printf(&ports, "%s%s:%u->%u/%s", p ? ", " : "", b->host_ip[0] ? b->host_ip : "0.0.0.0", b->host_port, b->container_port, b->protocol);
      }
      rows[i] = calloc(7, sizeof(char *));
      char *cells[] = {id.s, x->image, cmd.s, created.s, x->status, ports.s, x->name};
      memcpy(rows[i], cells, sizeof cells);
    }
    FILE *f = open_memstream(&out.s, &out.len);
    table(f, header, 7, rows, r->n_containers);
    fclose(f);
  }
  cli_write(1, out.s ? out.s : "", out.len);
  return 0;
}

/* Each container named in turn: its name printed once done, or the error; 1 if any failed. */
int cmd_each(struct cli *c, const char *name, int argc, char **argv) {
  int force = 0, time_set = 0;
  int64_t time = 0;
  char **ids = calloc((size_t)argc + 1, sizeof *ids);
  int nids = 0;
  int is_stop = !strcmp(name, "stop"), is_rm = !strcmp(name, "rm");
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || !a[1]) {
      ids[nids++] = argv[i];
    } else if (is_rm && (!strcmp(a, "-f") || !strcmp(a, "--force"))) {
      force = 1;
    } else if (is_stop && (!strcmp(a, "-t") || !strcmp(a, "--time")) && i + 1 < argc && argv[i + 1][0] != '-') {
      if (value_int(argv[++i], 0, &time) < 0) return FALL_BACK;
      time_set = 1;
    } else {
      return FALL_BACK;
    }
  }
  if (!nids) return FALL_BACK; /* the Node CLI says what is missing */
  int failed = 0;
  for (int i = 0; i < nids; i++) {
    struct grpc_call k;
    ProtobufCMessage *r;
    if (is_stop) {
      Shoal__Engine__StopContainerRequest req = SHOAL__ENGINE__STOP_CONTAINER_REQUEST__INIT;
      req.id = ids[i];
      req.timeout = (int32_t)time;
      req.timeout_set = time_set;
      r = cli_call(c, &k, "StopContainer", &req.base, &shoal__engine__empty__descriptor);
    } else if (is_rm) {
      Shoal__Engine__RemoveContainerRequest req = SHOAL__ENGINE__REMOVE_CONTAINER_REQUEST__INIT;
      req.id = ids[i];
      req.force = force;
      r = cli_call(c, &k, "RemoveContainer", &req.base, &shoal__engine__empty__descriptor);
    } else {
      Shoal__Engine__ContainerRef req = SHOAL__ENGINE__CONTAINER_REF__INIT;
      req.id = ids[i];
      r = cli_call(c, &k, "StartContainer", &req.base, &shoal__engine__empty__descriptor);
    }
    if (r) {
      protobuf_c_message_free_unpacked(r, NULL);
      cli_write(1, ids[i], strlen(ids[i]));
      cli_write(1, "\n", 1);
    } else {
      failed++;
      cli_fail(c, &k);
    }
  }
  return failed ? 1 : 0;
}
