// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace data plane of xtap-vhost, for hosts without /dev/vhost-net:
 * the device side of the guest's split virtqueues (virtio 1.x, 2.7), in the
 * process's single-threaded poll loop.
 *   TX ring 2i+1: guest kick -> pop chains -> writev (virtio-net header +
 *     frame, as the tap has IFF_VNET_HDR) to tap queue i -> used ring, call.
 *   RX ring 2i: tap queue i readable -> readv into the next writable chain ->
 *     used ring, call. With no buffers posted the tap is not polled until the
 *     guest kicks RX (the frames wait in the tap's queue, as with vhost-net).
 * Everything the guest wrote is untrusted: descriptors are read once, every
 * buffer is translated through the memory table (never outside a region),
 * chains are bounded; a malformed ring is stopped with one log line (and its
 * error eventfd signalled) until the frontend restarts it. Guest memory may
 * also vanish under us (the frontend shrinks its file): a load or store
 * here then faults, and xtap-vhost's guard (vhost_guard.h) jumps out of
 * the plane and drops the frontend, which closes the plane. So nothing here
 * may hold a resource across guest memory accesses that only the rest of
 * the function would release. Frames still pass the tap, so the port's BPF
 * policy applies.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vhost_dev.h"
#include "vhost_mem.h"
#include "log.h"

/* Frames per ring per event: bounds the time one ring keeps the loop. */
#define US_BATCH 64
/* Largest frame after the virtio-net header: 64 KiB GSO payload + Ethernet header. */
#define US_MAX_FRAME 65550
/* Buffers one frame may span: IOV_MAX (1024) for readv/writev, less RX's spill byte. */
#define US_MAX_IOV 1023
/* Offset of num_buffers in struct virtio_net_hdr_mrg_rxbuf / _v1. */
#define US_NUM_BUFFERS_OFF 10

struct us_ring {
	uint16_t last_avail;           /* next avail entry to take */
	uint16_t used_idx;             /* next used entry to fill (published at batch end) */
	bool running;
	bool broken;                   /* malformed by the guest: ignored until restarted */
	bool more;                     /* TX: frames left (batch full, tap full): poll POLLOUT */
	bool wait_kick;                /* RX: ring was empty: the tap is not polled until a kick */
	bool warned;                   /* a dropped frame was logged since start */
};

enum us_slot_kind { US_SLOT_KICK, US_SLOT_TAP };

/* What each pollfd handed out by us_poll_fds() stands for. */
struct us_slot {
	enum us_slot_kind kind;
	unsigned int index;            /* ring (KICK) or queue pair (TAP) */
};

struct us_plane {
	struct us_ring ring[XTAP_VHOST_MAX_RINGS];
	struct us_slot slot[3 * XTAP_VHOST_MAX_PAIRS];
	int nslots;
	/* Bumped by every state change: events polled before it are stale (fds may be closed). */
	unsigned int gen, poll_gen;
	struct iovec iov[US_MAX_IOV + 1];
	/* Past the end of an RX chain: a frame that reaches it did not fit (a tap truncates silently). */
	uint8_t spill;
};

/* One descriptor chain, translated. */
struct us_chain {
	unsigned int niov;
	uint64_t len;                  /* sum of all descriptor lengths (at most 2^15 * 2^32) */
	uint64_t mapped;               /* bytes in iov (len clipped at the frame limit) */
};

static struct us_plane *plane_of(struct xtap_vhost_dev *d)
{
	return d->plane_priv;
}

/*
 * Signals a call or error eventfd. The server only accepts eventfds there
 * and makes them non-blocking, so this never waits: EAGAIN means the
 * counter is at its maximum, i.e. the frontend has not read the eventfd
 * since it was signalled, so it is signalled already.
 */
static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	if (fd < 0)
		return;
	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* Any other error (the fd is not what the server accepted): nothing better to do. */
}

