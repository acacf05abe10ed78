// SPDX-License-Identifier: GPL-2.0
/*
 * agent/vhost/vhost_userspace.c without a frontend: the test plays the guest
 * driver. Guest RAM is a memfd mapped through agent/vhost/vhost_mem.c as two
 * GPA-adjacent regions; split rings and buffers are laid out in it; kick,
 * call and error fds are eventfds; the tap queue is one end of a
 * SOCK_SEQPACKET socketpair (one frame per read/write, like a tap).
 * Guest memory that shrinks under the plane is caught by agent/vhost/vhost_guard.c,
 * as xtap-vhost does it.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vhost_dev.h"
#include "vhost_guard.h"
#include "vhost_mem.h"

#define GPA0      0x40000000ull          /* guest RAM starts here ... */
#define UVA0      0x7f0000000000ull      /* ... and the "frontend" has it here */
#define REGION    (2u << 20)             /* two regions of 2 MiB, adjacent in GPA */
#define MEM_SIZE  (2 * REGION)
#define HDR       12                     /* virtio-net header with VERSION_1 */
#define RX 0
#define TX 1

static const struct xtap_vhost_plane *plane = &xtap_vhost_plane_userspace;

struct gring {                           /* the guest driver's view of one ring */
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, last_used;
};

struct fx {
	struct xtap_vhost_dev d;
	int memfd;
	uint8_t *guest;                  /* the test's own mapping of guest RAM */
	uint64_t brk;                    /* bump allocator, offset into guest RAM */
	int sock[2];                     /* [0]: the plane's "tap queue"; [1]: the network */
	struct gring g[2];
	int kick[2], call[2], err[2];
};

static uint64_t galloc(struct fx *f, uint64_t size, uint64_t align)
{
	uint64_t off = (f->brk + align - 1) & ~(align - 1);

	assert_true(off + size <= MEM_SIZE);
	f->brk = off + size;
	return GPA0 + off;
}

static void *gptr(struct fx *f, uint64_t gpa)
{
	return f->guest + (gpa - GPA0);
}

static int efd(void)
{
	/* Blocking, like a frontend's: the plane must read kicks only after POLLIN. */
	int fd = eventfd(0, EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void ring_layout(struct fx *f, unsigned int i, unsigned int num)
{
	struct gring *g = &f->g[i];
	struct xtap_vring *v = &f->d.vring[i];
	uint64_t desc = galloc(f, 16 * num, 4096), avail = galloc(f, 6 + 2 * num, 4096),
		 used = galloc(f, 6 + 8 * num, 4096);

	*g = (struct gring){ .num = num, .desc = gptr(f, desc), .avail = gptr(f, avail),
			     .used = gptr(f, used) };
	/* What the server does with SET_VRING_NUM/ADDR/KICK/CALL/ERR. */
	v->num = num;
	v->desc = xtap_vhost_gpa(&f->d.mem, desc, 16 * num);
	v->avail = xtap_vhost_gpa(&f->d.mem, avail, 6 + 2 * num);
	v->used = xtap_vhost_gpa(&f->d.mem, used, 6 + 8 * num);
	assert_non_null(v->desc);
	assert_non_null(v->avail);
	assert_non_null(v->used);
	f->kick[i] = v->kick_fd = efd();
	f->call[i] = v->call_fd = efd();
	f->err[i] = v->err_fd = efd();
	v->enabled = true;
}

static void start(struct fx *f, unsigned int i)
{
	struct xtap_err err = { "" };
	int ret = plane->start(&f->d, i, &err);

	if (ret)
		print_error("start ring %u: %s\n", i, err.msg);
	assert_int_equal(ret, 0);
}

static int setup_num(void **state, unsigned int num, uint64_t features)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vhost_user_memory msg = {
		.nregions = 2,
		.regions = {
			{ .guest_phys_addr = GPA0, .memory_size = REGION, .userspace_addr = UVA0 },
			{ .guest_phys_addr = GPA0 + REGION, .memory_size = REGION,
			  .userspace_addr = UVA0 + REGION, .mmap_offset = REGION },
		},
	};
	struct xtap_err err = { "" };
	int fds[2];

	assert_non_null(f);
	f->memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	f->guest = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->guest != MAP_FAILED);
	fds[0] = fds[1] = f->memfd;
	if (xtap_vhost_mem_set(&f->d.mem, &msg, fds, 2, &err))
		fail_msg("xtap_vhost_mem_set: %s", err.msg);

	strcpy(f->d.port, "vmtest");
	f->d.n_pairs = 1;
	f->d.features = features;
	for (unsigned int q = 0; q < XTAP_VHOST_MAX_PAIRS; q++)
		f->d.tap_fd[q] = -1;
	for (unsigned int i = 0; i < XTAP_VHOST_MAX_RINGS; i++)
		f->d.vring[i] = (struct xtap_vring){ .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
				    f->sock), 0);
	f->d.tap_fd[0] = f->sock[0];
	f->d.plane = plane;
	ring_layout(f, RX, num);
	ring_layout(f, TX, num);

	assert_int_equal(plane->probe(&err), 0);
	assert_int_equal(plane->open(&f->d, &err), 0);
	assert_int_equal(plane->set_mem(&f->d, &err), 0);
	assert_int_equal(plane->set_features(&f->d, &err), 0);
	start(f, RX);
	start(f, TX);
	*state = f;
	return 0;
}

static uint64_t features_v1(void)
{
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
	       1ull << VIRTIO_F_ANY_LAYOUT | 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM;
}

static int setup(void **state)
{
	return setup_num(state, 256, features_v1());
}

