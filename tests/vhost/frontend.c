// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' virtio-net guest driver (frontend.h). Written from the virtio
 * 1.x split-ring rules and QEMU's docs/interop/vhost-user.rst; the kernel
 * attach follows tools/virtio/vhost_net_test.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

/* Rings live in region 0 (guest physical 0..2 MiB), one 16 KiB block each. */
#define RING_BLOCK     16384
#define AVAIL_OFF      4096
#define USED_OFF       8192
/* Pair p's buffers in region 1 + p: RX descriptors' first, then TX descriptors'. */
#define RX_BUF_GPA     ((uint64_t)FE_REGION_SIZE)
#define TX_BUF_GPA     (RX_BUF_GPA + (uint64_t)FE_RING_NUM * FE_BUF_SIZE)

static int fail(struct fe *fe, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct fe *fe, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fe->err, sizeof(fe->err), fmt, ap);
	va_end(ap);
	return code;
}

static const char *req_name(uint32_t r)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES", [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER", [VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE", [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR", [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE", [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM", [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	};

	return r < sizeof(names) / sizeof(names[0]) && names[r] ? names[r] : "request";
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t buf_gpa(unsigned int ring, unsigned int d)
{
	return (uint64_t)(ring / 2) * FE_REGION_SIZE + (ring % 2 == FE_RX ? RX_BUF_GPA : TX_BUF_GPA) +
	       (uint64_t)d * FE_BUF_SIZE;
}

static unsigned int n_rings(const struct fe *fe)
{
	return 2 * (fe->n_pairs ? fe->n_pairs : 1);
}

/* Pair p's free TX slots: pair 0's are the fields fe_init always had. */
static uint16_t *tx_free_of(struct fe *fe, unsigned int p)
{
	return p ? fe->mq_tx_free[p] : fe->tx_free;
}

static unsigned int *n_tx_free_of(struct fe *fe, unsigned int p)
{
	return p ? &fe->mq_n_tx_free[p] : &fe->n_tx_free;
}

static void drain_eventfd(int fd, uint64_t *count)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v) && count)
		*count += v;
}

/* Fresh rings for a new device: zeroed, every RX buffer posted, every TX slot free. */
static void rings_reset(struct fe *fe)
{
	unsigned int i, d, p;

	memset(fe->mem, 0, FE_REGION_SIZE);
	for (i = 0; i < n_rings(fe); i++) {
		struct fe_ring *r = &fe->ring[i];

		r->avail_idx = 0;
		r->last_used = 0;
		memset(r->inflight, 0, sizeof(r->inflight));
		drain_eventfd(r->kick_fd, NULL);
		drain_eventfd(r->call_fd, NULL);
	}
	for (p = 0; p < n_rings(fe) / 2; p++) {
		struct fe_ring *r = &fe->ring[FE_RX_RING(p)];
		uint16_t *tx_free = tx_free_of(fe, p);

		for (d = 0; d < FE_RING_NUM; d++) {
			r->desc[d].addr = buf_gpa(FE_RX_RING(p), d);
			r->desc[d].len = FE_BUF_SIZE;
			r->desc[d].flags = VRING_DESC_F_WRITE;
			r->avail->ring[d] = d;
			r->inflight[d] = 1;
		}
		__atomic_store_n(&r->avail->idx, FE_RING_NUM, __ATOMIC_RELEASE);
		r->avail_idx = FE_RING_NUM;
		for (i = 0; i < FE_RING_NUM / 2; i++)
			tx_free[i] = FE_RING_NUM / 2 - 1 - i;
		*n_tx_free_of(fe, p) = FE_RING_NUM / 2;
	}
}

int fe_init(struct fe *fe)
{
	return fe_init_mq(fe, 1);
}