/* Stops ring i for good (until the frontend restarts it): one log line, error eventfd. */
__attribute__((format(printf, 3, 4)))
static void ring_break(struct xtap_vhost_dev *d, unsigned int i, const char *fmt, ...)
{
	struct us_ring *r = &plane_of(d)->ring[i];
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	xtap_log_port(XTAP_LOG_WARN, d->port, "ring %u (%s %u) stopped: %s; the guest driver must reset the device",
			    i, i & 1 ? "tx" : "rx", i / 2, why);
	r->broken = true;
	/* Best effort: the log line above is the record. */
	signal_eventfd(d->vring[i].err_fd);
}

/*
 * Appends guest buffer [gpa, gpa+len) to the chain's iovecs, up to `limit`
 * bytes in all. A buffer that spans two adjacent regions gets one iovec per
 * region. Returns NULL or why the buffer is unusable.
 */
static const char *chain_add(struct us_plane *p, const struct xtap_vhost_mem *m, struct us_chain *c,
			     uint64_t gpa, uint32_t len, uint64_t limit)
{
	uint64_t left = len;

	c->len += len;
	while (left) {
		uint64_t chunk = left;
		void *host;

		for (unsigned int k = 0; k < m->n; k++) {
			if (gpa >= m->r[k].gpa && gpa - m->r[k].gpa < m->r[k].size) {
				if (chunk > m->r[k].size - (gpa - m->r[k].gpa))
					chunk = m->r[k].size - (gpa - m->r[k].gpa);
				break;
			}
		}
		host = xtap_vhost_gpa(m, gpa, chunk);
		if (!host)
			return "buffer outside guest memory";
		if (c->mapped < limit) {
			if (c->niov == US_MAX_IOV)
				return "frame spans more than 1023 buffers";
			p->iov[c->niov].iov_base = host;
			p->iov[c->niov].iov_len = chunk < limit - c->mapped ? chunk : limit - c->mapped;
			c->mapped += p->iov[c->niov].iov_len;
			c->niov++;
		}
		gpa += chunk;
		left -= chunk;
	}
	return NULL;
}

/*
 * Walks the chain at `head` of ring i into p->iov: every descriptor must be
 * readable (TX) or writable (RX), inside guest memory, and the walk ends
 * within the table's size (so a `next` loop ends too). Indirect tables when
 * the guest negotiated them (one level, as the spec allows). Returns false
 * after breaking the ring.
 */
static bool chain_walk(struct xtap_vhost_dev *d, unsigned int i, uint16_t head, uint64_t limit,
		       struct us_chain *c)
{
	const struct xtap_vring *v = &d->vring[i];
	bool want_write = !(i & 1), indirect = false;
	const uint8_t *table = v->desc;
	unsigned int size = v->num, idx = head, seen = 0;
	const char *why;

	*c = (struct us_chain){ 0 };
	for (;;) {
		struct vring_desc desc;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;

		if (idx >= size) {
			ring_break(d, i, "chain from descriptor %u: index %u beyond the %s of %u",
				   head, idx, indirect ? "indirect table" : "ring size", size);
			return false;
		}
		if (++seen > size) {
			ring_break(d, i, "chain from descriptor %u loops or is longer than its table (%u)",
				   head, size);
			return false;
		}
		/* Read once: the guest may rewrite the descriptor while we look at it. */
		memcpy(&desc, table + (size_t)idx * sizeof(desc), sizeof(desc));
		__asm__ __volatile__("" ::: "memory");
		addr = le64toh(desc.addr);
		len = le32toh(desc.len);
		flags = le16toh(desc.flags);

		if (flags & VRING_DESC_F_INDIRECT) {
			if (!(d->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC)) || indirect ||
			    (flags & VRING_DESC_F_NEXT) || !len || len % sizeof(desc) ||
			    len / sizeof(desc) > XTAP_VHOST_MAX_RING_NUM) {
				ring_break(d, i, "descriptor %u: invalid indirect table (len %u, flags 0x%x)",
					   idx, len, flags);
				return false;
			}
			table = xtap_vhost_gpa(&d->mem, addr, len);
			if (!table) {
				ring_break(d, i, "descriptor %u: indirect table 0x%llx+%u outside guest memory",
					   idx, (unsigned long long)addr, len);
				return false;
			}
			indirect = true;
			size = len / sizeof(desc);
			idx = 0;
			seen = 0;
			continue;
		}
		if (!!(flags & VRING_DESC_F_WRITE) != want_write) {
			ring_break(d, i, "descriptor %u: %s buffer in the %s ring", idx,
				   want_write ? "read-only" : "writable", want_write ? "rx" : "tx");
			return false;
		}
		why = chain_add(plane_of(d), &d->mem, c, addr, len, limit);
		if (why) {
			ring_break(d, i, "descriptor %u: %s (0x%llx+%u)", idx, why,
				   (unsigned long long)addr, len);
			return false;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			return true;
		idx = le16toh(desc.next);
	}
}

