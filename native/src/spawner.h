/* A long-lived process that starts other programs for the daemon. Forking a Node daemon costs
   time proportional to its memory and blocks its one thread; forking this small process does
   not. Requests and answers are frames on stdin and stdout (docs/runtime.md, "The spawner"). */
#ifndef SHOAL_SPAWNER_H
#define SHOAL_SPAWNER_H

/* Serves requests until stdin closes; returns the process's exit code. */
int spawner_main(void);
/* The runtime's command line (main.c): the spawner's children run its short commands in place. */
int runtime_main(int argc, char **argv);
#endif
