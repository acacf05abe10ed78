/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtap-vhost: one process per port serves vhost-user on the port's socket.
 * The protocol server (vhost_user.c) keeps the state the frontend gave it
 * in a struct xtap_vhost_dev; a data plane moves the frames:
 *   - vhost_net.c: programs the kernel's vhost-net (one /dev/vhost-net per
 *     queue pair, VHOST_NET_SET_BACKEND = the tap queue); the process is
 *     never on the packet path;
 *   - vhost_userspace.c: where /dev/vhost-net is missing, moves frames
 *     between the vrings and the tap queues itself.
 * Either way frames pass the tap, so the port's BPF policy applies.
 */
#ifndef XTAP_VHOST_DEV_H
#define XTAP_VHOST_DEV_H

#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "err.h"
#include "vhost_mem.h"

/* Queue pairs per port served over vhost-user (rings 2i = RX, 2i+1 = TX). */
#define XTAP_VHOST_MAX_PAIRS 16
#define XTAP_VHOST_MAX_RINGS (2 * XTAP_VHOST_MAX_PAIRS)
/* Largest ring the frontend may ask for (virtio split ring limit). */
#define XTAP_VHOST_MAX_RING_NUM 32768

/* One virtqueue as the frontend described it. */
struct xtap_vring {
	unsigned int num;              /* SET_VRING_NUM; 0 = not set */
	uint64_t desc_uva, avail_uva, used_uva;   /* frontend addresses (SET_VRING_ADDR) */
	void *desc, *avail, *used;     /* the same in our mapping, whole ring inside one region; NULL = unset */
	uint16_t last_avail;           /* SET_VRING_BASE / GET_VRING_BASE */
	int kick_fd, call_fd, err_fd;  /* -1 = none */
	bool enabled;                  /* false after a reset; SET_VRING_ENABLE, or SET_FEATURES without protocol features, sets it */
	bool started;                  /* the data plane runs it */
};

struct xtap_vhost_plane;

struct xtap_vhost_dev {
	char port[IFNAMSIZ];           /* the port's tap */
	unsigned int n_pairs;          /* queue pairs offered (GET_QUEUE_NUM) */
	bool multi_queue;              /* the tap was created with IFF_MULTI_QUEUE */
	uint64_t features;             /* virtio features the frontend set */
	uint64_t protocol_features;
	struct xtap_vhost_mem mem;
	struct xtap_vring vring[XTAP_VHOST_MAX_RINGS];
	int tap_fd[XTAP_VHOST_MAX_PAIRS];   /* tap queues, open while a frontend is connected; -1 */
	const struct xtap_vhost_plane *plane;
	void *plane_priv;
};

/*
 * A data plane. The server calls these in protocol order; every int
 * function returns 0 or -errno with a line in err, and never leaves a ring
 * half-started.
 */
struct xtap_vhost_plane {
	const char *name;              /* "vhost-net" or "userspace": xtapctl port show prints it */
	/* 0 if this plane can run here (e.g. /dev/vhost-net opens). */
	int (*probe)(struct xtap_err *err);
	/* Virtio feature bits it can carry (the server adds the tap's offload bits' limits). */
	uint64_t (*features)(void);
	/* A frontend connected and sent SET_OWNER: d->tap_fd[] are open. */
	int (*open)(struct xtap_vhost_dev *d, struct xtap_err *err);
	/* SET_FEATURES (d->features already set). */
	int (*set_features)(struct xtap_vhost_dev *d, struct xtap_err *err);
	/* SET_MEM_TABLE (d->mem already remapped; the server stopped the rings and restarts them after). */
	int (*set_mem)(struct xtap_vhost_dev *d, struct xtap_err *err);
	/* Ring i is complete (num, addresses, kick fd) and enabled: run it. */
	int (*start)(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err);
	/* Stop ring i and store where it stopped in d->vring[i].last_avail. */
	int (*stop)(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err);
	/* The frontend went away (or RESET_OWNER): everything stopped, plane state freed. */
	void (*close)(struct xtap_vhost_dev *d);
	/* Userspace plane only (NULL otherwise): fds it waits on, and their events. */
	int (*poll_fds)(struct xtap_vhost_dev *d, struct pollfd *pfd, int max);
	void (*poll_events)(struct xtap_vhost_dev *d, const struct pollfd *pfd, int n);
};

extern const struct xtap_vhost_plane xtap_vhost_plane_kernel;     /* vhost_net.c */
extern const struct xtap_vhost_plane xtap_vhost_plane_userspace;  /* vhost_userspace.c */

/* virtio-net header length the frontend's features imply: what the tap gets with TUNSETVNETHDRSZ. */
static inline unsigned int xtap_vhost_hdr_len(uint64_t features)
{
	return features & (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_NET_F_MRG_RXBUF) ? 12 : 10;
}

#endif /* XTAP_VHOST_DEV_H */