int fe_init_mq(struct fe *fe, unsigned int n_pairs)
{
	unsigned int i;

	memset(fe, 0, sizeof(*fe));
	fe->sock = fe->vhost_fd = fe->tap_fd = -1;
	fe->memfd = -1;
	if (n_pairs < 1 || n_pairs > FE_MAX_PAIRS)
		return fail(fe, -EINVAL, "%u queue pairs: this driver has 1 to %d", n_pairs, FE_MAX_PAIRS);
	fe->n_pairs = n_pairs;
	fe->mem_size = FE_MEM_SIZE + (size_t)(n_pairs - 1) * FE_REGION_SIZE;
	for (i = 0; i < FE_MAX_PAIRS; i++)
		fe->mq_vhost_fd[i] = fe->mq_tap_fd[i] = -1;
	fe->memfd = memfd_create("xtap-test-guest-ram", MFD_CLOEXEC);
	if (fe->memfd < 0 || ftruncate(fe->memfd, fe->mem_size))
		return fail(fe, -errno, "guest RAM memfd: %s", strerror(errno));
	fe->mem = mmap(NULL, fe->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
	if (fe->mem == MAP_FAILED)
		return fail(fe, -errno, "mapping guest RAM: %s", strerror(errno));
	for (i = 0; i < n_rings(fe); i++) {
		struct fe_ring *r = &fe->ring[i];
		uint64_t base = (uint64_t)i * RING_BLOCK;

		r->num = FE_RING_NUM;
		r->desc_gpa = base;
		r->avail_gpa = base + AVAIL_OFF;
		r->used_gpa = base + USED_OFF;
		r->desc = (struct vring_desc *)(fe->mem + r->desc_gpa);
		r->avail = (struct vring_avail *)(fe->mem + r->avail_gpa);
		r->used = (struct vring_used *)(fe->mem + r->used_gpa);
		r->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		r->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (r->kick_fd < 0 || r->call_fd < 0)
			return fail(fe, -errno, "eventfd: %s", strerror(errno));
	}
	rings_reset(fe);
	return 0;
}

void fe_fini(struct fe *fe)
{
	unsigned int i;

	fe_disconnect(fe);
	fe_kernel_detach(fe);
	for (i = 0; i < 2 * FE_MAX_PAIRS; i++) {
		if (fe->ring[i].kick_fd > 0)
			close(fe->ring[i].kick_fd);
		if (fe->ring[i].call_fd > 0)
			close(fe->ring[i].call_fd);
	}
	if (fe->mem && fe->mem != MAP_FAILED)
		munmap(fe->mem, fe->mem_size ? fe->mem_size : FE_MEM_SIZE);
	if (fe->memfd >= 0)
		close(fe->memfd);
	memset(fe, 0, sizeof(*fe));
	fe->sock = fe->vhost_fd = fe->tap_fd = fe->memfd = -1;
}

/* ---- vhost-user ---- */

int fe_vu_connect(struct fe *fe, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	fe_disconnect(fe);
	fe->features = fe->offered = fe->protocol_features = fe->queue_num = 0;
	fe->reply_ack = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(fe, -ENAMETOOLONG, "socket path %s is too long", path);
	strcpy(sa.sun_path, path);
	fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fe->sock < 0)
		return fail(fe, -errno, "socket: %s", strerror(errno));
	if (connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		fe_disconnect(fe);
		return fail(fe, -e, "connecting to %s: %s", path, strerror(e));
	}
	rings_reset(fe);
	return 0;
}

void fe_disconnect(struct fe *fe)
{
	if (fe->sock >= 0)
		close(fe->sock);
	fe->sock = -1;
}

int fe_vu_send_raw(struct fe *fe, uint32_t request, uint32_t flags, uint32_t size, const void *payload,
		   size_t len, const int *fds, int nfds)
{
	struct vhost_user_header h = { .request = request, .flags = flags, .size = size };
	char cbuf[CMSG_SPACE(sizeof(int) * 16)] = { 0 };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (fe->sock < 0)
		return fail(fe, -ENOTCONN, "%s: not connected", req_name(request));
	if (nfds > 16)
		return fail(fe, -EINVAL, "%s: at most 16 fds", req_name(request));
	if (nfds > 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = sendmsg(fe->sock, &mh, MSG_NOSIGNAL);
	if (n != (ssize_t)(sizeof(h) + len))
		return fail(fe, n < 0 ? -errno : -EIO, "sending %s: %s", req_name(request),
			    n < 0 ? strerror(errno) : "short write");
	return 0;
}

/* Reads exactly len bytes before the deadline. */
static int read_full(struct fe *fe, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fe->sock, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left < 0 || poll(&p, 1, (int)left) != 1)
			return -ETIMEDOUT;
		n = recv(fe->sock, (char *)buf + got, len - got, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return -EPIPE;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			got += n;
	}
	return 0;
}

