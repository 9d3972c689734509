/*
 * workers/proc.c: the process table (one row per kind of worker: its name,
 * title, slot prefix, start function, handlers, priority) and proc_fork(),
 * the one place afd forks. The child's clean start (new loop, new
 * randomness, its own database connection, title) is workers/worker.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "workers/proc.h"
#include "workers/worker.h"

const struct proc_kind_info proc_kinds[PROC__COUNT] = {
    [PROC_UDP] = {"udp", "udp worker", 'u', 0, udp_start, udp_ctl_handlers, 1,
                  NULL, 0},
    [PROC_TCP] = {"tcp", "tcp worker", 't', 1, tcp_start, tcp_ctl_handlers, 1,
                  NULL, 0},
    [PROC_CKPT] = {"checkpointer", "db checkpointer", 'c', 0, ckpt_start,
                   ckpt_ctl_handlers, 0, ckpt_sib_handlers, CKPT_NICE},
};

void
proc_slot_name(char *out, size_t outsz, enum proc_kind kind, int index)
{
	snprintf(out, outsz, "%c%d", proc_kinds[kind].prefix, index);
}

pid_t
proc_fork(struct proc_child *pc, int *master_fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	               0, sv) == -1) {
		log_warn("socketpair for %s", pc->slot);
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork for %s", pc->slot);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		pc->ctl_fd = sv[1];
		return 0;
	}
	close(sv[1]);
	*master_fd = sv[0];
	return pid;
}
