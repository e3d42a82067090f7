/* The per-container shim: started detached, it creates the container, stays its parent,
   logs its output, and records and announces its exit. */
#ifndef SHOAL_SHIM_H
#define SHOAL_SHIM_H

/* Returns 0 once the container has exec'd (the shim runs on alone), 1 on failure. */
int shim_start(const char *spec_path, const char *state_dir);
#endif
