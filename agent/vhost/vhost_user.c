// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user protocol server (QEMU docs/interop/vhost-user.rst, back-end
 * side). The frontend is not trusted: every message is checked against
 * what its request needs before anything changes, ring addresses are
 * translated through the memory table and must lie wholly inside one
 * region, and anything wrong ends the connection with one log line,
 * leaving the process ready for the next frontend.
 *
 * A ring runs when it has a size, addresses, a kick fd and is enabled; any
 * change to a running ring stops it, applies the change and starts it again
 * at the same last_avail, so the planes only ever see complete rings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "netdev.h"
#include "log.h"
#include "vhost_user.h"

#define BIT(n) (1ULL << (n))

/* Protocol features offered: multiqueue (GET_QUEUE_NUM) and acks of set messages. */
#define OFFERED_PROTOCOL_FEATURES (BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK))
/* Messages handled per wake-up, so one chatty frontend cannot starve the data plane. */
#define MSGS_PER_INPUT 64

static const char *req_name(uint32_t req)
{
	static const char *const names[] = {
		[VHOST_USER_GET_FEATURES] = "GET_FEATURES",
		[VHOST_USER_SET_FEATURES] = "SET_FEATURES",
		[VHOST_USER_SET_OWNER] = "SET_OWNER",
		[VHOST_USER_RESET_OWNER] = "RESET_OWNER",
		[VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
		[VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
		[VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
		[VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
		[VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
		[VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
		[VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
		[VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
		[VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VHOST_USER_SEND_RARP] = "SEND_RARP",
		[VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
		[VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
	};

	if (req < sizeof(names) / sizeof(names[0]) && names[req])
		return names[req];
	return "unknown request";
}

/* ---- features and the tap ---- */

uint64_t xtap_vhost_server_offered(const struct xtap_vhost_server *s)
{
	uint64_t f = s->dev.plane->features() | BIT(VHOST_USER_F_PROTOCOL_FEATURES);

	/* QEMU masks VIRTIO_NET_F_MQ by what the backend offers: offered when there are pairs to use. */
	if (s->dev.n_pairs > 1)
		f |= BIT(VIRTIO_NET_F_MQ);
	return f;
}

/* What the tap may hand the guest: only what it negotiated to receive. */
static unsigned int tap_offloads(uint64_t f)
{
	unsigned int o;

	/* Every tun offload needs TUN_F_CSUM; TSO_ECN is refused without a TSO bit. */
	if (!(f & BIT(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	o = TUN_F_CSUM;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO4))
		o |= TUN_F_TSO4;
	if (f & BIT(VIRTIO_NET_F_GUEST_TSO6))
		o |= TUN_F_TSO6;
	if ((f & BIT(VIRTIO_NET_F_GUEST_ECN)) && (o & (TUN_F_TSO4 | TUN_F_TSO6)))
		o |= TUN_F_TSO_ECN;
	return o;
}

static unsigned int tap_queues(const struct xtap_vhost_dev *d)
{
	return d->multi_queue ? d->n_pairs : 1;
}

/* Header size and offloads are per tap, but tun only takes them through an attached queue. */
static int tap_apply_one(struct xtap_vhost_server *s, unsigned int p, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	int hdr = (int)xtap_vhost_hdr_len(d->features);
	unsigned int off = tap_offloads(d->features);

	if (ioctl(d->tap_fd[p], TUNSETVNETHDRSZ, &hdr))
		return xtap_fail(err, -errno, "tap %s queue %u: setting the vnet header size %d failed: %s",
				 d->port, p, hdr, strerror(errno));
	if (ioctl(d->tap_fd[p], TUNSETOFFLOAD, (unsigned long)off))
		return xtap_fail(err, -errno, "tap %s queue %u: offloads 0x%x refused: %s",
				 d->port, p, off, strerror(errno));
	return 0;
}

static int tap_apply(struct xtap_vhost_server *s, struct xtap_err *err)
{
	unsigned int p;
	int ret;

	for (p = 0; p < tap_queues(&s->dev); p++) {
		if (!s->tap_attached[p])
			continue;
		ret = tap_apply_one(s, p, err);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A multiqueue tap spreads frames over its attached queues: a queue whose
 * rings do not run would swallow its share, so only queues of running
 * pairs stay attached (what QEMU does on SET_VRING_ENABLE).
 */
static int tap_attach(struct xtap_vhost_server *s, unsigned int p, bool attach, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (!d->multi_queue || s->tap_attached[p] == attach)
		return 0;
	if (ioctl(d->tap_fd[p], TUNSETQUEUE, &ifr))
		return xtap_fail(err, -errno, "tap %s queue %u: %s failed: %s", d->port, p,
				 attach ? "attaching" : "detaching", strerror(errno));
	s->tap_attached[p] = attach;
	return attach ? tap_apply_one(s, p, err) : 0;
}

static void tap_close(struct xtap_vhost_server *s)
{
	unsigned int p;

	for (p = 0; p < XTAP_VHOST_MAX_PAIRS; p++) {
		if (s->dev.tap_fd[p] >= 0)
			close(s->dev.tap_fd[p]);
		s->dev.tap_fd[p] = -1;
		s->tap_attached[p] = false;
	}
}

/* ---- rings ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ring_reset(struct xtap_vhost_server *s, unsigned int i)
{
	struct xtap_vring *v = &s->dev.vring[i];

	close_fd(&v->kick_fd);
	close_fd(&v->call_fd);
	close_fd(&v->err_fd);
	/* Disabled until SET_FEATURES without protocol features, or SET_VRING_ENABLE. */
	*v = (struct xtap_vring){ .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	s->addr_set[i] = false;
}

/* Our pointers for ring i's three parts; NULL until both size and addresses are known. */
static int ring_translate(struct xtap_vhost_server *s, unsigned int i, struct xtap_err *err)
{
	struct xtap_vring *v = &s->dev.vring[i];
	const struct xtap_vhost_mem *m = &s->dev.mem;
	uint64_t n = v->num;

	v->desc = v->avail = v->used = NULL;
	if (!n || !s->addr_set[i])
		return 0;
	v->desc = xtap_vhost_uva(m, v->desc_uva, 16 * n);
	v->avail = xtap_vhost_uva(m, v->avail_uva, 6 + 2 * n);
	v->used = xtap_vhost_uva(m, v->used_uva, 6 + 8 * n);
	if (v->desc && v->avail && v->used)
		return 0;
	v->desc = v->avail = v->used = NULL;
	return xtap_fail(err, -EFAULT, "ring %u (%llu entries): desc 0x%llx, avail 0x%llx or used 0x%llx is not inside one memory region",
			 i, (unsigned long long)n, (unsigned long long)v->desc_uva,
			 (unsigned long long)v->avail_uva, (unsigned long long)v->used_uva);
}

static bool ring_ready(const struct xtap_vhost_server *s, unsigned int i)
{
	const struct xtap_vring *v = &s->dev.vring[i];

	return s->owned && v->num && v->desc && v->kick_fd >= 0 && v->enabled;
}

static int ring_stop(struct xtap_vhost_server *s, unsigned int i, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	unsigned int p = i / 2;
	int ret;

	if (!d->vring[i].started)
		return 0;
	ret = d->plane->stop(d, i, err);
	d->vring[i].started = false;
	s->generation++;
	if (ret)
		return ret;
	xtap_log_port(XTAP_LOG_DEBUG, s->dev.port, "ring %u stopped at %u", i, d->vring[i].last_avail);
	if (!d->vring[2 * p].started && !d->vring[2 * p + 1].started)
		return tap_attach(s, p, false, err);
	return 0;
}

/* Starts ring i if it is complete and enabled (and not running yet). */
static int ring_kick_off(struct xtap_vhost_server *s, unsigned int i, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	int ret;

	if (d->vring[i].started || !ring_ready(s, i))
		return 0;
	ret = tap_attach(s, i / 2, true, err);
	if (ret)
		return ret;
	ret = d->plane->start(d, i, err);
	if (ret)
		return ret;
	d->vring[i].started = true;
	s->generation++;
	xtap_log_port(XTAP_LOG_DEBUG, s->dev.port, "ring %u started at %u (%u entries)", i, d->vring[i].last_avail, d->vring[i].num);
	return 0;
}

static int rings_stop(struct xtap_vhost_server *s, struct xtap_err *err)
{
	unsigned int i;
	int ret;

	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++) {
		ret = ring_stop(s, i, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int rings_kick_off(struct xtap_vhost_server *s, struct xtap_err *err)
{
	unsigned int i;
	int ret;

	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++) {
		ret = ring_kick_off(s, i, err);
		if (ret)
			return ret;
	}
	return 0;
}

unsigned int xtap_vhost_server_rings_running(const struct xtap_vhost_server *s)
{
	unsigned int i, n = 0;

	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++)
		n += s->dev.vring[i].started;
	return n;
}

/* ---- ownership: tap queues and the plane ---- */

/* Stops every ring and closes the plane and the tap queues; ring state is kept. */
static void release_owner(struct xtap_vhost_server *s)
{
	struct xtap_vhost_dev *d = &s->dev;
	struct xtap_err err = { "" };
	unsigned int i;

	if (!s->owned)
		return;
	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++) {
		if (!d->vring[i].started)
			continue;
		if (d->plane->stop(d, i, &err))
			xtap_log_port(XTAP_LOG_INFO, s->dev.port, "stopping ring %u: %s", i, err.msg);
		d->vring[i].started = false;
		s->generation++;
	}
	d->plane->close(d);
	d->plane_priv = NULL;
	tap_close(s);
	s->owned = false;
}

/* Back to a fresh device: no rings, features, memory or ownership. */
static void reset_dev(struct xtap_vhost_server *s)
{
	unsigned int i;

	release_owner(s);
	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++)
		ring_reset(s, i);
	xtap_vhost_mem_clear(&s->dev.mem);
	s->dev.features = 0;
	s->generation++;
}

static int take_owner(struct xtap_vhost_server *s, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	struct xtap_err why = { "" };
	unsigned int p;
	int ret;

	if (s->owned)
		return xtap_fail(err, -EBUSY, "SET_OWNER sent twice on one connection");
	ret = xtap_tap_open_queues(d->port, tap_queues(d), d->multi_queue, d->tap_fd, &why);
	if (ret == -EBUSY)
		return xtap_fail(err, ret, "tap %s is in use by another VMM (a single-queue tap has one user); refusing this frontend",
				 d->port);
	if (ret)
		return xtap_fail(err, ret, "opening the tap queues: %s", why.msg);
	for (p = 0; p < tap_queues(d); p++)
		s->tap_attached[p] = true;
	/* Multiqueue: queues are attached as their rings start. */
	for (p = 0; p < tap_queues(d) && d->multi_queue; p++) {
		ret = tap_attach(s, p, false, err);
		if (ret)
			goto err_tap;
	}
	ret = tap_apply(s, err);
	if (ret)
		goto err_tap;
	ret = d->plane->open(d, err);
	if (ret)
		goto err_tap;
	s->owned = true;
	ret = d->plane->set_features(d, err);
	if (!ret && d->mem.n)
		ret = d->plane->set_mem(d, err);
	if (!ret)
		ret = rings_kick_off(s, err);
	if (ret)
		release_owner(s);
	return ret;
err_tap:
	tap_close(s);
	return ret;
}

/* ---- messages ---- */

/* Where a handler says what to answer: a u64, a vring state, or nothing. */
struct reply {
	bool send;
	/*
	 * The request is unknown or one never offered, refused before anything
	 * changed: with REPLY_ACK it is answered with a failure and the
	 * connection stays. Any other failure ends the connection.
	 */
	bool unsupported;
	uint32_t size;
	union vhost_user_payload p;
};

static void reply_u64(struct reply *r, uint64_t v)
{
	r->send = true;
	r->size = sizeof(r->p.u64);
	r->p.u64 = v;
}

static int check_ring_index(const struct xtap_vhost_server *s, uint32_t i, struct xtap_err *err)
{
	if (i >= 2 * s->dev.n_pairs)
		return xtap_fail(err, -EINVAL, "ring index %u out of range (this port has %u rings)",
				 i, 2 * s->dev.n_pairs);
	return 0;
}

static int set_features(struct xtap_vhost_server *s, uint64_t f, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	uint64_t offered = xtap_vhost_server_offered(s);
	bool proto = f & BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	unsigned int i;
	int ret;

	if (f & ~offered)
		return xtap_fail(err, -EINVAL, "features 0x%llx include 0x%llx, which were not offered (0x%llx)",
				 (unsigned long long)f, (unsigned long long)(f & ~offered),
				 (unsigned long long)offered);
	ret = rings_stop(s, err);
	if (ret)
		return ret;
	/*
	 * Without protocol features every ring is enabled; with them a ring is
	 * enabled only by SET_VRING_ENABLE, which QEMU sends before SET_FEATURES
	 * (libvhost-user does the same).
	 */
	if (!proto)
		for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++)
			d->vring[i].enabled = true;
	d->features = f;
	s->generation++;
	if (!d->mem.n && !s->features_ms)
		s->features_ms = xtap_vhost_now_ms();
	if (s->owned) {
		ret = tap_apply(s, err);
		if (!ret)
			ret = d->plane->set_features(d, err);
		if (ret)
			return ret;
	}
	return rings_kick_off(s, err);
}

static int set_mem_table(struct xtap_vhost_server *s, uint32_t size, const struct vhost_user_memory *mem,
			 struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	unsigned int i;
	int ret;

	if (size < 8 || mem->nregions < 1 || mem->nregions > VHOST_USER_MAX_REGIONS ||
	    size != 8 + mem->nregions * sizeof(struct vhost_user_region))
		return xtap_fail(err, -EINVAL, "payload of %u bytes does not hold a memory table (8 + 32 per region, 1 to %d regions)",
				 size, VHOST_USER_MAX_REGIONS);
	ret = rings_stop(s, err);
	if (ret)
		return ret;
	ret = xtap_vhost_mem_set(&d->mem, mem, s->in_fds, s->in_nfds, err);
	if (ret)
		return ret;
	s->features_ms = 0;
	if (s->mem_missing) {
		s->mem_missing = false;
		s->generation++;
		xtap_log_port(XTAP_LOG_INFO, s->dev.port, "the frontend sent its memory table after all: guest memory shared");
	}
	/* The mappings are ours now; the fds are not needed any more (closed with the message). */
	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++) {
		ret = ring_translate(s, i, err);
		if (ret)
			return ret;
	}
	if (s->owned) {
		ret = d->plane->set_mem(d, err);
		if (ret)
			return ret;
	}
	return rings_kick_off(s, err);
}

static int set_vring_addr(struct xtap_vhost_server *s, const struct vhost_user_vring_addr *a,
			  struct xtap_err *err)
{
	struct xtap_vring *v;
	int ret;

	ret = check_ring_index(s, a->index, err);
	if (ret)
		return ret;
	if (a->flags)
		return xtap_fail(err, -EINVAL, "ring %u: address flags 0x%x (logging is never offered)",
				 a->index, a->flags);
	/* Split ring alignment (virtio 1.x 2.7): the planes read them as aligned structures. */
	if ((a->desc_user_addr & 15) || (a->avail_user_addr & 1) || (a->used_user_addr & 3))
		return xtap_fail(err, -EINVAL, "ring %u: misaligned addresses (desc 16, avail 2, used 4 bytes)",
				 a->index);
	if (!s->dev.mem.n)
		return xtap_fail(err, -EINVAL, "ring %u: SET_VRING_ADDR before SET_MEM_TABLE (addresses cannot be translated)",
				 a->index);
	ret = ring_stop(s, a->index, err);
	if (ret)
		return ret;
	v = &s->dev.vring[a->index];
	v->desc_uva = a->desc_user_addr;
	v->avail_uva = a->avail_user_addr;
	v->used_uva = a->used_user_addr;
	s->addr_set[a->index] = true;
	ret = ring_translate(s, a->index, err);
	if (ret)
		return ret;
	return ring_kick_off(s, a->index, err);
}

static int set_vring_num(struct xtap_vhost_server *s, const struct vhost_user_vring_state *st,
			 struct xtap_err *err)
{
	int ret;

	ret = check_ring_index(s, st->index, err);
	if (ret)
		return ret;
	if (!st->num || st->num > XTAP_VHOST_MAX_RING_NUM || (st->num & (st->num - 1)))
		return xtap_fail(err, -EINVAL, "ring %u: size %u (a power of 2 from 1 to %d)",
				 st->index, st->num, XTAP_VHOST_MAX_RING_NUM);
	ret = ring_stop(s, st->index, err);
	if (ret)
		return ret;
	s->dev.vring[st->index].num = st->num;
	ret = ring_translate(s, st->index, err);
	if (ret)
		return ret;
	return ring_kick_off(s, st->index, err);
}

static int set_vring_base(struct xtap_vhost_server *s, const struct vhost_user_vring_state *st,
			  struct xtap_err *err)
{
	int ret;

	ret = check_ring_index(s, st->index, err);
	if (ret)
		return ret;
	if (st->num > UINT16_MAX)
		return xtap_fail(err, -EINVAL, "ring %u: base %u (split rings index with 16 bits)",
				 st->index, st->num);
	ret = ring_stop(s, st->index, err);
	if (ret)
		return ret;
	s->dev.vring[st->index].last_avail = (uint16_t)st->num;
	return ring_kick_off(s, st->index, err);
}

/* Stops the ring for good: it starts again only with a new kick fd (as libvhost-user does). */
static int get_vring_base(struct xtap_vhost_server *s, const struct vhost_user_vring_state *st,
			  struct reply *r, struct xtap_err *err)
{
	struct xtap_vring *v;
	int ret;

	ret = check_ring_index(s, st->index, err);
	if (ret)
		return ret;
	ret = ring_stop(s, st->index, err);
	if (ret)
		return ret;
	v = &s->dev.vring[st->index];
	close_fd(&v->kick_fd);
	close_fd(&v->call_fd);
	r->send = true;
	r->size = sizeof(r->p.state);
	r->p.state.index = st->index;
	r->p.state.num = v->last_avail;
	return 0;
}

/*
 * Kick, call and error fds must be eventfds: the userspace plane reads and
 * writes them in its only thread, and a pipe, socket or file there could
 * block it for good (vhost-net refuses anything else as well). They are made
 * non-blocking (the flag is the frontend's open file's, which QEMU creates
 * non-blocking anyway): a write to a call or error eventfd whose counter is
 * at its maximum then fails with EAGAIN instead of waiting for the frontend
 * to read it, and a kick read finds nothing instead of waiting when the
 * frontend drained the eventfd itself.
 */
static int check_ring_eventfd(unsigned int i, const char *name, int fd, struct xtap_err *err)
{
	/* Room for "anon_inode:[eventfd]" and for enough of anything else to say what it is. */
	char path[64], target[128];
	ssize_t n;
	int fl;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return xtap_fail(err, -EINVAL, "ring %u: %s fd: cannot tell whether it is an eventfd (%s: %s)",
				 i, name, path, strerror(errno));
	target[n] = '\0';
	if (strcmp(target, "anon_inode:[eventfd]"))
		return xtap_fail(err, -EINVAL, "ring %u: %s fd is %s, not an eventfd", i, name, target);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK)))
		return xtap_fail(err, -errno, "ring %u: %s fd: making it non-blocking failed: %s",
				 i, name, strerror(errno));
	return 0;
}

static int set_vring_fd(struct xtap_vhost_server *s, uint32_t req, uint64_t u, struct xtap_err *err)
{
	unsigned int i = u & VHOST_USER_VRING_IDX_MASK;
	bool nofd = u & VHOST_USER_VRING_NOFD_MASK;
	const char *name = req_name(req);
	struct xtap_vring *v;
	int *slot, ret;

	if (u & ~(uint64_t)(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK))
		return xtap_fail(err, -EINVAL, "payload 0x%llx has bits besides the ring index and the no-fd flag",
				 (unsigned long long)u);
	ret = check_ring_index(s, i, err);
	if (ret)
		return ret;
	if (s->in_nfds != (nofd ? 0u : 1u))
		return xtap_fail(err, -EINVAL, "ring %u: %u fds attached (%s)", i, s->in_nfds,
				 nofd ? "none with the no-fd flag" : "exactly one");
	if (nofd && req == VHOST_USER_SET_VRING_KICK)
		return xtap_fail(err, -EINVAL, "ring %u: no kick fd (polling mode is not supported)", i);
	if (!nofd) {
		ret = check_ring_eventfd(i, req == VHOST_USER_SET_VRING_KICK ? "kick" :
					 req == VHOST_USER_SET_VRING_CALL ? "call" : "error", s->in_fds[0], err);
		if (ret)
			return ret;
	}
	ret = ring_stop(s, i, err);
	if (ret)
		return ret;
	v = &s->dev.vring[i];
	slot = req == VHOST_USER_SET_VRING_KICK ? &v->kick_fd :
	       req == VHOST_USER_SET_VRING_CALL ? &v->call_fd : &v->err_fd;
	close_fd(slot);
	if (!nofd) {
		*slot = s->in_fds[0];
		s->in_fds[0] = -1;
	}
	xtap_log_port(XTAP_LOG_DEBUG, s->dev.port, "%s ring %u: fd %d", name, i, *slot);
	return ring_kick_off(s, i, err);
}

static int set_vring_enable(struct xtap_vhost_server *s, const struct vhost_user_vring_state *st,
			    struct xtap_err *err)
{
	int ret;

	ret = check_ring_index(s, st->index, err);
	if (ret)
		return ret;
	if (st->num > 1)
		return xtap_fail(err, -EINVAL, "ring %u: enable %u (0 or 1)", st->index, st->num);
	s->dev.vring[st->index].enabled = st->num;
	xtap_log_port(XTAP_LOG_DEBUG, s->dev.port, "ring %u %s", st->index, st->num ? "enabled" : "disabled");
	if (!st->num)
		return ring_stop(s, st->index, err);
	return ring_kick_off(s, st->index, err);
}

/* Payload bytes each request carries; -1 = checked by its handler. */
static int payload_size(uint32_t req)
{
	switch (req) {
	case VHOST_USER_GET_FEATURES:
	case VHOST_USER_SET_OWNER:
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_GET_PROTOCOL_FEATURES:
	case VHOST_USER_GET_QUEUE_NUM:
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		return 0;
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
	case VHOST_USER_SEND_RARP:
		return sizeof(uint64_t);
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		return sizeof(struct vhost_user_vring_state);
	case VHOST_USER_SET_VRING_ADDR:
		return sizeof(struct vhost_user_vring_addr);
	default:
		return -1;
	}
}

/* Known requests that never carry fds (the others check theirs, or are refused anyway). */
static bool takes_no_fds(uint32_t req)
{
	return payload_size(req) >= 0 && req != VHOST_USER_SET_VRING_KICK &&
	       req != VHOST_USER_SET_VRING_CALL && req != VHOST_USER_SET_VRING_ERR;
}

static int dispatch(struct xtap_vhost_server *s, struct reply *r, struct xtap_err *err)
{
	struct xtap_vhost_dev *d = &s->dev;
	uint32_t req = s->in.msg.hdr.request, size = s->in.msg.hdr.size;
	int want = payload_size(req);
	union vhost_user_payload pl, *p = &pl;

	/* An aligned copy: the wire struct is packed, its payload at offset 12. */
	memset(&pl, 0, sizeof(pl));
	memcpy(&pl, s->in.bytes + sizeof(struct vhost_user_header), size);
	if (want >= 0 && size != (uint32_t)want)
		return xtap_fail(err, -EINVAL, "payload is %u bytes, the request takes %d", size, want);
	if (s->in_nfds && takes_no_fds(req))
		return xtap_fail(err, -EINVAL, "%u fds attached to a request that takes none", s->in_nfds);

	switch (req) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(r, xtap_vhost_server_offered(s));
		return 0;
	case VHOST_USER_SET_FEATURES:
		return set_features(s, p->u64, err);
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(r, OFFERED_PROTOCOL_FEATURES);
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (p->u64 & ~OFFERED_PROTOCOL_FEATURES)
			return xtap_fail(err, -EINVAL, "protocol features 0x%llx include ones not offered (0x%llx)",
					 (unsigned long long)p->u64, (unsigned long long)OFFERED_PROTOCOL_FEATURES);
		d->protocol_features = p->u64;
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(r, d->n_pairs);
		return 0;
	case VHOST_USER_GET_MAX_MEM_SLOTS:
		reply_u64(r, VHOST_USER_MAX_REGIONS);
		return 0;
	case VHOST_USER_SET_OWNER:
		return take_owner(s, err);
	case VHOST_USER_RESET_OWNER:
		/* QEMU follows a reset with SET_OWNER again; until then nothing runs. */
		reset_dev(s);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(s, size, &p->memory, err);
	case VHOST_USER_SET_VRING_NUM:
		return set_vring_num(s, &p->state, err);
	case VHOST_USER_SET_VRING_ADDR:
		return set_vring_addr(s, &p->addr, err);
	case VHOST_USER_SET_VRING_BASE:
		return set_vring_base(s, &p->state, err);
	case VHOST_USER_GET_VRING_BASE:
		return get_vring_base(s, &p->state, r, err);
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return set_vring_fd(s, req, p->u64, err);
	case VHOST_USER_SET_VRING_ENABLE:
		return set_vring_enable(s, &p->state, err);
	case VHOST_USER_SEND_RARP:
		/* The guest's own traffic announces it on the tap; nothing to send for it. */
		return 0;
	case VHOST_USER_SET_LOG_BASE:
	case VHOST_USER_SET_LOG_FD:
		r->unsupported = true;
		return xtap_fail(err, -EOPNOTSUPP, "dirty logging is not supported (VHOST_F_LOG_ALL is never offered)");
	case VHOST_USER_NET_SET_MTU:
		r->unsupported = true;
		return xtap_fail(err, -EOPNOTSUPP, "the MTU is the tap's (VHOST_USER_PROTOCOL_F_NET_MTU is never offered)");
	default:
		r->unsupported = true;
		return xtap_fail(err, -EOPNOTSUPP, "request %u is not supported", req);
	}
}

static int send_reply(struct xtap_vhost_server *s, uint32_t req, const void *payload, uint32_t size)
{
	struct vhost_user_header h = {
		.request = req, .flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK, .size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n;

	/* Never blocks: a frontend that does not read its replies is dropped. */
	do
		n = sendmsg(s->conn, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)(sizeof(h) + size))
		return 0;
	return n < 0 ? -errno : -EIO;
}

static void close_in_fds(struct xtap_vhost_server *s)
{
	unsigned int i;

	for (i = 0; i < s->in_nfds; i++)
		if (s->in_fds[i] >= 0)
			close(s->in_fds[i]);
	s->in_nfds = 0;
}

static void reject(struct xtap_vhost_server *s, const char *what, const char *why)
{
	char line[sizeof(s->last_error)];

	snprintf(line, sizeof(line), "%s rejected: %s", what, why);
	s->rejected++;
	s->generation++;
	memcpy(s->last_error, line, sizeof(line));
	xtap_vhost_server_disconnect(s, line);
}

/* A whole message is in s->in: carry it out, reply, and reset the buffer. */
static void handle(struct xtap_vhost_server *s)
{
	uint32_t req = s->in.msg.hdr.request, size = s->in.msg.hdr.size;
	bool need_reply = s->in.msg.hdr.flags & VHOST_USER_NEED_REPLY;
	bool ack = need_reply && (s->dev.protocol_features & BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct reply r = { .send = false, .unsupported = false };
	struct xtap_err err = { "" };
	char what[48];
	int ret;

	xtap_log_port(XTAP_LOG_DEBUG, s->dev.port, "%s (%u), %u bytes, %u fds", req_name(req), req, size, s->in_nfds);
	snprintf(what, sizeof(what), "%s (%u)", req_name(req), req);
	ret = dispatch(s, &r, &err);
	close_in_fds(s);
	s->in_len = 0;
	s->in_started_ms = 0;
	if (ret && !r.unsupported)
		goto fail;
	if (ret) {
		/*
		 * An unsupported request (dispatch() refused it before changing
		 * anything) the frontend asked an answer for: say no, keep going.
		 */
		if (!ack)
			goto fail;
		xtap_log_port(XTAP_LOG_INFO, s->dev.port, "%s: %s (answered with a failure)", what, err.msg);
		s->rejected++;
		s->generation++;
		snprintf(s->last_error, sizeof(s->last_error), "%s: %s", what, err.msg);
		r = (struct reply){ .send = false };
		reply_u64(&r, 1);
	} else if (!r.send && ack) {
		reply_u64(&r, 0);
	}
	if (r.send) {
		ret = send_reply(s, req, &r.p, r.size);
		if (ret) {
			snprintf(err.msg, sizeof(err.msg), "sending the reply failed: %s", strerror(-ret));
			goto fail;
		}
	}
	return;
fail:
	if (ack) {
		uint64_t nack = 1;

		send_reply(s, req, &nack, sizeof(nack));
	}
	reject(s, what, err.msg);
}

/* Takes the fds of one recvmsg; false when the frontend sent more than a message may carry. */
static bool take_fds(struct xtap_vhost_server *s, struct msghdr *mh)
{
	struct cmsghdr *c;
	bool ok = !(mh->msg_flags & MSG_CTRUNC);
	unsigned int i, n;
	int *fds;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (i = 0; i < n; i++) {
			if (s->in_nfds < VHOST_USER_MAX_REGIONS) {
				s->in_fds[s->in_nfds++] = fds[i];
			} else {
				close(fds[i]);
				ok = false;
			}
		}
	}
	return ok;
}

/*
 * Runs under xtap-vhost's guard (vhost_guard.h): starting a ring reads
 * guest memory, and a fault there leaves this function at that point. What
 * is left half done (the message, its fds, a ring half started) is then
 * reset by xtap_vhost_server_disconnect(), as for a rejected message.
 */
void xtap_vhost_server_input(struct xtap_vhost_server *s)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	const size_t hdr = sizeof(struct vhost_user_header);
	struct vhost_user_header *h = &s->in.msg.hdr;
	unsigned int msgs = 0;
	struct iovec iov;
	struct msghdr mh;
	char why[160], what[48];
	size_t want;
	ssize_t n;

	while (s->conn >= 0 && msgs < MSGS_PER_INPUT) {
		want = s->in_len < hdr ? hdr - s->in_len : hdr + h->size - s->in_len;
		iov = (struct iovec){ .iov_base = s->in.bytes + s->in_len, .iov_len = want };
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
				      .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		n = recvmsg(s->conn, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			snprintf(why, sizeof(why), "the frontend closed the connection%s%s",
				 n ? ": " : "", n ? strerror(errno) : "");
			xtap_vhost_server_disconnect(s, why);
			return;
		}
		if (!take_fds(s, &mh)) {
			reject(s, "message", "more fds attached than the 8 a message may carry");
			return;
		}
		/* The stall clock runs from a message's first byte until it is whole. */
		if (!s->in_started_ms)
			s->in_started_ms = xtap_vhost_now_ms();
		s->in_len += (size_t)n;
		if (s->in_len == hdr) {
			snprintf(what, sizeof(what), "%s (%u)", req_name(h->request), h->request);
			if ((h->flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
			    (h->flags & VHOST_USER_REPLY_MASK)) {
				snprintf(why, sizeof(why), "header flags 0x%x (version 1, not a reply)", h->flags);
				reject(s, what, why);
				return;
			}
			if (h->size > sizeof(union vhost_user_payload)) {
				snprintf(why, sizeof(why), "payload size %u (at most %zu)", h->size,
					 sizeof(union vhost_user_payload));
				reject(s, what, why);
				return;
			}
		}
		if (s->in_len == hdr + h->size) {
			handle(s);
			msgs++;
		}
	}
}

/* ---- connections ---- */

void xtap_vhost_server_init(struct xtap_vhost_server *s, const char *port, unsigned int n_pairs,
			    bool multi_queue, const struct xtap_vhost_plane *plane)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	snprintf(s->dev.port, sizeof(s->dev.port), "%s", port);
	s->dev.n_pairs = n_pairs;
	s->dev.multi_queue = multi_queue;
	s->dev.plane = plane;
	s->conn = -1;
	for (i = 0; i < XTAP_VHOST_MAX_PAIRS; i++)
		s->dev.tap_fd[i] = -1;
	for (i = 0; i < XTAP_VHOST_MAX_RINGS; i++) {
		s->dev.vring[i].kick_fd = s->dev.vring[i].call_fd = s->dev.vring[i].err_fd = -1;
		ring_reset(s, i);
	}
}

void xtap_vhost_server_attach(struct xtap_vhost_server *s, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) {
		xtap_log_port(XTAP_LOG_INFO, s->dev.port, "frontend connection: making it non-blocking failed: %s", strerror(errno));
		close(fd);
		return;
	}
	s->conn = fd;
	/* A connection that never sends a whole first message stalls as well. */
	s->in_started_ms = xtap_vhost_now_ms();
	s->connections++;
	s->generation++;
	xtap_log_port(XTAP_LOG_INFO, s->dev.port, "frontend connected (connection %llu)", (unsigned long long)s->connections);
}

void xtap_vhost_server_changed(struct xtap_vhost_server *s)
{
	s->generation++;
}

void xtap_vhost_server_disconnect(struct xtap_vhost_server *s, const char *why)
{
	if (s->conn < 0)
		return;
	reset_dev(s);
	s->dev.protocol_features = 0;
	close_in_fds(s);
	s->in_len = 0;
	s->in_started_ms = 0;
	s->features_ms = 0;
	s->mem_missing = false;
	close(s->conn);
	s->conn = -1;
	s->generation++;
	xtap_log_port(XTAP_LOG_INFO, s->dev.port, "frontend disconnected: %s; waiting for the next one", why);
}

/* ---- stalls ---- */

uint64_t xtap_vhost_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000 + 1;   /* never 0: 0 = no clock running */
}

uint64_t xtap_vhost_server_stalled_for(const struct xtap_vhost_server *s, uint64_t now)
{
	if (s->conn < 0 || !s->in_started_ms || now < s->in_started_ms)
		return 0;
	return now - s->in_started_ms;
}

/* Milliseconds until the memory table's wait is over; -1 = not waiting. */
static int mem_wait_left(const struct xtap_vhost_server *s, uint64_t now)
{
	if (s->conn < 0 || !s->features_ms || s->mem_missing)
		return -1;
	return now >= s->features_ms + XTAP_VHOST_MEM_WAIT_MS ? 0 : (int)(s->features_ms + XTAP_VHOST_MEM_WAIT_MS - now);
}

int xtap_vhost_server_timeout(const struct xtap_vhost_server *s, uint64_t now)
{
	uint64_t stalled;
	int t = -1, m = mem_wait_left(s, now);

	if (s->conn >= 0 && s->in_started_ms) {
		stalled = xtap_vhost_server_stalled_for(s, now);
		t = stalled >= XTAP_VHOST_STALL_MS ? 0 : (int)(XTAP_VHOST_STALL_MS - stalled);
	}
	return t < 0 || (m >= 0 && m < t) ? m : t;
}

const char *xtap_vhost_server_guest_memory(const struct xtap_vhost_server *s)
{
	if (s->dev.mem.n)
		return "shared";
	return s->mem_missing ? "not shared" : "unknown";
}

void xtap_vhost_server_drop_stalled(struct xtap_vhost_server *s, uint64_t now, const char *why)
{
	const size_t hdr = sizeof(struct vhost_user_header);
	unsigned long long ms = (unsigned long long)xtap_vhost_server_stalled_for(s, now);
	char line[sizeof(s->last_error)], where[96];

	if (!s->in_len)
		snprintf(where, sizeof(where), "sent no message in the %llu ms after connecting", ms);
	else if (s->in_len < hdr)
		snprintf(where, sizeof(where), "stalled for %llu ms in a message header (%zu of %zu bytes)",
			 ms, s->in_len, hdr);
	else
		snprintf(where, sizeof(where), "stalled for %llu ms in %s (%u): %zu of %u payload bytes",
			 ms, req_name(s->in.msg.hdr.request), s->in.msg.hdr.request, s->in_len - hdr,
			 s->in.msg.hdr.size);
	snprintf(line, sizeof(line), "the frontend %s%s%s", where, why ? "; " : "", why ? why : "");
	s->stalled++;
	s->generation++;
	memcpy(s->last_error, line, sizeof(line));
	xtap_vhost_server_disconnect(s, line);
}

void xtap_vhost_server_expire(struct xtap_vhost_server *s, uint64_t now)
{
	if (xtap_vhost_server_stalled_for(s, now) >= XTAP_VHOST_STALL_MS)
		xtap_vhost_server_drop_stalled(s, now, NULL);
	if (mem_wait_left(s, now) != 0)
		return;
	/* The connection stays: QEMU keeps it and its own virtio runs; only a restart with shared memory helps. */
	s->mem_missing = true;
	s->no_shared_memory++;
	s->generation++;
	xtap_log_port(XTAP_LOG_ERR, s->dev.port,
		      "the frontend negotiated features but sent no memory table within %d ms: the guest's memory is not shared, "
		      "so no frame reaches this port (%s)", XTAP_VHOST_MEM_WAIT_MS, XTAP_VHOST_HINT_SHARED_MEMORY);
}