static int setup_small(void **state)
{
	return setup_num(state, 8, features_v1());
}

static int setup_legacy(void **state)
{
	/* Neither VERSION_1 nor MRG_RXBUF: a 10-byte header, no num_buffers. */
	return setup_num(state, 256, 0);
}

static int setup_no_indirect(void **state)
{
	return setup_num(state, 256, 1ull << VIRTIO_F_VERSION_1);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	plane->close(&f->d);
	assert_null(f->d.plane_priv);
	for (unsigned int i = 0; i < 2; i++) {
		close(f->kick[i]);
		close(f->call[i]);
		close(f->err[i]);
	}
	close(f->sock[0]);
	close(f->sock[1]);
	xtap_vhost_mem_clear(&f->d.mem);
	munmap(f->guest, MEM_SIZE);
	close(f->memfd);
	free(f);
	return 0;
}

/* ---- the guest driver ---- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;                  /* VRING_DESC_F_WRITE / _INDIRECT */
};

static void desc_set(struct vring_desc *d, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = htole64(gpa);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Writes n descriptors from index first, chained in order, and makes head `first` available. */
static void post_at(struct fx *f, unsigned int i, uint16_t first, const struct seg *s, unsigned int n)
{
	struct gring *g = &f->g[i];

	for (unsigned int k = 0; k < n; k++) {
		uint16_t idx = (first + k) % g->num;

		desc_set(&g->desc[idx], s[k].gpa, s[k].len,
			 s[k].flags | (k + 1 < n ? VRING_DESC_F_NEXT : 0), (idx + 1) % g->num);
	}
	g->avail->ring[g->avail_idx % g->num] = htole16(first);
	g->avail_idx++;
	__atomic_store_n(&g->avail->idx, htole16(g->avail_idx), __ATOMIC_RELEASE);
}

static void post(struct fx *f, unsigned int i, const struct seg *s, unsigned int n)
{
	post_at(f, i, 0, s, n);
}

static void kick(struct fx *f, unsigned int i)
{
	uint64_t one = 1;

	assert_int_equal(write(f->kick[i], &one, sizeof(one)), sizeof(one));
}

/* Whether the eventfd was signalled since last asked (and resets it). */
static bool signalled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 0) != 1)
		return false;
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	return true;
}

static bool used_pop(struct fx *f, unsigned int i, uint32_t *id, uint32_t *len)
{
	struct gring *g = &f->g[i];
	uint16_t idx = le16toh(__atomic_load_n(&g->used->idx, __ATOMIC_ACQUIRE));

	if (idx == g->last_used)
		return false;
	*id = le32toh(g->used->ring[g->last_used % g->num].id);
	*len = le32toh(g->used->ring[g->last_used % g->num].len);
	g->last_used++;
	return true;
}

static uint16_t used_idx(struct fx *f, unsigned int i)
{
	return le16toh(__atomic_load_n(&f->g[i].used->idx, __ATOMIC_ACQUIRE));
}

/* Runs the plane's side of the poll loop until nothing is ready; returns the rounds it took. */
static int pump(struct fx *f)
{
	struct pollfd pfd[3 * XTAP_VHOST_MAX_PAIRS];

	for (int round = 0; round < 10000; round++) {
		int n = plane->poll_fds(&f->d, pfd, 3 * XTAP_VHOST_MAX_PAIRS), r;

		assert_true(n >= 0);
		r = poll(pfd, n, 0);
		assert_true(r >= 0);
		if (!r)
			return round;
		plane->poll_events(&f->d, pfd, n);
	}
	fail_msg("the plane never went idle (busy loop)");
	return -1;
}

/* Whether the plane currently polls the tap for frames. */
static bool polls_tap_in(struct fx *f)
{
	struct pollfd pfd[3 * XTAP_VHOST_MAX_PAIRS];
	int n = plane->poll_fds(&f->d, pfd, 3 * XTAP_VHOST_MAX_PAIRS);

	for (int k = 0; k < n; k++)
		if (pfd[k].fd == f->sock[0] && (pfd[k].events & POLLIN))
			return true;
	return false;
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)(seed * 31 + k * 7 + (k >> 8));
}

static void net_hdr(uint8_t *h, uint16_t num_buffers)
{
	struct virtio_net_hdr_v1 v = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_NONE,
		.hdr_len = htole16(54), .csum_start = htole16(34), .csum_offset = htole16(16),
		.num_buffers = htole16(num_buffers),
	};

	memcpy(h, &v, HDR);
}

/* A TX frame at descriptors first, first+1: header in one buffer, payload in the other. */
static void tx_frame_at(struct fx *f, uint16_t first, uint8_t *expect, size_t plen, unsigned int seed)
{
	uint64_t h = galloc(f, HDR, 16), p = galloc(f, plen, 16);
	struct seg s[2] = { { h, HDR, 0 }, { p, plen, 0 } };

	net_hdr(gptr(f, h), 0);
	fill(gptr(f, p), plen, seed);
	memcpy(expect, gptr(f, h), HDR);
	memcpy(expect + HDR, gptr(f, p), plen);
	post_at(f, TX, first, s, 2);
}

static void tx_frame(struct fx *f, uint8_t *expect, size_t plen, unsigned int seed)
{
	tx_frame_at(f, 0, expect, plen, seed);
}

static void expect_frame(struct fx *f, const uint8_t *want, size_t len)
{
	uint8_t buf[70000];
	ssize_t got = recv(f->sock[1], buf, sizeof(buf), MSG_DONTWAIT);

	assert_int_equal(got, len);
	assert_memory_equal(buf, want, len);
}

