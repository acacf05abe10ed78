// SPDX-License-Identifier: GPL-2.0
/*
 * xtap-vmsim --vhost-user SOCKET: plays the VM as a VMM with a virtio-net
 * device on a vhost-user backend does (QEMU -netdev vhost-user). The guest
 * driver is the tests' own (tests/vhost/frontend.c): guest RAM is a memfd
 * shared with the port's xtap-vhost, frames go through split virtqueues
 * (ring 0 RX, ring 1 TX), each with a 12-byte virtio_net_hdr_v1, exactly
 * what a tap read or write carries in the tap modes.
 *
 * The driver negotiates VIRTIO_F_VERSION_1 only; vmsim_vu_open() adds
 * VIRTIO_NET_F_CSUM / GUEST_CSUM afterwards with a second SET_FEATURES
 * (the backend stops and restarts the rings around it) when the caller
 * asks for partial checksums in either direction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "frontend.h"

#define EXIT_FAIL 1

/* vmsim.c */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

struct vmsim_vu {
	struct fe fe;
	const char *path;
};

static const char *hint(int err)
{
	switch (err) {
	case -ENOENT:
	case -ECONNREFUSED:
		return " (no xtap-vhost serves it: the socket is .status.vhost_user.socket of "
		       "xtapctl -j port show NAME)";
	case -EPIPE:
		return " (another frontend attached? xtap-vhost takes one VMM per port)";
	case -EACCES:
	case -EPERM:
		return " (run as root)";
	}
	return "";
}

/* Connects, runs the whole vhost-user handshake, and adds `extra` feature bits. */
struct vmsim_vu *vmsim_vu_open(const char *path, uint64_t extra)
{
	struct vmsim_vu *vu = calloc(1, sizeof(*vu));
	struct vhost_user_msg m;
	uint64_t f;
	int ret;

	if (!vu)
		die(EXIT_FAIL, "out of memory");
	vu->path = path;
	if (fe_init(&vu->fe))
		die(EXIT_FAIL, "vhost-user guest memory: %s", vu->fe.err);
	ret = fe_vu_attach(&vu->fe, path);
	if (ret)
		die(EXIT_FAIL, "vhost-user %s: %s%s", path, vu->fe.err, hint(ret));
	if (!extra)
		return vu;
	if ((vu->fe.offered & extra) != extra)
		die(EXIT_FAIL, "vhost-user %s: the backend offers features 0x%llx, without 0x%llx", path,
		    (unsigned long long)vu->fe.offered, (unsigned long long)(extra & ~vu->fe.offered));
	f = vu->fe.features | extra;
	ret = fe_vu_send_raw(&vu->fe, VHOST_USER_SET_FEATURES,
			     VHOST_USER_VERSION | (vu->fe.reply_ack ? VHOST_USER_NEED_REPLY : 0), sizeof(f), &f,
			     sizeof(f), NULL, 0);
	if (!ret && vu->fe.reply_ack) {
		ret = fe_vu_read_reply(&vu->fe, &m, 2000);
		if (ret == sizeof(uint64_t) && m.hdr.request == VHOST_USER_SET_FEATURES)
			ret = m.payload.u64 ? -EREMOTEIO : 0;
		else if (ret >= 0)
			ret = -EPROTO;
	}
	if (ret)
		die(EXIT_FAIL, "vhost-user %s: SET_FEATURES 0x%llx: %s", path, (unsigned long long)f,
		    ret == -EREMOTEIO ? "refused" : ret == -EPIPE ? "xtap-vhost closed the connection" :
		    ret == -ETIMEDOUT ? "no reply within 2 s" : vu->fe.err[0] ? vu->fe.err : strerror(-ret));
	vu->fe.features = f;
	return vu;
}

/* Places one frame (vnet header + frame) in the TX ring; waits up to 1 s for room. */
void vmsim_vu_send(struct vmsim_vu *vu, const void *vnet, const void *frame, size_t len)
{
	if (fe_send(&vu->fe, vnet, frame, len))
		die(EXIT_FAIL, "vhost-user %s: after %llu frames: %s", vu->path,
		    (unsigned long long)vu->fe.c.tx_frames, vu->fe.err);
}

/*
 * The next frame the device put in the RX ring within timeout_ms, as a tap
 * read gives it: the 12-byte header then the frame, in buf. Returns its
 * length, or 0 when none came.
 */
size_t vmsim_vu_recv(struct vmsim_vu *vu, uint8_t *buf, size_t cap, int timeout_ms)
{
	int n = fe_recv(&vu->fe, buf + FE_VNET_HDR, cap - FE_VNET_HDR, buf, timeout_ms);

	if (n == -ETIMEDOUT)
		return 0;
	if (n < 0)
		die(EXIT_FAIL, "vhost-user %s: RX ring: %s", vu->path, vu->fe.err);
	return FE_VNET_HDR + ((size_t)n < cap - FE_VNET_HDR ? (size_t)n : cap - FE_VNET_HDR);
}

/* The longest frame a TX buffer holds (the driver uses one 4 KiB buffer per frame). */
size_t vmsim_vu_max_frame(void)
{
	return FE_BUF_SIZE - FE_VNET_HDR;
}

/*
 * Waits (up to 2 s) until the device has taken every frame from the TX ring,
 * as a guest's driver would before going away, then stops the rings
 * (GET_VRING_BASE) and disconnects. Returns the frames not taken.
 */
uint64_t vmsim_vu_close(struct vmsim_vu *vu)
{
	struct fe_ring *tx = &vu->fe.ring[FE_TX];
	struct timespec t0, t;
	uint16_t left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = tx->call_fd, .events = POLLIN };
		uint64_t v;

		left = (uint16_t)(tx->avail_idx - __atomic_load_n(&tx->used->idx, __ATOMIC_ACQUIRE));
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!left || (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 2000)
			break;
		if (poll(&p, 1, 10) == 1 && read(tx->call_fd, &v, sizeof(v)) < 0)
			continue;
	}
	fe_vu_stop(&vu->fe, NULL);
	fe_fini(&vu->fe);
	free(vu);
	return left;
}