int fe_vu_read_reply(struct fe *fe, struct vhost_user_msg *m, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = read_full(fe, &m->hdr, sizeof(m->hdr), deadline);
	if (ret)
		return ret;
	if (m->hdr.size > sizeof(m->payload))
		return fail(fe, -EPROTO, "reply to %s: payload size %u is larger than any message",
			    req_name(m->hdr.request), m->hdr.size);
	ret = read_full(fe, &m->payload, m->hdr.size, deadline);
	return ret ? ret : (int)m->hdr.size;
}

int fe_vu_closed_by_peer(struct fe *fe, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[256];

	for (;;) {
		struct pollfd p = { .fd = fe->sock, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left < 0 || poll(&p, 1, (int)left) != 1)
			return 0;
		n = recv(fe->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
	}
}

/*
 * Sends a message and waits for what the protocol says comes back: the
 * reply of a GET, or the REPLY_ACK status of a set message when negotiated.
 */
static int vu_call(struct fe *fe, uint32_t request, const void *payload, uint32_t size, const int *fds,
		   int nfds, int has_reply, struct vhost_user_msg *reply)
{
	uint32_t flags = VHOST_USER_VERSION;
	struct vhost_user_msg m;
	int ret, ack = !has_reply && fe->reply_ack;

	if (ack)
		flags |= VHOST_USER_NEED_REPLY;
	ret = fe_vu_send_raw(fe, request, flags, size, payload, size, fds, nfds);
	if (ret || (!has_reply && !ack))
		return ret;
	ret = fe_vu_read_reply(fe, &m, 2000);
	if (ret == -EPIPE)
		return fail(fe, ret, "xtap-vhost closed the connection after %s", req_name(request));
	if (ret == -ETIMEDOUT)
		return fail(fe, ret, "no reply to %s within 2 s", req_name(request));
	if (ret < 0)
		return ret;
	if (m.hdr.request != request || !(m.hdr.flags & VHOST_USER_REPLY_MASK) ||
	    (m.hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return fail(fe, -EPROTO, "reply to %s: request %u flags 0x%x (want the same request, REPLY, version 1)",
			    req_name(request), m.hdr.request, m.hdr.flags);
	if (ack) {
		if (m.hdr.size != sizeof(uint64_t))
			return fail(fe, -EPROTO, "REPLY_ACK to %s has %u bytes, not 8", req_name(request),
				    m.hdr.size);
		if (m.payload.u64)
			return fail(fe, -EREMOTEIO, "xtap-vhost refused %s (status %llu)", req_name(request),
				    (unsigned long long)m.payload.u64);
		return 0;
	}
	*reply = m;
	return 0;
}

static int vu_get_u64(struct fe *fe, uint32_t request, uint64_t *v)
{
	struct vhost_user_msg m;
	int ret = vu_call(fe, request, NULL, 0, NULL, 0, 1, &m);

	if (ret)
		return ret;
	if (m.hdr.size != sizeof(uint64_t))
		return fail(fe, -EPROTO, "reply to %s has %u bytes, not 8", req_name(request), m.hdr.size);
	*v = m.payload.u64;
	return 0;
}

static int vu_set_u64(struct fe *fe, uint32_t request, uint64_t v, int fd)
{
	return vu_call(fe, request, &v, sizeof(v), fd >= 0 ? &fd : NULL, fd >= 0, 0, NULL);
}

static int vu_set_state(struct fe *fe, uint32_t request, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = { .index = index, .num = num };

	return vu_call(fe, request, &s, sizeof(s), NULL, 0, 0, NULL);
}

void fe_vu_mem_table(const struct fe *fe, struct vhost_user_memory *m, uint32_t *size)
{
	unsigned int i;

	memset(m, 0, sizeof(*m));
	m->nregions = 1 + n_rings(fe) / 2;
	for (i = 0; i < m->nregions; i++) {
		m->regions[i].guest_phys_addr = (uint64_t)i * FE_REGION_SIZE;
		m->regions[i].memory_size = FE_REGION_SIZE;
		m->regions[i].userspace_addr = (uintptr_t)fe->mem + (uint64_t)i * FE_REGION_SIZE;
		m->regions[i].mmap_offset = (uint64_t)i * FE_REGION_SIZE;
	}
	/* As QEMU sends it: the header words, then only the regions in use. */
	*size = offsetof(struct vhost_user_memory, regions) + m->nregions * sizeof(m->regions[0]);
}

void fe_vu_ring_addr(const struct fe *fe, unsigned int i, struct vhost_user_vring_addr *a)
{
	const struct fe_ring *r = &fe->ring[i];

	memset(a, 0, sizeof(*a));
	a->index = i;
	a->desc_user_addr = (uintptr_t)r->desc;
	a->avail_user_addr = (uintptr_t)r->avail;
	a->used_user_addr = (uintptr_t)r->used;
}

int fe_vu_handshake(struct fe *fe, enum fe_stage upto)
{
	const uint64_t want_pf = 1ull << VHOST_USER_PROTOCOL_F_MQ | 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK;
	struct vhost_user_memory mem;
	uint32_t size;
	unsigned int i;
	int ret, fds[1 + FE_MAX_PAIRS];

	ret = vu_get_u64(fe, VHOST_USER_GET_FEATURES, &fe->offered);
	if (ret)
		return ret;
	if (!(fe->offered & 1ull << VIRTIO_F_VERSION_1))
		return fail(fe, -ENOTSUP, "xtap-vhost offers features 0x%llx without VIRTIO_F_VERSION_1",
			    (unsigned long long)fe->offered);
	fe->features = 1ull << VIRTIO_F_VERSION_1;
	if (fe->offered & 1ull << VHOST_USER_F_PROTOCOL_FEATURES) {
		uint64_t pf;

		fe->features |= 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
		ret = vu_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		if (ret)
			return ret;
		fe->protocol_features = pf & want_pf;
		ret = vu_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES, fe->protocol_features, -1);
		if (ret)
			return ret;
		fe->reply_ack = !!(fe->protocol_features & 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK);
		if (fe->protocol_features & 1ull << VHOST_USER_PROTOCOL_F_MQ) {
			ret = vu_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &fe->queue_num);
			if (ret)
				return ret;
		}
	}
	/* More than one pair: the device must say it has them, and the driver negotiates MQ. */
	if (n_rings(fe) > 2) {
		if (!(fe->protocol_features & 1ull << VHOST_USER_PROTOCOL_F_MQ))
			return fail(fe, -ENOTSUP, "%u queue pairs: xtap-vhost does not offer the MQ protocol feature",
				    n_rings(fe) / 2);
		if (fe->queue_num < n_rings(fe) / 2)
			return fail(fe, -ENOTSUP, "%u queue pairs: GET_QUEUE_NUM says %llu", n_rings(fe) / 2,
				    (unsigned long long)fe->queue_num);
		if (!(fe->offered & 1ull << VIRTIO_NET_F_MQ))
			return fail(fe, -ENOTSUP, "%u queue pairs: features 0x%llx lack VIRTIO_NET_F_MQ",
				    n_rings(fe) / 2, (unsigned long long)fe->offered);
		fe->features |= 1ull << VIRTIO_NET_F_MQ;
	}
	ret = vu_call(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, 0, NULL);
	if (!ret)
		ret = vu_set_u64(fe, VHOST_USER_SET_FEATURES, fe->features, -1);
	if (ret || upto == FE_STAGE_OWNER)
		return ret;
	fe_vu_mem_table(fe, &mem, &size);
	for (i = 0; i < mem.nregions; i++)
		fds[i] = fe->memfd;
	ret = vu_call(fe, VHOST_USER_SET_MEM_TABLE, &mem, size, fds, (int)mem.nregions, 0, NULL);
	if (ret || upto == FE_STAGE_MEM)
		return ret;
	for (i = 0; i < n_rings(fe) && !ret; i++) {
		struct vhost_user_vring_addr a;

		fe_vu_ring_addr(fe, i, &a);
		ret = vu_set_state(fe, VHOST_USER_SET_VRING_NUM, i, fe->ring[i].num);
		if (!ret)
			ret = vu_set_state(fe, VHOST_USER_SET_VRING_BASE, i, 0);
		if (!ret)
			ret = vu_call(fe, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, 0, NULL);
		if (!ret)
			ret = vu_set_u64(fe, VHOST_USER_SET_VRING_KICK, i, fe->ring[i].kick_fd);
		if (!ret)
			ret = vu_set_u64(fe, VHOST_USER_SET_VRING_CALL, i, fe->ring[i].call_fd);
	}
	/* With protocol features rings start disabled; without, they run once complete. */
	for (i = 0; i < n_rings(fe) && !ret && fe->protocol_features; i++)
		ret = vu_set_state(fe, VHOST_USER_SET_VRING_ENABLE, i, 1);
	return ret;
}

int fe_vu_attach(struct fe *fe, const char *path)
{
	int ret = fe_vu_connect(fe, path);

	if (!ret)
		ret = fe_vu_handshake(fe, FE_STAGE_RUNNING);
	if (ret)
		fe_disconnect(fe);
	return ret;
}

/* GET_VRING_BASE of every ring, the first nbases bases stored. */
static int vu_stop(struct fe *fe, uint16_t *bases, unsigned int nbases)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n_rings(fe) && !ret; i++) {
		struct vhost_user_vring_state s = { .index = i };
		struct vhost_user_msg m;

		ret = vu_call(fe, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), NULL, 0, 1, &m);
		if (!ret && (m.hdr.size != sizeof(s) || m.payload.state.index != i))
			ret = fail(fe, -EPROTO, "GET_VRING_BASE %u: reply of %u bytes for ring %u", i, m.hdr.size,
				   m.payload.state.index);
		if (!ret && bases && i < nbases)
			bases[i] = m.payload.state.num;
	}
	fe_disconnect(fe);
	return ret;
}

