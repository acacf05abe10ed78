/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory that vanishes under us. A frontend shares guest RAM as
 * MAP_SHARED files; nothing stops it from shrinking one after SET_MEM_TABLE
 * (ftruncate of an unsealed memfd, a /dev/shm or hugetlbfs file, which
 * cannot be sealed at all), or a hugetlbfs pool from running dry: our next
 * load from the mapping then raises SIGBUS, which would kill the port's
 * server. The guard turns such a fault into a jump back to the code that
 * armed it, which drops the frontend:
 *
 *	struct xtap_vhost_guard g;
 *
 *	if (sigsetjmp(g.env, 1))
 *		... g.addr faulted: drop everything that was touching guest memory ...
 *	xtap_vhost_guard_arm(&g, &dev->mem);
 *	... read and write guest memory ...
 *	xtap_vhost_guard_disarm(&g);
 *
 * The code between arm and disarm must be abandonable at any load or store
 * of guest memory: no locks, no allocation half made, and its state is
 * thrown away after a jump (the server closes the plane). A SIGBUS outside
 * the armed table's mappings, or while disarmed, is not ours: SIGBUS's
 * previous disposition (by default: death with a core) takes it.
 * One process-wide guard at a time (xtap-vhost is single-threaded).
 */
#ifndef XTAP_VHOST_GUARD_H
#define XTAP_VHOST_GUARD_H

#include <setjmp.h>

#include "err.h"
#include "vhost_mem.h"

struct xtap_vhost_guard {
	sigjmp_buf env;                        /* where a fault in guest memory returns (sigsetjmp(env, 1)) */
	const struct xtap_vhost_mem *mem;      /* the mappings a fault may hit */
	void *addr;                            /* after the jump: the address that faulted */
};

/* Installs the SIGBUS handler (keeping the previous disposition for faults that are not ours). */
int xtap_vhost_guard_install(struct xtap_err *err);
/* From here until disarm, a SIGBUS in one of mem's mappings jumps to g->env. */
void xtap_vhost_guard_arm(struct xtap_vhost_guard *g, const struct xtap_vhost_mem *mem);
void xtap_vhost_guard_disarm(struct xtap_vhost_guard *g);

#endif /* XTAP_VHOST_GUARD_H */