/*
 * The next chain's head, or -1 when the ring is empty or was just broken.
 * The acquire pairs with the driver's release of avail->idx: the entry and
 * the descriptors it names are read after the index.
 */
static int avail_next(struct xtap_vhost_dev *d, unsigned int i)
{
	const struct xtap_vring *v = &d->vring[i];
	struct vring_avail *avail = v->avail;
	struct us_ring *r = &plane_of(d)->ring[i];
	uint16_t idx = le16toh(__atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE));
	uint16_t head;

	if ((uint16_t)(idx - r->last_avail) > v->num) {
		ring_break(d, i, "avail index moved from %u to %u, more than the ring size %u",
			   r->last_avail, idx, v->num);
		return -1;
	}
	if (idx == r->last_avail)
		return -1;
	head = le16toh(__atomic_load_n(&avail->ring[r->last_avail % v->num], __ATOMIC_RELAXED));
	if (head >= v->num) {
		ring_break(d, i, "avail entry %u names descriptor %u beyond the ring size %u",
			   r->last_avail, head, v->num);
		return -1;
	}
	return head;
}

static void used_add(struct xtap_vhost_dev *d, unsigned int i, uint16_t head, uint32_t len)
{
	const struct xtap_vring *v = &d->vring[i];
	struct vring_used *used = v->used;
	struct us_ring *r = &plane_of(d)->ring[i];

	used->ring[r->used_idx % v->num].id = htole32(head);
	used->ring[r->used_idx % v->num].len = htole32(len);
	r->used_idx++;
	r->last_avail++;
}

/* Makes the batch's used entries visible, then interrupts the guest unless it asked not to. */
static void used_publish(struct xtap_vhost_dev *d, unsigned int i)
{
	const struct xtap_vring *v = &d->vring[i];
	struct vring_used *used = v->used;
	struct vring_avail *avail = v->avail;

	__atomic_store_n(&used->idx, htole16(plane_of(d)->ring[i].used_idx), __ATOMIC_RELEASE);
	/* The guest's flags are read after it can see the new used index (virtio 2.7.7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (le16toh(__atomic_load_n(&avail->flags, __ATOMIC_RELAXED)) & VRING_AVAIL_F_NO_INTERRUPT)
		return;
	signal_eventfd(v->call_fd);
}

/* A frame the tap cannot take (or that does not fit): dropped, logged once per start. */
__attribute__((format(printf, 3, 4)))
static void frame_drop(struct xtap_vhost_dev *d, unsigned int i, const char *fmt, ...)
{
	struct us_ring *r = &plane_of(d)->ring[i];
	char why[200];
	va_list ap;

	if (r->warned)
		return;
	r->warned = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	xtap_log_port(XTAP_LOG_WARN, d->port, "ring %u (%s %u): dropped a frame: %s (further drops on this ring are not logged)",
			    i, i & 1 ? "tx" : "rx", i / 2, why);
}

static void tx_run(struct xtap_vhost_dev *d, unsigned int i)
{
	struct us_plane *p = plane_of(d);
	struct us_ring *r = &p->ring[i];
	unsigned int hdr = xtap_vhost_hdr_len(d->features), n;
	int tap = d->tap_fd[i / 2];
	bool done = false;

	r->more = false;
	for (n = 0; n < US_BATCH; n++) {
		struct us_chain c;
		int head = avail_next(d, i);
		ssize_t w;

		if (head < 0) {
			done = true;
			break;
		}
		if (!chain_walk(d, i, head, hdr + US_MAX_FRAME, &c))
			break;
		if (c.len < hdr || c.len > hdr + US_MAX_FRAME) {
			frame_drop(d, i, "%llu bytes, %s the %u-byte virtio-net header",
				   (unsigned long long)c.len,
				   c.len < hdr ? "shorter than" : "more than 65550 after", hdr);
		} else {
			do
				w = writev(tap, p->iov, c.niov);
			while (w < 0 && errno == EINTR);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* The chain stays in the ring until the tap has room. */
				r->more = true;
				break;
			}
			if (w < 0)
				frame_drop(d, i, "writing to tap queue %u: %s", i / 2, strerror(errno));
		}
		/* TX buffers are only read: the used length is 0 (as vhost-net does). */
		used_add(d, i, head, 0);
	}
	if (n == US_BATCH && !done)
		r->more = true;
	if (n)
		used_publish(d, i);
}