int fe_vu_stop(struct fe *fe, uint16_t bases[2])
{
	return vu_stop(fe, bases, 2);
}

int fe_vu_stop_mq(struct fe *fe, uint16_t *bases)
{
	return vu_stop(fe, bases, n_rings(fe));
}

/* ---- vhost-net ---- */

/* One vhost-net instance drives pair p's rings (as its virtqueues 0 and 1) with tap_fd as backend. */
static int kernel_attach_pair(struct fe *fe, unsigned int p, int vhost_fd, int tap_fd)
{
	struct vhost_memory *mem;
	uint64_t offered;
	unsigned int i, nregions = 1 + n_rings(fe) / 2;
	int hdr = FE_VNET_HDR;

	if (ioctl(tap_fd, TUNSETVNETHDRSZ, &hdr) || ioctl(tap_fd, TUNSETOFFLOAD, 0UL))
		return fail(fe, -errno, "tap: TUNSETVNETHDRSZ/TUNSETOFFLOAD: %s", strerror(errno));
	if (ioctl(vhost_fd, VHOST_SET_OWNER))
		return fail(fe, -errno, "VHOST_SET_OWNER: %s", strerror(errno));
	if (ioctl(vhost_fd, VHOST_GET_FEATURES, &offered))
		return fail(fe, -errno, "VHOST_GET_FEATURES: %s", strerror(errno));
	fe->offered = offered;
	if (!(offered & 1ull << VIRTIO_F_VERSION_1))
		return fail(fe, -ENOTSUP, "vhost-net offers 0x%llx without VIRTIO_F_VERSION_1",
			    (unsigned long long)offered);
	fe->features = 1ull << VIRTIO_F_VERSION_1;
	if (ioctl(vhost_fd, VHOST_SET_FEATURES, &fe->features))
		return fail(fe, -errno, "VHOST_SET_FEATURES: %s", strerror(errno));
	mem = calloc(1, sizeof(*mem) + nregions * sizeof(mem->regions[0]));
	if (!mem)
		return fail(fe, -ENOMEM, "out of memory");
	mem->nregions = nregions;
	for (i = 0; i < nregions; i++) {
		mem->regions[i].guest_phys_addr = (uint64_t)i * FE_REGION_SIZE;
		mem->regions[i].memory_size = FE_REGION_SIZE;
		mem->regions[i].userspace_addr = (uintptr_t)fe->mem + (uint64_t)i * FE_REGION_SIZE;
	}
	if (ioctl(vhost_fd, VHOST_SET_MEM_TABLE, mem)) {
		free(mem);
		return fail(fe, -errno, "VHOST_SET_MEM_TABLE: %s", strerror(errno));
	}
	free(mem);
	for (i = 0; i < 2; i++) {
		struct fe_ring *r = &fe->ring[2 * p + i];
		struct vhost_vring_state num = { .index = i, .num = r->num }, base = { .index = i, .num = 0 };
		struct vhost_vring_addr a = { .index = i, .desc_user_addr = (uintptr_t)r->desc,
					      .avail_user_addr = (uintptr_t)r->avail,
					      .used_user_addr = (uintptr_t)r->used };
		struct vhost_vring_file kick = { .index = i, .fd = r->kick_fd };
		struct vhost_vring_file call = { .index = i, .fd = r->call_fd };

		if (ioctl(vhost_fd, VHOST_SET_VRING_NUM, &num) || ioctl(vhost_fd, VHOST_SET_VRING_BASE, &base) ||
		    ioctl(vhost_fd, VHOST_SET_VRING_ADDR, &a) || ioctl(vhost_fd, VHOST_SET_VRING_KICK, &kick) ||
		    ioctl(vhost_fd, VHOST_SET_VRING_CALL, &call))
			return fail(fe, -errno, "vhost-net ring %u setup: %s", 2 * p + i, strerror(errno));
	}
	/* From here the pair is the device's: fe_kernel_detach unplugs what got plugged. */
	fe->mq_vhost_fd[p] = vhost_fd;
	fe->mq_tap_fd[p] = tap_fd;
	fe->kernel_pairs = p + 1;
	for (i = 0; i < 2; i++) {
		struct vhost_vring_file be = { .index = i, .fd = tap_fd };

		if (ioctl(vhost_fd, VHOST_NET_SET_BACKEND, &be))
			return fail(fe, -errno, "VHOST_NET_SET_BACKEND ring %u: %s", 2 * p + i, strerror(errno));
	}
	return 0;
}