static void expect_silence(struct fx *f)
{
	uint8_t buf[64];

	assert_int_equal(recv(f->sock[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* ---- cases ---- */

static void test_features(void **state)
{
	uint64_t feat = plane->features();

	(void)state;
	assert_true(feat & 1ull << VIRTIO_F_VERSION_1);
	assert_true(feat & 1ull << VIRTIO_NET_F_CSUM);
	assert_true(feat & 1ull << VIRTIO_NET_F_HOST_TSO4);
	assert_true(feat & 1ull << VIRTIO_NET_F_GUEST_TSO6);
	assert_true(feat & 1ull << VIRTIO_RING_F_INDIRECT_DESC);
	/* Not implemented, so never offered. */
	assert_false(feat & 1ull << VIRTIO_NET_F_MRG_RXBUF);
	assert_false(feat & 1ull << VIRTIO_RING_F_EVENT_IDX);
	assert_false(feat & 1ull << VIRTIO_F_RING_PACKED);
	assert_false(feat & 1ull << VIRTIO_NET_F_GUEST_UFO);
	assert_false(feat & 1ull << VIRTIO_NET_F_HOST_UFO);
	assert_int_equal(plane->probe(NULL), 0);
	assert_string_equal(plane->name, "userspace");
}

static void test_tx_one_frame(void **state)
{
	struct fx *f = *state;
	uint8_t want[HDR + 60];
	uint32_t id, len;

	tx_frame(f, want, 60, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	expect_silence(f);
	assert_true(used_pop(f, TX, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	assert_false(used_pop(f, TX, &id, &len));
	assert_true(signalled(f->call[TX]));
	assert_false(signalled(f->err[TX]));
}

static void test_tx_layouts(void **state)
{
	struct fx *f = *state;
	uint8_t want[HDR + 300];
	uint64_t one = galloc(f, sizeof(want), 16), cross = GPA0 + REGION - 100;
	uint64_t table = galloc(f, 3 * 16, 16);
	struct vring_desc *t = gptr(f, table);
	uint32_t id, len;

	/* Header and frame in one buffer (ANY_LAYOUT / VERSION_1). */
	net_hdr(want, 0);
	fill(want + HDR, 300, 2);
	memcpy(gptr(f, one), want, sizeof(want));
	post(f, TX, &(struct seg){ one, sizeof(want), 0 }, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));

	/* A buffer across the boundary of two regions (two mappings). */
	memcpy(gptr(f, cross), want, sizeof(want));
	post_at(f, TX, 5, &(struct seg){ cross, sizeof(want), 0 }, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));

	/* An indirect table of three buffers. */
	desc_set(&t[0], one, 5, VRING_DESC_F_NEXT, 2);
	desc_set(&t[2], one + 5, 100, VRING_DESC_F_NEXT, 1);
	desc_set(&t[1], one + 105, sizeof(want) - 105, 0, 0);
	post_at(f, TX, 9, &(struct seg){ table, 3 * 16, VRING_DESC_F_INDIRECT }, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));

	assert_true(used_pop(f, TX, &id, &len) && id == 0);
	assert_true(used_pop(f, TX, &id, &len) && id == 5);
	assert_true(used_pop(f, TX, &id, &len) && id == 9);
	assert_false(signalled(f->err[TX]));
}

/* Posts one writable RX buffer of len bytes (filled with 0xee) at descriptor first. */
static uint64_t rx_buffer(struct fx *f, uint16_t first, uint32_t len)
{
	uint64_t b = galloc(f, len, 16);

	memset(gptr(f, b), 0xee, len);
	post_at(f, RX, first, &(struct seg){ b, len, VRING_DESC_F_WRITE }, 1);
	return b;
}

static void net_send(struct fx *f, const uint8_t *frame, size_t len)
{
	assert_int_equal(send(f->sock[1], frame, len, MSG_DONTWAIT), len);
}

static void test_rx_one_frame(void **state)
{
	struct fx *f = *state;
	uint8_t frame[HDR + 100], want[HDR + 100];
	uint64_t b = rx_buffer(f, 0, 1600);
	uint32_t id, len;

	/* A tap leaves num_buffers alone (it writes 10 bytes and skips 2): garbage here. */
	net_hdr(frame, 0xbeef);
	fill(frame + HDR, 100, 3);
	memcpy(want, frame, sizeof(frame));
	((struct virtio_net_hdr_v1 *)want)->num_buffers = htole16(1);
	kick(f, RX);
	net_send(f, frame, sizeof(frame));
	pump(f);
	assert_true(used_pop(f, RX, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(gptr(f, b), want, sizeof(want));
	/* Nothing written past the frame. */
	assert_int_equal(((uint8_t *)gptr(f, b))[sizeof(frame)], 0xee);
	assert_true(signalled(f->call[RX]));
	assert_false(signalled(f->err[RX]));
}

static void test_rx_split_header(void **state)
{
	struct fx *f = *state;
	uint8_t frame[HDR + 80], got[HDR + 80];
	uint64_t a = galloc(f, 11, 16), b = galloc(f, 1000, 16), table = galloc(f, 32, 16);
	struct vring_desc *t = gptr(f, table);
	uint32_t id, len;

	/* num_buffers straddles two buffers, listed in an indirect table. */
	desc_set(&t[0], a, 11, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc_set(&t[1], b, 1000, VRING_DESC_F_WRITE, 0);
	post_at(f, RX, 3, &(struct seg){ table, 32, VRING_DESC_F_INDIRECT }, 1);
	net_hdr(frame, 0x0202);
	fill(frame + HDR, 80, 4);
	net_send(f, frame, sizeof(frame));
	pump(f);
	assert_true(used_pop(f, RX, &id, &len));
	assert_int_equal(id, 3);
	assert_int_equal(len, sizeof(frame));
	memcpy(got, gptr(f, a), 11);
	memcpy(got + 11, gptr(f, b), sizeof(got) - 11);
	assert_int_equal(le16toh(((struct virtio_net_hdr_v1 *)got)->num_buffers), 1);
	assert_memory_equal(got, frame, 10);
	assert_memory_equal(got + HDR, frame + HDR, 80);
}

static void test_legacy_header(void **state)
{
	struct fx *f = *state;
	uint8_t frame[10 + 64];
	uint64_t b = rx_buffer(f, 0, 1600), t = galloc(f, sizeof(frame), 16);
	uint32_t id, len;

	/* 10-byte header: the frame follows it directly; nothing is patched. */
	memset(frame, 0, 10);
	fill(frame + 10, 64, 5);
	net_send(f, frame, sizeof(frame));
	pump(f);
	assert_true(used_pop(f, RX, &id, &len));
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(gptr(f, b), frame, sizeof(frame));

	memcpy(gptr(f, t), frame, sizeof(frame));
	post(f, TX, &(struct seg){ t, sizeof(frame), 0 }, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, frame, sizeof(frame));
}

static void test_rx_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[HDR + 60];
	uint64_t b;
	uint32_t id, len;

	net_hdr(frame, 1);
	fill(frame + HDR, 60, 6);
	net_send(f, frame, sizeof(frame));
	/* No buffers: the plane goes idle (no busy loop on the readable tap) ... */
	pump(f);
	assert_int_equal(used_idx(f, RX), 0);
	assert_false(polls_tap_in(f));
	assert_false(signalled(f->call[RX]));
	/* ... and a buffer posted without a kick is not noticed ... */
	b = rx_buffer(f, 0, 2048);
	pump(f);
	assert_int_equal(used_idx(f, RX), 0);
	/* ... until the guest kicks. */
	kick(f, RX);
	pump(f);
	assert_true(used_pop(f, RX, &id, &len));
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(gptr(f, b), frame, sizeof(frame));
	assert_true(signalled(f->call[RX]));
	/* The ring is empty again: back to waiting. */
	assert_false(polls_tap_in(f));
}

static void test_no_interrupt(void **state)
{
	struct fx *f = *state;
	uint8_t want[HDR + 60], frame[HDR + 60];
	uint32_t id, len;

	f->g[TX].avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	f->g[RX].avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	tx_frame(f, want, 60, 7);
	kick(f, TX);
	rx_buffer(f, 0, 1600);
	kick(f, RX);
	net_hdr(frame, 1);
	fill(frame + HDR, 60, 8);
	net_send(f, frame, sizeof(frame));
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_true(used_pop(f, TX, &id, &len));
	assert_true(used_pop(f, RX, &id, &len));
	assert_false(signalled(f->call[TX]));
	assert_false(signalled(f->call[RX]));

	/* Interrupts wanted again. */
	f->g[TX].avail->flags = 0;
	tx_frame(f, want, 60, 9);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_true(signalled(f->call[TX]));
}

static void test_stop_start(void **state)
{
	struct fx *f = *state;
	struct xtap_err err = { "" };
	uint8_t want[HDR + 60];

	for (unsigned int k = 0; k < 3; k++) {
		tx_frame(f, want, 60, k);
		kick(f, TX);
		pump(f);
		expect_frame(f, want, sizeof(want));
	}
	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	assert_int_equal(f->d.vring[TX].last_avail, 3);
	/* Stopped: a kick does nothing. */
	tx_frame(f, want, 60, 3);
	kick(f, TX);
	pump(f);
	expect_silence(f);
	assert_int_equal(used_idx(f, TX), 3);
	/* Started again where it stopped: the frame queued meanwhile goes. */
	start(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_int_equal(used_idx(f, TX), 4);
	/* start on a running ring (no stop in between) keeps its place too. */
	start(f, TX);
	tx_frame(f, want, 60, 4);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	assert_int_equal(f->d.vring[TX].last_avail, 5);
	assert_int_equal(plane->stop(&f->d, RX, &err), 0);
	assert_int_equal(f->d.vring[RX].last_avail, 0);
}

static void test_index_wrap(void **state)
{
	struct fx *f = *state;
	struct xtap_err err = { "" };
	uint8_t want[HDR + 60];

	/* A ring handed over at 65534 (SET_VRING_BASE): the indices wrap through 0. */
	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	f->d.vring[TX].last_avail = 65534;
	f->g[TX].avail_idx = f->g[TX].last_used = 65534;
	f->g[TX].avail->idx = htole16(65534);
	f->g[TX].used->idx = htole16(65534);
	start(f, TX);
	for (unsigned int k = 0; k < 4; k++) {
		tx_frame(f, want, 60, k);
		kick(f, TX);
		pump(f);
		expect_frame(f, want, sizeof(want));
	}
	assert_int_equal(used_idx(f, TX), 2);
}

static void test_start_refused(void **state)
{
	struct fx *f = *state;
	struct xtap_err err = { "" };
	struct xtap_vring saved = f->d.vring[TX];

	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	f->d.vring[TX].kick_fd = -1;
	assert_true(plane->start(&f->d, TX, &err) < 0);
	assert_non_null(strstr(err.msg, "ring 1"));
	f->d.vring[TX] = saved;
	f->d.vring[TX].avail = (uint8_t *)saved.avail + 1;
	assert_true(plane->start(&f->d, TX, &err) < 0);
	f->d.vring[TX] = saved;
	assert_true(plane->start(&f->d, 2, &err) < 0);      /* only one queue pair */
	f->d.tap_fd[0] = -1;
	assert_true(plane->start(&f->d, TX, &err) < 0);
	f->d.tap_fd[0] = f->sock[0];
	start(f, TX);
}

/* The ring is broken: nothing done, error fd signalled, and it stays stopped. */
static void expect_broken(struct fx *f, unsigned int i)
{
	uint8_t want[HDR + 60];

	pump(f);
	assert_int_equal(used_idx(f, i), 0);
	assert_true(signalled(f->err[i]));
	assert_false(signalled(f->call[i]));
	if (i == TX) {
		expect_silence(f);
		/* A good frame after it is not sent: the ring does not go on past a bad chain. */
		tx_frame_at(f, f->g[TX].num - 2, want, 60, 1);
		kick(f, TX);
		pump(f);
		expect_silence(f);
		assert_int_equal(used_idx(f, TX), 0);
	}
	/* The other ring still runs. */
	if (i == RX) {
		tx_frame(f, want, 60, 2);
		kick(f, TX);
		pump(f);
		expect_frame(f, want, sizeof(want));
	}
}

static void tx_bad(struct fx *f, uint64_t gpa, uint32_t len, uint16_t flags)
{
	post(f, TX, &(struct seg){ gpa, len, flags }, 1);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_outside(void **state)
{
	tx_bad(*state, GPA0 + MEM_SIZE, 64, 0);
}

static void test_bad_below(void **state)
{
	tx_bad(*state, GPA0 - 64, 64, 0);
}

static void test_bad_straddles_end(void **state)
{
	tx_bad(*state, GPA0 + MEM_SIZE - 10, 64, 0);
}

static void test_bad_len_wraps(void **state)
{
	tx_bad(*state, 0xffffffffffffff00ull, 0x200, 0);
}

static void test_bad_huge_len(void **state)
{
	tx_bad(*state, GPA0, 0xffffffff, 0);
}

static void test_bad_direction_tx(void **state)
{
	struct fx *f = *state;

	tx_bad(f, galloc(f, 100, 16), 100, VRING_DESC_F_WRITE);
}

static void test_bad_direction_rx(void **state)
{
	struct fx *f = *state;
	uint8_t frame[HDR + 60];

	post(f, RX, &(struct seg){ galloc(f, 2048, 16), 2048, 0 }, 1);
	kick(f, RX);
	net_hdr(frame, 1);
	net_send(f, frame, sizeof(frame));
	expect_broken(f, RX);
}

static void test_bad_rx_too_small(void **state)
{
	struct fx *f = *state;
	uint8_t frame[HDR + 60];

	/* Not even room for the virtio-net header. */
	post(f, RX, &(struct seg){ galloc(f, 8, 16), 8, VRING_DESC_F_WRITE }, 1);
	kick(f, RX);
	net_hdr(frame, 1);
	net_send(f, frame, sizeof(frame));
	expect_broken(f, RX);
}

static void test_bad_loop(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];
	uint64_t b = galloc(f, 64, 16);

	desc_set(&g->desc[0], b, 32, VRING_DESC_F_NEXT, 1);
	desc_set(&g->desc[1], b + 32, 32, VRING_DESC_F_NEXT, 0);
	g->avail->ring[0] = 0;
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_loop_empty_buffers(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];
	uint64_t b = galloc(f, 64, 16);

	/* Zero-length buffers translate to nothing: only the walk's bound ends the loop. */
	desc_set(&g->desc[0], b, 0, VRING_DESC_F_NEXT, 1);
	desc_set(&g->desc[1], b, 0, VRING_DESC_F_NEXT, 0);
	g->avail->ring[0] = 0;
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_loop_rx(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[RX];
	uint64_t b = galloc(f, 4096, 16);
	uint8_t frame[HDR + 60];

	desc_set(&g->desc[0], b, 2048, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc_set(&g->desc[1], b + 2048, 2048, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	g->avail->ring[0] = 0;
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, RX);
	net_hdr(frame, 1);
	net_send(f, frame, sizeof(frame));
	expect_broken(f, RX);
}

static void test_bad_chain_longer_than_num(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];
	uint64_t b = galloc(f, 64, 16);

	/* Every descriptor of the 8-entry ring chained, the last back to the second. */
	for (unsigned int k = 0; k < g->num; k++)
		desc_set(&g->desc[k], b, 8, VRING_DESC_F_NEXT, k + 1 < g->num ? k + 1 : 1);
	g->avail->ring[0] = 0;
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_next_out_of_range(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];
	uint64_t b = galloc(f, 64, 16);

	desc_set(&g->desc[0], b, 32, VRING_DESC_F_NEXT, g->num + 3);
	g->avail->ring[0] = 0;
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_head(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];

	g->avail->ring[0] = htole16(g->num);
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_avail_jump(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];

	/* More entries "available" than the ring holds. */
	g->avail_idx = g->num + 1;
	__atomic_store_n(&g->avail->idx, htole16(g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	expect_broken(f, TX);
}

/* An indirect descriptor pointing at table (len bytes, flags) whose first entry is set. */
static void indirect_bad(struct fx *f, uint64_t table, uint32_t len, uint16_t flags)
{
	post(f, TX, &(struct seg){ table, len, VRING_DESC_F_INDIRECT | flags }, 1);
	kick(f, TX);
	expect_broken(f, TX);
}

static void test_bad_indirect(void **state)
{
	struct fx *f = *state;
	uint64_t table = galloc(f, 64, 16), b = galloc(f, 64, 16);
	struct vring_desc *t = gptr(f, table);

	desc_set(&t[0], b, 64, 0, 0);
	indirect_bad(f, table, 20, 0);                 /* not a multiple of 16 */
}

static void test_bad_indirect_outside(void **state)
{
	indirect_bad(*state, GPA0 + MEM_SIZE - 16, 32, 0);
}

static void test_bad_indirect_nested(void **state)
{
	struct fx *f = *state;
	uint64_t table = galloc(f, 32, 16);
	struct vring_desc *t = gptr(f, table);

	desc_set(&t[0], table, 32, VRING_DESC_F_INDIRECT, 0);
	indirect_bad(f, table, 32, 0);
}

static void test_bad_indirect_loop(void **state)
{
	struct fx *f = *state;
	uint64_t table = galloc(f, 32, 16), b = galloc(f, 64, 16);
	struct vring_desc *t = gptr(f, table);

	desc_set(&t[0], b, 8, VRING_DESC_F_NEXT, 1);
	desc_set(&t[1], b, 8, VRING_DESC_F_NEXT, 0);
	indirect_bad(f, table, 32, 0);
}

static void test_bad_indirect_with_next(void **state)
{
	struct fx *f = *state;
	uint64_t table = galloc(f, 16, 16), b = galloc(f, 64, 16);

	desc_set(gptr(f, table), b, 64, 0, 0);
	indirect_bad(f, table, 16, VRING_DESC_F_NEXT);
}

static void test_bad_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;
	uint64_t table = galloc(f, 16, 16), b = galloc(f, 64, 16);

	desc_set(gptr(f, table), b, 64, 0, 0);
	indirect_bad(f, table, 16, 0);
}

static void test_bad_kick_fd(void **state)
{
	struct fx *f = *state;
	struct xtap_err err = { "" };
	int pipefd[2];

	/*
	 * A kick fd whose writer went away: POLLHUP forever must not spin. The
	 * server only hands the plane eventfds (vhost_user.c refuses a pipe);
	 * the plane stays robust anyway.
	 */
	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	assert_int_equal(pipe(pipefd), 0);
	close(pipefd[1]);
	f->d.vring[TX].kick_fd = pipefd[0];
	start(f, TX);
	pump(f);
	assert_true(signalled(f->err[TX]));
	close(pipefd[0]);
	f->d.vring[TX].kick_fd = f->kick[TX];
}

static void saturate(int fd)
{
	/* What the server does with call and error fds: non-blocking. */
	int fl = fcntl(fd, F_GETFL);
	uint64_t max = 0xfffffffffffffffeull;       /* the largest count an eventfd holds */

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	assert_int_equal(write(fd, &max, sizeof(max)), sizeof(max));
}

/*
 * A frontend that never reads its call and error eventfds: their counters
 * reach the maximum and a write fails with EAGAIN. The plane takes that as
 * "signalled already" and goes on (a blocking write would hang the process:
 * the alarm in main() fails the test then).
 */
static void test_call_err_saturated(void **state)
{
	struct fx *f = *state;
	struct gring *g = &f->g[TX];
	uint8_t want[HDR + 60];
	uint32_t id, len;

	saturate(f->call[TX]);
	saturate(f->err[TX]);
	tx_frame(f, want, 60, 1);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_true(used_pop(f, TX, &id, &len));
	assert_int_equal(id, 0);
	/* Still signalled (at the maximum), and the ring keeps working. */
	assert_true(signalled(f->call[TX]));
	saturate(f->call[TX]);
	tx_frame_at(f, 2, want, 60, 2);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	assert_true(used_pop(f, TX, &id, &len));
	assert_int_equal(id, 2);
	/* A broken ring's error signal does not block either. */
	g->avail->ring[g->avail_idx % g->num] = htole16(g->num);
	__atomic_store_n(&g->avail->idx, htole16(++g->avail_idx), __ATOMIC_RELEASE);
	kick(f, TX);
	pump(f);
	assert_true(signalled(f->err[TX]));
	assert_int_equal(used_idx(f, TX), 2);
}

static void test_tx_refused_sizes(void **state)
{
	struct fx *f = *state;
	uint8_t want[HDR + 60];
	uint64_t big = galloc(f, 2 * 40000, 16);
	uint32_t id, len;

	/* 80000 bytes: more than 65550 after the header. Dropped, the ring goes on. */
	post(f, TX, (struct seg[]){ { big, 40000, 0 }, { big + 40000, 40000, 0 } }, 2);
	/* Shorter than the header: dropped too. */
	post_at(f, TX, 4, &(struct seg){ big, 6, 0 }, 1);
	tx_frame_at(f, 6, want, 60, 11);
	kick(f, TX);
	pump(f);
	expect_frame(f, want, sizeof(want));
	expect_silence(f);
	assert_true(used_pop(f, TX, &id, &len) && id == 0 && len == 0);
	assert_true(used_pop(f, TX, &id, &len) && id == 4 && len == 0);
	assert_true(used_pop(f, TX, &id, &len) && id == 6);
	assert_false(signalled(f->err[TX]));
}

static void test_rx_frame_too_big(void **state)
{
	struct fx *f = *state;
	uint8_t big[HDR + 500], small[HDR + 50];
	uint64_t b = rx_buffer(f, 0, 200);
	uint32_t id, len;

	/* The frame does not fit: dropped; the same buffer takes the next one. */
	net_hdr(big, 1);
	fill(big + HDR, 500, 12);
	net_hdr(small, 1);
	fill(small + HDR, 50, 13);
	net_send(f, big, sizeof(big));
	net_send(f, small, sizeof(small));
	pump(f);
	assert_true(used_pop(f, RX, &id, &len));
	assert_int_equal(len, sizeof(small));
	assert_memory_equal(gptr(f, b), small, sizeof(small));
	assert_false(used_pop(f, RX, &id, &len));
	assert_false(signalled(f->err[RX]));
}

#define MANY 1000
#define SLOTS 128

static void test_tx_many(void **state)
{
	struct fx *f = *state;
	uint64_t hdrs = galloc(f, SLOTS * 16, 16), pays = galloc(f, SLOTS * 1600, 16);
	unsigned int sent = 0, done = 0, got = 0, rounds = 0;
	int sndbuf = 4096;
	uint8_t buf[2048];

	/* A small socket buffer: the plane meets EAGAIN and must resume on POLLOUT. */
	assert_int_equal(setsockopt(f->sock[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	while (got < MANY) {
		uint32_t id, len;
		ssize_t n;

		assert_true(++rounds < 100000);
		while (sent < MANY && sent - done < 64) {
			unsigned int s = sent % SLOTS, plen = 60 + sent % 1455;

			net_hdr(gptr(f, hdrs + s * 16), 0);
			fill(gptr(f, pays + s * 1600), plen, sent);
			post_at(f, TX, 2 * s, (struct seg[]){ { hdrs + s * 16, HDR, 0 },
						      { pays + s * 1600, plen, 0 } }, 2);
			sent++;
		}
		kick(f, TX);
		pump(f);
		while ((n = recv(f->sock[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			unsigned int plen = 60 + got % 1455;
			uint8_t want[1600];

			assert_int_equal(n, HDR + plen);
			fill(want, plen, got);
			assert_memory_equal(buf + HDR, want, plen);
			got++;
		}
		while (used_pop(f, TX, &id, &len)) {
			assert_int_equal(id, 2 * (done % SLOTS));
			done++;
		}
	}
	assert_int_equal(done, MANY);
	assert_false(signalled(f->err[TX]));
}

static void test_rx_many(void **state)
{
	struct fx *f = *state;
	uint64_t bufs = galloc(f, SLOTS * 2048, 16);
	unsigned int sent = 0, got = 0, rounds = 0;
	uint8_t frame[HDR + 1600];

	for (unsigned int s = 0; s < SLOTS; s++)
		post_at(f, RX, s, &(struct seg){ bufs + s * 2048, 2048, VRING_DESC_F_WRITE }, 1);
	kick(f, RX);
	while (got < MANY) {
		uint32_t id, len;

		assert_true(++rounds < 100000);
		while (sent < MANY) {
			unsigned int plen = 60 + sent % 1455;

			net_hdr(frame, 0);
			fill(frame + HDR, plen, sent);
			if (send(f->sock[1], frame, HDR + plen, MSG_DONTWAIT) < 0) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			sent++;
		}
		pump(f);
		while (used_pop(f, RX, &id, &len)) {
			unsigned int plen = 60 + got % 1455;
			uint8_t *b = gptr(f, bufs + id * 2048);

			assert_int_equal(id, got % SLOTS);
			assert_int_equal(len, HDR + plen);
			assert_int_equal(le16toh(((struct virtio_net_hdr_v1 *)b)->num_buffers), 1);
			fill(frame, plen, got);
			assert_memory_equal(b + HDR, frame, plen);
			/* Give the buffer back. */
			post_at(f, RX, id, &(struct seg){ bufs + id * 2048, 2048, VRING_DESC_F_WRITE }, 1);
			got++;
		}
		kick(f, RX);
	}
	assert_false(signalled(f->err[RX]));
}

static void test_second_pair(void **state)
{
	struct fx *f = *state;
	struct xtap_err err = { "" };
	uint8_t want[HDR + 60], buf[256];
	int sp[2];

	/* Ring 3 (pair 1's TX) writes to tap queue 1 only. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
	f->d.n_pairs = 2;
	f->d.tap_fd[1] = sp[0];
	f->d.vring[3] = f->d.vring[TX];
	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	start(f, 3);
	tx_frame(f, want, 60, 14);
	kick(f, TX);                     /* the same kick fd, now ring 3's */
	pump(f);
	expect_silence(f);
	assert_int_equal(recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(plane->stop(&f->d, 3, &err), 0);
	assert_int_equal(f->d.vring[3].last_avail, 1);
	f->d.vring[3] = (struct xtap_vring){ .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	f->d.tap_fd[1] = -1;
	close(sp[0]);
	close(sp[1]);
}

/* ---- guest memory that shrinks under the plane ---- */

static void work_pump(struct fx *f)
{
	pump(f);
}

static void work_restart_tx(struct fx *f)
{
	struct xtap_err err = { "" };

	assert_int_equal(plane->stop(&f->d, TX, &err), 0);
	start(f, TX);
}

/*
 * Runs work under the guard, as xtap-vhost's loop does; returns the address
 * that faulted (the plane's state is then only fit to be closed), or NULL.
 */
static void *guarded(struct fx *f, void (*work)(struct fx *f))
{
	static struct xtap_vhost_guard g;
	struct xtap_err err = { "" };

	if (xtap_vhost_guard_install(&err))
		fail_msg("%s", err.msg);
	if (sigsetjmp(g.env, 1))
		return g.addr;
	xtap_vhost_guard_arm(&g, &f->d.mem);
	work(f);
	xtap_vhost_guard_disarm(&g);
	return NULL;
}

static void test_memory_shrunk(void **state)
{
	struct fx *f = *state;
	uint8_t want[HDR + 60];

	tx_frame(f, want, 60, 1);
	/* The frontend truncates its (unsealed) memfd after handing it over, then kicks. */
	assert_int_equal(ftruncate(f->memfd, 0), 0);
	kick(f, TX);
	/* The first touch faults: the avail index. */
	assert_ptr_equal(guarded(f, work_pump), (uint8_t *)f->d.vring[TX].avail + offsetof(struct vring_avail, idx));
	expect_silence(f);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
}

static void test_memory_shrunk_before_start(void **state)
{
	struct fx *f = *state;

	/* Starting a ring reads where the used ring stands: the server's path, guarded as well. */
	assert_int_equal(ftruncate(f->memfd, 0), 0);
	assert_ptr_equal(guarded(f, work_restart_tx), (uint8_t *)f->d.vring[TX].used + offsetof(struct vring_used, idx));
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
}

static void test_memory_shrunk_under_buffers(void **state)
{
	struct fx *f = *state;
	uint64_t b = GPA0 + REGION + 4096;
	uint32_t id, len;

	/*
	 * Only the second region goes (the rings are in the first): the plane
	 * never loads a frame itself, and the kernel's copy out of a vanished
	 * page fails with EFAULT instead of a signal. The frame is dropped,
	 * the ring goes on.
	 */
	assert_int_equal(ftruncate(f->memfd, REGION), 0);
	post(f, TX, &(struct seg){ b, HDR + 60, 0 }, 1);
	kick(f, TX);
	assert_null(guarded(f, work_pump));
	expect_silence(f);
	assert_true(used_pop(f, TX, &id, &len));
	assert_int_equal(id, 0);
	assert_false(signalled(f->err[TX]));
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
}

enum foreign_fault { FAULT_OTHER_MAPPING, FAULT_DISARMED, FAULT_SENT };

/* In a child: a SIGBUS the guard must not swallow. Returns only if it did (a bug). */
static void foreign_sigbus(struct fx *f, enum foreign_fault what)
{
	static struct xtap_vhost_guard g;
	struct xtap_err err = { "" };
	volatile uint8_t *p;
	int fd;

	prctl(PR_SET_DUMPABLE, 0);              /* no core file from the expected death */
	signal(SIGBUS, SIG_DFL);                /* cmocka's handler otherwise */
	if (xtap_vhost_guard_install(&err))
		_exit(2);
	if (sigsetjmp(g.env, 1))
		return;
	xtap_vhost_guard_arm(&g, &f->d.mem);
	switch (what) {
	case FAULT_OTHER_MAPPING:
		/* A file mapping of our own that is not guest memory. */
		fd = memfd_create("not-guest", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, 4096))
			_exit(2);
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0))
			_exit(2);
		(void)*p;
		break;
	case FAULT_DISARMED:
		xtap_vhost_guard_disarm(&g);
		if (ftruncate(f->memfd, 0))
			_exit(2);
		p = f->d.vring[TX].avail;
		(void)*p;
		break;
	case FAULT_SENT: {
		/* Sent, not a fault, even if it names an address in guest memory. */
		siginfo_t si = { .si_signo = SIGBUS, .si_code = SI_QUEUE };

		si.si_addr = f->d.vring[TX].avail;
		syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &si);
		break;
	}
	}
}

static void test_guard_passes_other_sigbus(void **state)
{
	struct fx *f = *state;

	for (enum foreign_fault what = FAULT_OTHER_MAPPING; what <= FAULT_SENT; what++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (!pid) {
			foreign_sigbus(f, what);
			_exit(3);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
			fail_msg("case %d: the child %s %d, not killed by SIGBUS", what,
				 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),
		T(test_tx_one_frame),
		T(test_tx_layouts),
		T(test_rx_one_frame),
		T(test_rx_split_header),
		cmocka_unit_test_setup_teardown(test_legacy_header, setup_legacy, teardown),
		T(test_rx_waits_for_buffers),
		T(test_no_interrupt),
		T(test_stop_start),
		T(test_index_wrap),
		T(test_start_refused),
		T(test_bad_outside),
		T(test_bad_below),
		T(test_bad_straddles_end),
		T(test_bad_len_wraps),
		T(test_bad_huge_len),
		T(test_bad_direction_tx),
		T(test_bad_direction_rx),
		T(test_bad_rx_too_small),
		T(test_bad_loop),
		T(test_bad_loop_empty_buffers),
		T(test_bad_loop_rx),
		cmocka_unit_test_setup_teardown(test_bad_chain_longer_than_num, setup_small, teardown),
		T(test_bad_next_out_of_range),
		T(test_bad_head),
		T(test_bad_avail_jump),
		T(test_bad_indirect),
		T(test_bad_indirect_outside),
		T(test_bad_indirect_nested),
		T(test_bad_indirect_loop),
		T(test_bad_indirect_with_next),
		cmocka_unit_test_setup_teardown(test_bad_indirect_not_negotiated, setup_no_indirect,
						teardown),
		T(test_bad_kick_fd),
		T(test_call_err_saturated),
		T(test_tx_refused_sizes),
		T(test_rx_frame_too_big),
		T(test_tx_many),
		T(test_rx_many),
		T(test_second_pair),
		T(test_memory_shrunk),
		T(test_memory_shrunk_before_start),
		T(test_memory_shrunk_under_buffers),
		T(test_guard_passes_other_sigbus),
	};

	/* A plane that blocks on a kick fd would hang the test: fail it instead. */
	alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
