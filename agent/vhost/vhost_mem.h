/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest memory a vhost-user frontend shares (SET_MEM_TABLE): regions
 * mapped from its fds, and address translation that never reaches outside
 * them. Every lookup checks that the whole [addr, addr+len) lies in one
 * region; NULL otherwise.
 */
#ifndef XTAP_VHOST_MEM_H
#define XTAP_VHOST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vhost_user_proto.h"

struct xtap_vhost_region {
	uint64_t gpa;                  /* guest physical address */
	uint64_t size;
	uint64_t uva;                  /* the frontend's address of the region */
	uint8_t *host;                 /* our mapping of the region's first byte */
	void *map_base;                /* what mmap returned (covers mmap_offset too) */
	size_t map_len;
};

struct xtap_vhost_mem {
	struct xtap_vhost_region r[VHOST_USER_MAX_REGIONS];
	unsigned int n;
};

/*
 * Replaces the table with the message's regions, mapping fds[i] for region
 * i (MAP_SHARED, read-write). Validates sizes, overflow and overlaps first;
 * on failure the old table is kept. The fds are not closed here.
 */
int xtap_vhost_mem_set(struct xtap_vhost_mem *m, const struct vhost_user_memory *msg,
		       const int *fds, unsigned int nfds, struct xtap_err *err);
void xtap_vhost_mem_clear(struct xtap_vhost_mem *m);

/* Our pointer for guest physical [gpa, gpa+len), or NULL. */
void *xtap_vhost_gpa(const struct xtap_vhost_mem *m, uint64_t gpa, uint64_t len);
/* Our pointer for the frontend's [uva, uva+len), or NULL. */
void *xtap_vhost_uva(const struct xtap_vhost_mem *m, uint64_t uva, uint64_t len);

#endif /* XTAP_VHOST_MEM_H */