int fe_kernel_attach(struct fe *fe, int vhost_fd, int tap_fd)
{
	int ret;

	rings_reset(fe);
	ret = kernel_attach_pair(fe, 0, vhost_fd, tap_fd);
	if (ret) {
		/* Nothing of ours stays plugged into fds the caller is about to close. */
		fe_kernel_detach(fe);
		return ret;
	}
	fe->vhost_fd = vhost_fd;
	fe->tap_fd = tap_fd;
	return 0;
}

int fe_kernel_attach_mq(struct fe *fe, const int *vhost_fds, const int *tap_fds)
{
	unsigned int p;
	int ret;

	rings_reset(fe);
	for (p = 0; p < n_rings(fe) / 2; p++) {
		ret = kernel_attach_pair(fe, p, vhost_fds[p], tap_fds[p]);
		if (ret) {
			fe_kernel_detach(fe);
			return ret;
		}
	}
	fe->vhost_fd = vhost_fds[0];
	fe->tap_fd = tap_fds[0];
	return 0;
}

void fe_kernel_detach(struct fe *fe)
{
	unsigned int i, p;

	for (p = 0; p < fe->kernel_pairs && p < FE_MAX_PAIRS; p++) {
		for (i = 0; i < 2 && fe->mq_vhost_fd[p] >= 0; i++) {
			struct vhost_vring_file be = { .index = i, .fd = -1 };

			ioctl(fe->mq_vhost_fd[p], VHOST_NET_SET_BACKEND, &be);
		}
		fe->mq_vhost_fd[p] = fe->mq_tap_fd[p] = -1;
	}
	fe->kernel_pairs = 0;
	fe->vhost_fd = fe->tap_fd = -1;
}

