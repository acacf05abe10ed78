// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory from a vhost-user frontend. Everything the frontend says is
 * checked against the fd it sent before anything is mapped: a region must
 * lie inside its file (a mapping past the end would SIGBUS us on first
 * touch), and regions may not overlap in either address space (a
 * translation must have one answer).
 *
 * The file may still shrink afterwards: a memfd not sealed with
 * F_SEAL_SHRINK can be truncated, and /dev/shm or hugetlbfs files cannot be
 * sealed at all. Refusing unsealed fds would refuse those backends and still
 * not cover a hugetlbfs pool running dry, so they are taken, and a fault in
 * the mapping is caught instead (vhost_guard.h): it ends the connection.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost_mem.h"

/* [a, a+alen) and [b, b+blen) intersect; lengths > 0 and no overflow, checked before. */
static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_region(const struct vhost_user_region *r, unsigned int i, struct xtap_err *err)
{
	if (!r->memory_size)
		return xtap_fail(err, -EINVAL, "memory region %u: size 0", i);
	if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr ||
	    r->userspace_addr + r->memory_size < r->userspace_addr ||
	    r->mmap_offset + r->memory_size < r->mmap_offset)
		return xtap_fail(err, -EINVAL, "memory region %u: gpa 0x%llx / uva 0x%llx / offset 0x%llx + size 0x%llx overflows",
				 i, (unsigned long long)r->guest_phys_addr,
				 (unsigned long long)r->userspace_addr,
				 (unsigned long long)r->mmap_offset,
				 (unsigned long long)r->memory_size);
	return 0;
}

/* Maps region i of the message from fd into out; nothing mapped on failure. */
static int map_region(const struct vhost_user_region *r, unsigned int i, int fd,
		      struct xtap_vhost_region *out, struct xtap_err *err)
{
	uint64_t align = (uint64_t)sysconf(_SC_PAGESIZE), start, len;
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st))
		return xtap_fail(err, -EBADF, "memory region %u: its fd is not usable", i);
	/* memfd, tmpfs, hugetlbfs: a size to check against; anything else could SIGBUS. */
	if (!S_ISREG(st.st_mode))
		return xtap_fail(err, -EINVAL, "memory region %u: the fd is not a regular file or memfd", i);
	if ((uint64_t)st.st_size < r->mmap_offset + r->memory_size)
		return xtap_fail(err, -EINVAL, "memory region %u: offset 0x%llx + size 0x%llx is beyond the fd's size 0x%llx",
				 i, (unsigned long long)r->mmap_offset,
				 (unsigned long long)r->memory_size, (unsigned long long)st.st_size);
	/* hugetlbfs reports its page size here, and mmap offsets must be aligned to it. */
	if (st.st_blksize > 0 && (uint64_t)st.st_blksize > align &&
	    !(st.st_blksize & (st.st_blksize - 1)) && st.st_blksize <= (1 << 30))
		align = (uint64_t)st.st_blksize;
	start = r->mmap_offset & ~(align - 1);
	len = r->mmap_offset - start + r->memory_size;
	if (len > SIZE_MAX)
		return xtap_fail(err, -ENOMEM, "memory region %u: size 0x%llx is too large to map",
				 i, (unsigned long long)r->memory_size);
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
	if (p == MAP_FAILED)
		return xtap_fail(err, -errno, "memory region %u: mmap of 0x%llx bytes failed: %s",
				 i, (unsigned long long)len, strerror(errno));
	out->gpa = r->guest_phys_addr;
	out->size = r->memory_size;
	out->uva = r->userspace_addr;
	out->map_base = p;
	out->map_len = (size_t)len;
	out->host = (uint8_t *)p + (r->mmap_offset - start);
	return 0;
}

static void unmap_all(struct xtap_vhost_mem *m)
{
	unsigned int i;

	for (i = 0; i < m->n; i++)
		munmap(m->r[i].map_base, m->r[i].map_len);
	m->n = 0;
}

int xtap_vhost_mem_set(struct xtap_vhost_mem *m, const struct vhost_user_memory *msg,
		       const int *fds, unsigned int nfds, struct xtap_err *err)
{
	struct xtap_vhost_mem next = { .n = 0 };
	const struct vhost_user_region *a, *b;
	unsigned int i, j;
	int ret;

	if (!msg->nregions || msg->nregions > VHOST_USER_MAX_REGIONS)
		return xtap_fail(err, -EINVAL, "memory table: %u regions (1 to %d)",
				 msg->nregions, VHOST_USER_MAX_REGIONS);
	if (nfds != msg->nregions)
		return xtap_fail(err, -EINVAL, "memory table: %u regions but %u fds (one fd per region)",
				 msg->nregions, nfds);
	for (i = 0; i < msg->nregions; i++) {
		ret = check_region(&msg->regions[i], i, err);
		if (ret)
			return ret;
	}
	for (i = 0; i < msg->nregions; i++) {
		a = &msg->regions[i];
		for (j = i + 1; j < msg->nregions; j++) {
			b = &msg->regions[j];
			if (overlap(a->guest_phys_addr, a->memory_size, b->guest_phys_addr, b->memory_size))
				return xtap_fail(err, -EINVAL, "memory regions %u and %u overlap in guest physical addresses",
						 i, j);
			if (overlap(a->userspace_addr, a->memory_size, b->userspace_addr, b->memory_size))
				return xtap_fail(err, -EINVAL, "memory regions %u and %u overlap in the frontend's addresses",
						 i, j);
		}
	}
	for (i = 0; i < msg->nregions; i++) {
		ret = map_region(&msg->regions[i], i, fds[i], &next.r[i], err);
		if (ret) {
			unmap_all(&next);
			return ret;
		}
		next.n = i + 1;
	}
	unmap_all(m);
	*m = next;
	return 0;
}

void xtap_vhost_mem_clear(struct xtap_vhost_mem *m)
{
	unmap_all(m);
}

/* Offset of [addr, addr+len) in [base, base+size), or -1 when not wholly inside. */
static int64_t inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
	uint64_t off;

	if (addr < base)
		return -1;
	off = addr - base;
	/* len 0 still names a byte: it must be in the region. */
	if (off >= size || len > size - off)
		return -1;
	return (int64_t)off;
}

void *xtap_vhost_gpa(const struct xtap_vhost_mem *m, uint64_t gpa, uint64_t len)
{
	unsigned int i;
	int64_t off;

	for (i = 0; i < m->n; i++) {
		off = inside(m->r[i].gpa, m->r[i].size, gpa, len);
		if (off >= 0)
			return m->r[i].host + off;
	}
	return NULL;
}

void *xtap_vhost_uva(const struct xtap_vhost_mem *m, uint64_t uva, uint64_t len)
{
	unsigned int i;
	int64_t off;

	for (i = 0; i < m->n; i++) {
		off = inside(m->r[i].uva, m->r[i].size, uva, len);
		if (off >= 0)
			return m->r[i].host + off;
	}
	return NULL;
}