/* Writes num_buffers = 1 at its offset in the header, which may span buffers. */
static void set_num_buffers(const struct iovec *iov, unsigned int niov)
{
	uint16_t one = htole16(1);
	const uint8_t *src = (const uint8_t *)&one;
	size_t off = US_NUM_BUFFERS_OFF, left = sizeof(one);

	for (unsigned int k = 0; k < niov && left; k++) {
		size_t l = iov[k].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t n = l - off < left ? l - off : left;

		memcpy((uint8_t *)iov[k].iov_base + off, src, n);
		src += n;
		left -= n;
		off = 0;
	}
}

static void rx_run(struct xtap_vhost_dev *d, unsigned int i)
{
	struct us_plane *p = plane_of(d);
	struct us_ring *r = &p->ring[i];
	unsigned int hdr = xtap_vhost_hdr_len(d->features), n, used = 0;
	int tap = d->tap_fd[i / 2];

	for (n = 0; n < US_BATCH; n++) {
		struct us_chain c;
		int head = avail_next(d, i);
		ssize_t got;

		if (head < 0) {
			/* Empty (or broken): leave the frames in the tap until the guest posts buffers. */
			r->wait_kick = true;
			break;
		}
		if (!chain_walk(d, i, head, hdr + US_MAX_FRAME, &c))
			break;
		if (c.mapped < hdr) {
			ring_break(d, i, "buffer chain at descriptor %u holds %llu bytes, less than the %u-byte virtio-net header",
				   head, (unsigned long long)c.len, hdr);
			break;
		}
		p->iov[c.niov] = (struct iovec){ .iov_base = &p->spill, .iov_len = 1 };
		do
			got = readv(tap, p->iov, c.niov + 1);
		while (got < 0 && errno == EINTR);
		if (got < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ring_break(d, i, "reading tap queue %u of %s: %s", i / 2, d->port, strerror(errno));
			break;
		}
		/* Dropped frames leave the chain for the next one. */
		if ((uint64_t)got > c.mapped) {
			/* It reached the spill byte: truncated. */
			frame_drop(d, i, "larger than the guest's %llu-byte receive buffer",
				   (unsigned long long)c.mapped);
			continue;
		}
		if ((unsigned int)got < hdr) {
			frame_drop(d, i, "%zd bytes from tap queue %u, shorter than the %u-byte virtio-net header",
				   got, i / 2, hdr);
			continue;
		}
		/* Without MRG_RXBUF a frame is one chain; the tap skips those 2 bytes. */
		if (hdr > US_NUM_BUFFERS_OFF)
			set_num_buffers(p->iov, c.niov);
		used_add(d, i, head, got);
		used++;
	}
	if (used)
		used_publish(d, i);
}

static int us_probe(struct xtap_err *err)
{
	(void)err;
	return 0;
}

static uint64_t us_features(void)
{
	/*
	 * The offloads travel in the virtio-net header, which goes to and comes
	 * from the tap unchanged; the server limits the tap's offloads to what
	 * the guest negotiated. Any layout and indirect tables: the chain walk
	 * takes both. Not offered (not implemented): MRG_RXBUF, EVENT_IDX,
	 * NOTIFY_ON_EMPTY, packed rings.
	 */
	return 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ANY_LAYOUT |
	       1ull << VIRTIO_RING_F_INDIRECT_DESC |
	       1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
	       1ull << VIRTIO_NET_F_GUEST_TSO4 | 1ull << VIRTIO_NET_F_GUEST_TSO6 |
	       1ull << VIRTIO_NET_F_GUEST_ECN | 1ull << VIRTIO_NET_F_HOST_TSO4 |
	       1ull << VIRTIO_NET_F_HOST_TSO6 | 1ull << VIRTIO_NET_F_HOST_ECN;
}