/* ---- frames ---- */

/* Tells the device about new avail entries unless it said it does not need to know. */
static void kick(struct fe *fe, unsigned int i)
{
	struct fe_ring *r = &fe->ring[i];
	uint64_t one = 1;

	/* The avail idx store must be visible before we read the device's flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->used->flags, __ATOMIC_ACQUIRE) & VRING_USED_F_NO_NOTIFY) {
		fe->c.kicks_suppressed++;
		fe->pc[i / 2].kicks_suppressed++;
		return;
	}
	if (write(r->kick_fd, &one, sizeof(one)) == sizeof(one)) {
		fe->c.kicks++;
		fe->pc[i / 2].kicks++;
	}
}

static void publish(struct fe *fe, unsigned int i, uint16_t head)
{
	struct fe_ring *r = &fe->ring[i];

	r->avail->ring[r->avail_idx % r->num] = head;
	r->inflight[head] = 1;
	__atomic_store_n(&r->avail->idx, ++r->avail_idx, __ATOMIC_RELEASE);
	kick(fe, i);
}

/* Next used entry of ring i, checked against what we gave the device; 0 = none, 1 = *e set. */
static int next_used(struct fe *fe, unsigned int i, struct vring_used_elem *e)
{
	struct fe_ring *r = &fe->ring[i];
	uint16_t idx = __atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE);

	if (idx == r->last_used)
		return 0;
	if ((uint16_t)(idx - r->last_used) > r->num)
		return fail(fe, -EPROTO, "ring %u: used idx %u is %u ahead of %u (ring of %u)", i, idx,
			    (uint16_t)(idx - r->last_used), r->last_used, r->num);
	*e = r->used->ring[r->last_used % r->num];
	if (e->id >= r->num || !r->inflight[e->id] || (i % 2 == FE_TX && e->id % 2))
		return fail(fe, -EPROTO, "ring %u: used entry %u names descriptor %u, which is not a head we posted",
			    i, r->last_used, e->id);
	r->inflight[e->id] = 0;
	r->last_used++;
	return 1;
}

