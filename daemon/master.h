/*
 * daemon/master.h: the master process: schema, sockets, the worker slots
 * and their supervision, the TCP accept and hand-off, the orderly stop.
 */
#ifndef AFD_MASTER_H
#define AFD_MASTER_H

#include "util/conf.h"
#include "workers/proc.h"

/* master_run() returned in a freshly forked worker: run worker_main(). */
#define MASTER_CHILD (-2)

/*
 * Run the master until it is stopped. Returns its exit status (0 after
 * SIGTERM/SIGINT, 1 on a startup error), or MASTER_CHILD in a new worker
 * process, with *child filled and the master's loop and state gone.
 */
int master_run(const struct conf *c, struct proc_child *child);

#endif