static int us_open(struct xtap_vhost_dev *d, struct xtap_err *err)
{
	if (d->plane_priv)
		return xtap_fail(err, -EBUSY, "userspace data plane of port %s is already open", d->port);
	d->plane_priv = calloc(1, sizeof(struct us_plane));
	if (!d->plane_priv)
		return xtap_fail(err, -ENOMEM, "userspace data plane of port %s: out of memory", d->port);
	return 0;
}

static int us_changed(struct xtap_vhost_dev *d, struct xtap_err *err)
{
	(void)err;
	plane_of(d)->gen++;
	return 0;
}

static int us_stop(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err)
{
	struct us_plane *p = plane_of(d);

	(void)err;
	if (!p || i >= XTAP_VHOST_MAX_RINGS || !p->ring[i].running)
		return 0;
	/* Every chain taken is completed, so this is also where the used ring stands. */
	d->vring[i].last_avail = p->ring[i].last_avail;
	p->ring[i] = (struct us_ring){ 0 };
	p->gen++;
	return 0;
}

static int us_start(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err)
{
	const struct xtap_vring *v = &d->vring[i];
	struct us_plane *p = plane_of(d);
	struct us_ring *r;

	if (!p)
		return xtap_fail(err, -EINVAL, "ring %u of port %s: userspace data plane not open", i, d->port);
	if (i >= 2 * d->n_pairs || i >= XTAP_VHOST_MAX_RINGS)
		return xtap_fail(err, -EINVAL, "ring %u of port %s: beyond the %u queue pairs", i, d->port,
				 d->n_pairs);
	/* Restarting a running ring must not rewind it to a stale base. */
	us_stop(d, i, NULL);
	if (!v->num || v->num > XTAP_VHOST_MAX_RING_NUM || !v->desc || !v->avail || !v->used ||
	    v->kick_fd < 0)
		return xtap_fail(err, -EINVAL, "ring %u of port %s: size, addresses or kick fd missing",
				 i, d->port);
	/* The aligned atomic accesses below depend on it; virtio 2.7 requires it. */
	if ((uintptr_t)v->desc % 16 || (uintptr_t)v->avail % 2 || (uintptr_t)v->used % 4)
		return xtap_fail(err, -EINVAL, "ring %u of port %s: descriptor table, avail or used ring misaligned (16, 2, 4 bytes)",
				 i, d->port);
	if (d->tap_fd[i / 2] < 0)
		return xtap_fail(err, -EBADF, "ring %u of port %s: tap queue %u is not open", i, d->port,
				 i / 2);
	r = &p->ring[i];
	*r = (struct us_ring){
		.last_avail = v->last_avail,
		/* Where the guest last saw us (0 on a fresh ring), as vhost-net does. */
		.used_idx = le16toh(__atomic_load_n(&((struct vring_used *)v->used)->idx, __ATOMIC_ACQUIRE)),
		.running = true,
		/* Look at the ring right away: the guest may have queued before we started. */
		.more = i & 1,
	};
	p->gen++;
	return 0;
}

static void us_close(struct xtap_vhost_dev *d)
{
	struct us_plane *p = plane_of(d);

	if (!p)
		return;
	for (unsigned int i = 0; i < XTAP_VHOST_MAX_RINGS; i++)
		us_stop(d, i, NULL);
	free(p);
	d->plane_priv = NULL;
}

static bool ring_live(const struct us_plane *p, unsigned int i)
{
	return p->ring[i].running && !p->ring[i].broken;
}

static int slot_add(struct us_plane *p, struct pollfd *pfd, int max, int fd, short events,
		    enum us_slot_kind kind, unsigned int index)
{
	if (p->nslots >= max)
		return -1;
	pfd[p->nslots] = (struct pollfd){ .fd = fd, .events = events };
	p->slot[p->nslots] = (struct us_slot){ .kind = kind, .index = index };
	p->nslots++;
	return 0;
}