/* Reads a call eventfd, counting into the total and the pair's counters. */
static void drain_call(struct fe *fe, unsigned int ring)
{
	uint64_t n = 0;

	drain_eventfd(fe->ring[ring].call_fd, &n);
	fe->c.calls += n;
	fe->pc[ring / 2].calls += n;
}

static int reclaim_tx(struct fe *fe, unsigned int p)
{
	struct vring_used_elem e;
	uint16_t *tx_free = tx_free_of(fe, p);
	unsigned int *n_tx_free = n_tx_free_of(fe, p);
	int ret;

	drain_call(fe, FE_TX_RING(p));
	while ((ret = next_used(fe, FE_TX_RING(p), &e)) == 1) {
		tx_free[(*n_tx_free)++] = e.id / 2;
		fe->c.tx_completed++;
		fe->pc[p].tx_completed++;
	}
	return ret;
}

static int check_pair(struct fe *fe, unsigned int p)
{
	if (p >= n_rings(fe) / 2)
		return fail(fe, -EINVAL, "queue pair %u: this driver has %u", p, n_rings(fe) / 2);
	return 0;
}

int fe_send(struct fe *fe, const void *vnet, const void *frame, size_t len)
{
	return fe_send_q(fe, 0, vnet, frame, len);
}

int fe_send_q(struct fe *fe, unsigned int p, const void *vnet, const void *frame, size_t len)
{
	static const uint8_t zero[FE_VNET_HDR];
	unsigned int ring = FE_TX_RING(p);
	struct fe_ring *r;
	int64_t deadline = now_ms() + 1000;
	uint16_t head;
	int ret;

	ret = check_pair(fe, p);
	if (ret)
		return ret;
	r = &fe->ring[ring];
	if (len > FE_BUF_SIZE - FE_VNET_HDR)
		return fail(fe, -EMSGSIZE, "frame of %zu bytes: buffers hold %u", len, FE_BUF_SIZE - FE_VNET_HDR);
	while ((ret = reclaim_tx(fe, p)) == 0 && !*n_tx_free_of(fe, p)) {
		struct pollfd p = { .fd = r->call_fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left < 0)
			return fail(fe, -EAGAIN, "TX ring %u full for 1 s: the device does not consume it", ring);
		poll(&p, 1, left > 10 ? 10 : (int)left);
	}
	if (ret < 0)
		return ret;
	head = 2 * tx_free_of(fe, p)[--*n_tx_free_of(fe, p)];
	memcpy(fe->mem + buf_gpa(ring, head), vnet ? vnet : zero, FE_VNET_HDR);
	/* Alternate layouts, per ring (one pair: by fe->c.tx_frames, as always). */
	if ((fe->n_pairs > 1 ? fe->pc[p].tx_frames : fe->c.tx_frames) % 2 == 0) {
		memcpy(fe->mem + buf_gpa(ring, head) + FE_VNET_HDR, frame, len);
		r->desc[head] = (struct vring_desc){ .addr = buf_gpa(ring, head), .len = FE_VNET_HDR + len };
	} else {
		memcpy(fe->mem + buf_gpa(ring, head + 1), frame, len);
		r->desc[head] = (struct vring_desc){ .addr = buf_gpa(ring, head), .len = FE_VNET_HDR,
						     .flags = VRING_DESC_F_NEXT, .next = head + 1 };
		r->desc[head + 1] = (struct vring_desc){ .addr = buf_gpa(ring, head + 1), .len = len };
	}
	fe->c.tx_frames++;
	fe->c.tx_bytes += len;
	fe->pc[p].tx_frames++;
	fe->pc[p].tx_bytes += len;
	publish(fe, ring, head);
	return 0;
}

