/* Running another process inside a running container. */
#ifndef SHOAL_EXEC_H
#define SHOAL_EXEC_H

struct exec_opts {
  char **env;  /* K=V overrides, NULL-terminated */
  const char *cwd;
  const char *user; /* "uid[:gid]", default the container init's */
  char **argv;
};

/* target: a state dir or a host pid. Returns the command's exit code (shell style). */
int exec_in(const char *target, const struct exec_opts *o);
#endif