/*
 * Per queue pair at most 3 fds: both kick eventfds (always drained), and
 * the tap for POLLIN while the RX ring has buffers and POLLOUT while TX has
 * frames left. Returns how many were filled (at most max).
 */
static int us_poll_fds(struct xtap_vhost_dev *d, struct pollfd *pfd, int max)
{
	struct us_plane *p = plane_of(d);

	if (!p)
		return 0;
	if (max > (int)(sizeof(p->slot) / sizeof(p->slot[0])))
		max = sizeof(p->slot) / sizeof(p->slot[0]);
	p->nslots = 0;
	p->poll_gen = p->gen;
	for (unsigned int q = 0; q < d->n_pairs && q < XTAP_VHOST_MAX_PAIRS; q++) {
		unsigned int rx = 2 * q, tx = 2 * q + 1;
		short tap_events = 0;

		if (ring_live(p, rx)) {
			if (slot_add(p, pfd, max, d->vring[rx].kick_fd, POLLIN, US_SLOT_KICK, rx))
				break;
			if (!p->ring[rx].wait_kick)
				tap_events |= POLLIN;
		}
		if (ring_live(p, tx)) {
			if (slot_add(p, pfd, max, d->vring[tx].kick_fd, POLLIN, US_SLOT_KICK, tx))
				break;
			if (p->ring[tx].more)
				tap_events |= POLLOUT;
		}
		if (tap_events && slot_add(p, pfd, max, d->tap_fd[q], tap_events, US_SLOT_TAP, q))
			break;
	}
	return p->nslots;
}

static void kick_event(struct xtap_vhost_dev *d, unsigned int i, short revents)
{
	struct us_ring *r = &plane_of(d)->ring[i];
	uint64_t count;

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		ring_break(d, i, "its kick fd reports an error (revents 0x%x)", revents);
		return;
	}
	if (!(revents & POLLIN))
		return;
	/*
	 * Only after POLLIN, so a blocking eventfd (the plane's unit test hands
	 * it those) does not wait. The server makes the frontend's kick
	 * eventfds non-blocking: a frontend draining its own eventfd between
	 * poll and read cannot make this wait either.
	 */
	if (read(d->vring[i].kick_fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: someone else drained it; the ring is looked at anyway. */
	}
	if (i & 1) {
		tx_run(d, i);
	} else {
		r->wait_kick = false;
		rx_run(d, i);
	}
}

static void tap_event(struct xtap_vhost_dev *d, unsigned int q, short revents)
{
	struct us_plane *p = plane_of(d);

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		for (unsigned int i = 2 * q; i < 2 * q + 2; i++)
			if (ring_live(p, i))
				ring_break(d, i, "tap queue %u of %s reports an error (revents 0x%x)", q, d->port,
					   revents);
		return;
	}
	if ((revents & POLLIN) && ring_live(p, 2 * q) && !p->ring[2 * q].wait_kick)
		rx_run(d, 2 * q);
	if ((revents & POLLOUT) && ring_live(p, 2 * q + 1))
		tx_run(d, 2 * q + 1);
}

static void us_poll_events(struct xtap_vhost_dev *d, const struct pollfd *pfd, int n)
{
	struct us_plane *p = plane_of(d);

	/* A ring started or stopped since us_poll_fds(): its fds may be gone; poll again. */
	if (!p || p->gen != p->poll_gen || n != p->nslots)
		return;
	for (int k = 0; k < n; k++) {
		const struct us_slot *s = &p->slot[k];

		if (!pfd[k].revents)
			continue;
		if (s->kind == US_SLOT_KICK) {
			if (ring_live(p, s->index))
				kick_event(d, s->index, pfd[k].revents);
		} else {
			tap_event(d, s->index, pfd[k].revents);
		}
	}
}

const struct xtap_vhost_plane xtap_vhost_plane_userspace = {
	.name = "userspace",
	.probe = us_probe,
	.features = us_features,
	.open = us_open,
	.set_features = us_changed,
	.set_mem = us_changed,
	.start = us_start,
	.stop = us_stop,
	.close = us_close,
	.poll_fds = us_poll_fds,
	.poll_events = us_poll_events,
};