int fe_tx_wait(struct fe *fe, unsigned int p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ret = check_pair(fe, p);

	while (!ret && (ret = reclaim_tx(fe, p)) == 0 && *n_tx_free_of(fe, p) < FE_RING_NUM / 2) {
		struct pollfd pf = { .fd = fe->ring[FE_TX_RING(p)].call_fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return fail(fe, -ETIMEDOUT, "TX ring %u: %u chains still with the device after %d ms",
				    FE_TX_RING(p), FE_RING_NUM / 2 - *n_tx_free_of(fe, p), timeout_ms);
		poll(&pf, 1, left > 10 ? 10 : (int)left);
	}
	return ret;
}

/*
 * The next frame from the RX rings of pairs first..first+n-1 (looked at in
 * turn from fe->rx_next), waiting up to timeout_ms on their call eventfds.
 */
static int recv_rings(struct fe *fe, unsigned int first, unsigned int n, void *buf, size_t cap,
		      uint8_t vnet[FE_VNET_HDR], int timeout_ms, unsigned int *pair)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct vring_used_elem e;
	const uint8_t *data;
	unsigned int p = first, k, ring;
	size_t len;
	int ret = 0;

	for (;;) {
		struct pollfd pf[FE_MAX_PAIRS];
		int64_t left;

		for (k = 0; k < n; k++) {
			p = first + (fe->rx_next + k) % n;
			ret = next_used(fe, FE_RX_RING(p), &e);
			if (ret)
				break;
		}
		if (ret)
			break;
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		for (k = 0; k < n; k++)
			pf[k] = (struct pollfd){ .fd = fe->ring[FE_RX_RING(first + k)].call_fd, .events = POLLIN };
		if (poll(pf, n, (int)left) > 0)
			for (k = 0; k < n; k++)
				if (pf[k].revents & POLLIN)
					drain_call(fe, FE_RX_RING(first + k));
	}
	if (ret < 0)
		return ret;
	fe->rx_next = (p - first + 1) % n;
	ring = FE_RX_RING(p);
	if (e.len < FE_VNET_HDR || e.len > FE_BUF_SIZE) {
		publish(fe, ring, e.id);
		return fail(fe, -EPROTO, "RX ring %u: used entry for descriptor %u says %u bytes (buffer %u, header %u)",
			    ring, e.id, e.len, FE_BUF_SIZE, FE_VNET_HDR);
	}
	data = fe->mem + buf_gpa(ring, e.id);
	if (vnet)
		memcpy(vnet, data, FE_VNET_HDR);
	len = e.len - FE_VNET_HDR;
	memcpy(buf, data + FE_VNET_HDR, len < cap ? len : cap);
	fe->c.rx_frames++;
	fe->c.rx_bytes += len;
	fe->pc[p].rx_frames++;
	fe->pc[p].rx_bytes += len;
	publish(fe, ring, e.id);
	if (pair)
		*pair = p;
	return (int)len;
}

int fe_recv(struct fe *fe, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR], int timeout_ms)
{
	return fe_recv_q(fe, 0, buf, cap, vnet, timeout_ms);
}

int fe_recv_q(struct fe *fe, unsigned int p, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR],
	      int timeout_ms)
{
	int ret = check_pair(fe, p);

	return ret ? ret : recv_rings(fe, p, 1, buf, cap, vnet, timeout_ms, NULL);
}

int fe_recv_any(struct fe *fe, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR], int timeout_ms,
		unsigned int *pair)
{
	return recv_rings(fe, 0, n_rings(fe) / 2, buf, cap, vnet, timeout_ms, pair);
}

int fe_drain(struct fe *fe, int timeout_ms)
{
	static uint8_t buf[FE_BUF_SIZE];
	int n = 0;

	while (fe_recv_any(fe, buf, sizeof(buf), NULL, timeout_ms, NULL) >= 0)
		n++;
	return n;
}
