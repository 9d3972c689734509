/*
 * t/unit/test_proc.c: the process plumbing that needs no daemon: libuv
 * handles in talloc trees (freeing the owner closes the handle, the memory
 * goes in the close callback), slot names, and proc_fork()'s control
 * channel (a real fork; the child only answers and exits).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "workers/proc.h"
#include "util/uvh.h"
#include "ipc/ipc.h"

static int timer_fired;

static void
on_timer(uv_timer_t *t)
{
	timer_fired++;
}

static void
test_uvh(void)
{
	uv_loop_t loop;
	TALLOC_CTX *owner = talloc_new(NULL);
	uv_timer_t *t, *never;

	CU_ASSERT_FATAL(uv_loop_init(&loop) == 0);
	t = uvh_new(owner, uv_timer_t);
	CU_ASSERT_FATAL(t != NULL && uv_timer_init(&loop, t) == 0);
	uv_timer_start(t, on_timer, 0, 0);
	never = uvh_new(owner, uv_timer_t); /* never initialised */
	CU_ASSERT_FATAL(never != NULL);
	CU_ASSERT(uv_run(&loop, UV_RUN_NOWAIT) == 0);
	CU_ASSERT(timer_fired == 1);
	uv_timer_start(t, on_timer, 100000, 0);
	/* Freeing the owner closes the handle; the loop is then empty once
	 * the close callback ran. */
	talloc_free(owner);
	CU_ASSERT(uv_is_closing((uv_handle_t *)t));
	uv_run(&loop, UV_RUN_DEFAULT);
	CU_ASSERT(uv_loop_close(&loop) == 0);
	CU_ASSERT(timer_fired == 1);
	/* uvh_close(NULL) is harmless */
	uvh_close(NULL);
}

static void
test_slot_names(void)
{
	char s[8];

	proc_slot_name(s, sizeof(s), PROC_UDP, 0);
	CU_ASSERT_STRING_EQUAL(s, "u0");
	proc_slot_name(s, sizeof(s), PROC_TCP, 7);
	CU_ASSERT_STRING_EQUAL(s, "t7");
	CU_ASSERT_STRING_EQUAL(proc_kinds[PROC_TCP].kind, "tcp");
	CU_ASSERT(proc_kinds[PROC_TCP].pool == 1 &&
	          proc_kinds[PROC_UDP].pool == 0);
	CU_ASSERT(proc_kinds[PROC_TCP].ctl_handlers[IPC_CONN_NEW] != NULL);
	CU_ASSERT(proc_kinds[PROC_UDP].ctl_handlers[IPC_CONN_NEW] == NULL);
	/* The checkpointer: one slot c0, no SIP service, takes kicks. */
	proc_slot_name(s, sizeof(s), PROC_CKPT, 0);
	CU_ASSERT_STRING_EQUAL(s, "c0");
	CU_ASSERT_STRING_EQUAL(proc_kinds[PROC_CKPT].kind, "checkpointer");
	CU_ASSERT_STRING_EQUAL(proc_kinds[PROC_CKPT].title, "db checkpointer");
	CU_ASSERT(
	    proc_kinds[PROC_CKPT].pool == 0 && proc_kinds[PROC_CKPT].sip == 0 &&
	    proc_kinds[PROC_UDP].sip == 1 && proc_kinds[PROC_TCP].sip == 1);
	CU_ASSERT(proc_kinds[PROC_CKPT].sib_handlers[IPC_CKPT_KICK] != NULL);
	CU_ASSERT(proc_kinds[PROC_CKPT].sib_handlers[IPC_SIP_FORWARD] == NULL);
}

static void
test_fork_channel(void)
{
	static unsigned char buf[IPC_MAX_MSG + 1];
	struct proc_child pc;
	struct ipc_msg m;
	struct ipc_wbuf w;
	unsigned char pl[16];
	int fd = -1, status, r = 0;
	pid_t pid;

	memset(&pc, 0, sizeof(pc));
	strcpy(pc.slot, "t5");
	pid = proc_fork(&pc, &fd);
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* the child: one READY on its channel, then wait for EOF */
		ipc_wbuf_init(&w, pl, sizeof(pl));
		ipc_put_u32(&w, (uint32_t)getpid());
		ipc_put_u32(&w, 0);
		if (ipc_send(pc.ctl_fd, NULL, IPC_READY, "t5", 0, &w, -1) == -1)
			_exit(3);
		for (int i = 0; i < 500; i++) {
			if (ipc_recv(pc.ctl_fd, buf, sizeof(buf), &m) == -1)
				_exit(0); /* the parent closed: done */
			usleep(10000);
		}
		_exit(4);
	}
	for (int i = 0; i < 500 && r == 0; i++) {
		r = ipc_recv(fd, buf, sizeof(buf), &m);
		if (r == 0)
			usleep(10000);
	}
	CU_ASSERT(r == 1);
	CU_ASSERT(m.hdr.type == IPC_READY);
	CU_ASSERT_STRING_EQUAL(m.hdr.slot, "t5");
	close(fd);
	CU_ASSERT(waitpid(pid, &status, 0) == pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int
suite_proc(void)
{
	CU_pSuite s = CU_add_suite("proc", NULL, NULL);

	if (s == NULL)
		return -1;
	if (!CU_add_test(s, "libuv handles in talloc trees", test_uvh) ||
	    !CU_add_test(s, "slot names and the kinds table",
	                 test_slot_names) ||
	    !CU_add_test(s, "fork and control channel", test_fork_channel))
		return -1;
	return 0;
}
