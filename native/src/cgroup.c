#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* The cgroup2 mount: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one. */
static const char *v2_root(void) {
  if (exists(CG_ROOT "/cgroup.controllers")) return CG_ROOT;
  if (exists(CG_ROOT "/unified/cgroup.controllers")) return CG_ROOT "/unified";
  return NULL;
}

static int v2_has(const char *root, const char *ctrl) {
  char path[PATH_MAX], buf[512];
  snprintf(path, sizeof path, "%s/cgroup.controllers", root);
  if (read_file(path, buf, sizeof buf) < 0) return 0;
  for (char *save = NULL, *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
    if (!strcmp(t, ctrl)) return 1;
  return 0;
}

static int make_dir(const char *path, struct rt_error *err) {
  if (mkdir(path, 0755) < 0 && errno != EEXIST) return fail(err, "mkdir cgroup %s", path);
  return 0;
}

static int set_knob(const char *dir, const char *knob, const char *value, struct rt_error *err) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, knob);
  return write_file(path, value, err);
}

static int add_path(struct cgroups *cg, const char *path, int v2) {
  for (int i = 0; i < cg->n; i++)
    if (!strcmp(cg->paths[i], path)) return i;
  snprintf(cg->paths[cg->n], PATH_MAX, "%s", path);
  cg->v2[cg->n] = v2;
  return cg->n++;
}

static int v1_limits(const char *ctrl, const char *dir, const struct spec *s, struct rt_error *err) {
  char v[64];
  if (!strcmp(ctrl, "memory") && s->memory) {
    snprintf(v, sizeof v, "%lld", (long long)s->memory);
    if (set_knob(dir, "memory.limit_in_bytes", v, err) < 0) return -1;
    /* The limit covers swap too (where swap is accounted), so it cannot be dodged by swapping. */
    char memsw[PATH_MAX];
    snprintf(memsw, sizeof memsw, "%s/memory.memsw.limit_in_bytes", dir);
    if (exists(memsw) && write_file(memsw, v, err) < 0) return -1;
  }
  if (!strcmp(ctrl, "cpu") && s->cpu_quota) {
    snprintf(v, sizeof v, "%lld", (long long)s->cpu_period);
    if (set_knob(dir, "cpu.cfs_period_us", v, err) < 0) return -1;
    snprintf(v, sizeof v, "%lld", (long long)s->cpu_quota);
    if (set_knob(dir, "cpu.cfs_quota_us", v, err) < 0) return -1;
  }
  if (!strcmp(ctrl, "pids") && s->pids) {
    snprintf(v, sizeof v, "%lld", (long long)s->pids);
    if (set_knob(dir, "pids.max", v, err) < 0) return -1;
  }
  return 0;
}

static int v2_limits(const char *dir, const struct spec *s, int has_mem, int has_cpu, int has_pids,
                     struct rt_error *err) {
  char v[64];
  if (has_mem && s->memory) {
    snprintf(v, sizeof v, "%lld", (long long)s->memory);
    if (set_knob(dir, "memory.max", v, err) < 0) return -1;
  }
  if (has_cpu && s->cpu_quota) {
    snprintf(v, sizeof v, "%lld %lld", (long long)s->cpu_quota, (long long)s->cpu_period);
    if (set_knob(dir, "cpu.max", v, err) < 0) return -1;
  }
  if (has_pids && s->pids) {
    snprintf(v, sizeof v, "%lld", (long long)s->pids);
    if (set_knob(dir, "pids.max", v, err) < 0) return -1;
  }
  return 0;
}

int cgroup_create(const struct spec *s, struct cgroups *cg, struct rt_error *err) {
  static const char *const ctrls[] = {"memory", "cpu", "cpuacct", "pids"};
  const char *root2 = v2_root();
  char want2[128] = "";
  memset(cg, 0, sizeof *cg);
  for (size_t i = 0; i < sizeof ctrls / sizeof ctrls[0]; i++) {
    char dir[PATH_MAX], probe[PATH_MAX];
    snprintf(probe, sizeof probe, CG_ROOT "/%s/cgroup.procs", ctrls[i]);
    if (root2 && !strcmp(root2, CG_ROOT)) probe[0] = 0; /* pure v2: no per-controller mounts */
    if (probe[0] && exists(probe)) {
      snprintf(dir, sizeof dir, CG_ROOT "/%s/%s", ctrls[i], s->cgroup_parent);
      if (make_dir(dir, err) < 0) goto undo;
      snprintf(dir, sizeof dir, CG_ROOT "/%s/%s/%s", ctrls[i], s->cgroup_parent, s->id);
      if (make_dir(dir, err) < 0) goto undo;
      add_path(cg, dir, 0);
      if (v1_limits(ctrls[i], dir, s, err) < 0) goto undo;
    } else if (root2 && v2_has(root2, ctrls[i])) {
      size_t len = strlen(want2);
      snprintf(want2 + len, sizeof want2 - len, "%s+%s", len ? " " : "", ctrls[i]);
    }
  }
  if (root2 && want2[0]) {
    char dir[PATH_MAX];
    /* Controllers must be enabled in every ancestor's subtree_control to reach the leaf. */
    if (set_knob(root2, "cgroup.subtree_control", want2, err) < 0) goto undo;
    snprintf(dir, sizeof dir, "%s/%s", root2, s->cgroup_parent);
    if (make_dir(dir, err) < 0) goto undo;
    if (set_knob(dir, "cgroup.subtree_control", want2, err) < 0) goto undo;
    snprintf(dir, sizeof dir, "%s/%s/%s", root2, s->cgroup_parent, s->id);
    if (make_dir(dir, err) < 0) goto undo;
    add_path(cg, dir, 1);
    if (v2_limits(dir, s, !!strstr(want2, "memory"), !!strstr(want2, "cpu"), !!strstr(want2, "pids"), err) < 0)
      goto undo;
  }
  return 0;
undo:;
  struct rt_error ignored;
  cgroup_destroy(cg, &ignored);
  return -1;
}

