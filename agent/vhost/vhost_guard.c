// SPDX-License-Identifier: GPL-2.0
/*
 * The SIGBUS guard around guest memory (vhost_guard.h). The handler only
 * jumps when the fault is the kernel's (not a kill()), lies inside one of
 * the armed table's mappings and a guard is armed: then the code it
 * interrupts is guest memory work that may be abandoned. Anything else is
 * handed to SIGBUS's previous disposition, so a real bug still dumps core
 * where it happened.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "vhost_guard.h"

static struct xtap_vhost_guard *volatile armed;
static struct sigaction previous;

static int in_mappings(const struct xtap_vhost_mem *m, const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	unsigned int i;

	for (i = 0; i < m->n && i < VHOST_USER_MAX_REGIONS; i++)
		if (a >= (uintptr_t)m->r[i].map_base && a - (uintptr_t)m->r[i].map_base < m->r[i].map_len)
			return 1;
	return 0;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct xtap_vhost_guard *g = armed;

	(void)uc;
	/* si_code <= 0: sent by a process (kill, sigqueue), si_addr means nothing. */
	if (g && si->si_code > 0 && in_mappings(g->mem, si->si_addr)) {
		armed = NULL;
		g->addr = si->si_addr;
		/* Also unblocks SIGBUS again: the mask sigsetjmp(env, 1) saved comes back. */
		siglongjmp(g->env, 1);
	}
	/*
	 * Not ours. SIGBUS is blocked while we run: the re-raised one is taken
	 * by the previous disposition as soon as we return (a fault would
	 * repeat anyway).
	 */
	sigaction(SIGBUS, &previous, NULL);
	raise(sig);
}

int xtap_vhost_guard_install(struct xtap_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO }, old;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old))
		return xtap_fail(err, -errno, "installing the SIGBUS handler for guest memory failed: %s",
				 strerror(errno));
	/* Installed twice: the first previous disposition stays the one to hand over to. */
	if (!(old.sa_flags & SA_SIGINFO) || old.sa_sigaction != on_sigbus)
		previous = old;
	return 0;
}

void xtap_vhost_guard_arm(struct xtap_vhost_guard *g, const struct xtap_vhost_mem *mem)
{
	g->mem = mem;
	g->addr = NULL;
	/* The compiler must not move guest memory accesses above this (nor below disarm). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	armed = g;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

void xtap_vhost_guard_disarm(struct xtap_vhost_guard *g)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* After a jump the handler has disarmed it already. */
	if (armed == g)
		armed = NULL;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}
