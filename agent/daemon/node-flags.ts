// The V8 flags a Shoal daemon runs with, wherever it is started (the `shoal` binary's fall-back to
// the Node CLI, `shoal lab`, the benches' manager processes). They must be given at start: V8 sizes
// its heap when the process begins, so setting them from inside has no effect.
//
// A leader allocates short-lived objects at a high rate (every committed change set is decoded,
// applied and fanned out to the control loops as events). With V8's default 16 MiB semi-spaces,
// its young-generation collections ran often enough to be 17 % of the leader's CPU on the
// 100,000-task scheduler bench, and objects still live at each collection were copied again and
// again. 64 MiB semi-spaces (grown only as the allocation rate asks) cut that bench from 24.1 and
// 30.8 s to 16.6 and 18.8 s; 128 MiB did no better (19.9 s). The native client's fall-back
// (native/client/main.c) repeats this list.
export const DAEMON_NODE_FLAGS = ["--max-semi-space-size=64"];