int cgroup_join(const struct cgroups *cg, pid_t pid, struct rt_error *err) {
  char v[32];
  snprintf(v, sizeof v, "%d", (int)pid);
  for (int i = 0; i < cg->n; i++)
    if (set_knob(cg->paths[i], "cgroup.procs", v, err) < 0) return -1;
  return 0;
}

int cgroup_destroy(const struct cgroups *cg, struct rt_error *err) {
  int rc = 0;
  for (int i = 0; i < cg->n; i++) {
    /* Tasks of a dying container leave the cgroup a moment after their parent saw them exit. */
    for (int tries = 0;; tries++) {
      if (rmdir(cg->paths[i]) == 0 || errno == ENOENT) break;
      if (errno != EBUSY || tries >= 500) {
        rc = fail(err, "rmdir cgroup %s", cg->paths[i]);
        break;
      }
      struct timespec ts = {0, 2 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return rc;
}

static long long counter(const char *file, const char *key) {
  char buf[4096];
  if (read_file(file, buf, sizeof buf) < 0) return -1;
  size_t klen = strlen(key);
  for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (!strncmp(l, key, klen) && l[klen] == ' ') return atoll(l + klen + 1);
  return -1;
}

int cgroup_oom_killed(const struct cgroups *cg) {
  char path[PATH_MAX];
  for (int i = 0; i < cg->n; i++) {
    if (cg->v2[i]) {
      snprintf(path, sizeof path, "%s/memory.events", cg->paths[i]);
      if (counter(path, "oom_kill") > 0) return 1;
    } else if (strstr(cg->paths[i], CG_ROOT "/memory/") == cg->paths[i]) {
      snprintf(path, sizeof path, "%s/memory.oom_control", cg->paths[i]);
      if (counter(path, "oom_kill") > 0) return 1;
    }
  }
  return 0;
}

int cgroup_save(const struct cgroups *cg, const char *file, struct rt_error *err) {
  FILE *fp = fopen(file, "we");
  if (!fp) return fail(err, "create %s", file);
  for (int i = 0; i < cg->n; i++) fprintf(fp, "%s %s\n", cg->v2[i] ? "v2" : "v1", cg->paths[i]);
  if (fclose(fp) != 0) return fail(err, "write %s", file);
  return 0;
}

int cgroup_load(struct cgroups *cg, const char *file, struct rt_error *err) {
  memset(cg, 0, sizeof *cg);
  FILE *fp = fopen(file, "re");
  if (!fp) return fail(err, "open %s", file);
  char line[PATH_MAX + 8];
  while (cg->n < CGROUP_MAX && fgets(line, sizeof line, fp)) {
    line[strcspn(line, "\n")] = 0;
    if (strlen(line) < 4) continue;
    add_path(cg, line + 3, line[1] == '2');
  }
  fclose(fp);
  return 0;
}

/* Whether the calling process sits below the root of the hierarchy mounted at CG_ROOT/name (or at
   CG_ROOT itself for "", a pure v2 host), from /proc/self/cgroup ("ID:CONTROLLERS:PATH" lines). */
static int below_root(const char *selfcg, const char *name) {
  char buf[4096], want[256];
  snprintf(buf, sizeof buf, "%s", selfcg);
  for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char *ctrls = c1 + 1, *path = c2 + 1;
    int match;
    if (!name[0] || !strcmp(name, "unified")) match = !ctrls[0];
    else if (!strcmp(name, "systemd")) match = !strcmp(ctrls, "name=systemd");
    else {
      match = 0; /* a mount named for one or more controllers (cpu, cpu,cpuacct) */
      snprintf(want, sizeof want, "%s", name);
      for (char *s2 = NULL, *t = strtok_r(want, ",", &s2); t && !match; t = strtok_r(NULL, ",", &s2)) {
        char have[256];
        snprintf(have, sizeof have, "%s", ctrls);
        for (char *s3 = NULL, *h = strtok_r(have, ",", &s3); h; h = strtok_r(NULL, ",", &s3))
          if (!strcmp(h, t)) match = 1;
      }
    }
    if (match) return strcmp(path, "/") != 0;
  }
  return 1; /* not listed: move, to be sure */
}

void cgroup_move_to_roots(pid_t pid) {
  char v[32], path[PATH_MAX], selfcg[4096];
  snprintf(v, sizeof v, "%d", (int)pid);
  /* Writing cgroup.procs waits for an RCU grace period (10 to 20 ms here) even when nothing
     moves: only hierarchies where the process is below the root are written. */
  if (read_file("/proc/self/cgroup", selfcg, sizeof selfcg) < 0) selfcg[0] = 0;
  DIR *d = opendir(CG_ROOT);
  if (!d) return;
  struct rt_error ignored;
  if (exists(CG_ROOT "/cgroup.procs") && below_root(selfcg, "")) write_file(CG_ROOT "/cgroup.procs", v, &ignored);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, CG_ROOT "/%s/cgroup.procs", e->d_name);
    /* Failing here only means the shim shares the caller's cgroup in that hierarchy. */
    if (exists(path) && below_root(selfcg, e->d_name)) write_file(path, v, &ignored);
  }
  closedir(d);
}
