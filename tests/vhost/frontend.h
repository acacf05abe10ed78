/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A userspace virtio-net "guest driver" for tests: the role
 * tools/virtio/vhost_net_test.c plays in the kernel. Guest RAM is a memfd
 * mapped in this process and described as two regions (rings in the first,
 * frame buffers in the second); guest physical addresses are offsets in the
 * memfd, so they differ from our addresses and the device must translate.
 * fe_init(): one queue pair, ring 0 = RX, ring 1 = TX, split virtqueues.
 * fe_init_mq(): N queue pairs (N <= FE_MAX_PAIRS), ring 2i = RX and ring
 * 2i+1 = TX of pair i, as virtio-net numbers them; every ring in region 0,
 * pair i's buffers in a region of its own (region 1 + i), so the memfd is
 * FE_MEM_SIZE + (N - 1) * FE_REGION_SIZE. The single-pair functions
 * (fe_send, fe_recv, fe_kernel_attach) work on pair 0; the _q / _mq / _any
 * ones take a pair or cover them all.
 *
 * Two ways to attach a device:
 *   - fe_vu_attach(): as a vhost-user frontend (what QEMU does with
 *     -chardev socket + vhost-user netdev), ring addresses in our space;
 *   - fe_kernel_attach(): programming /dev/vhost-net directly with a tap
 *     queue fd (what QEMU does with -netdev tap,vhostfds=).
 * Then fe_send() / fe_recv() move frames, each with a 12-byte virtio-net
 * header (VIRTIO_F_VERSION_1, no mergeable buffers).
 *
 * Multiqueue over vhost-user: with N > 1 the handshake requires the
 * device's MQ protocol feature, GET_QUEUE_NUM >= N and VIRTIO_NET_F_MQ
 * (negotiated), then sets up and enables all 2N rings. Over vhost-net
 * (fe_kernel_attach_mq): one vhost-net fd and one tap queue fd per pair,
 * each vhost-net instance driving its pair's rings as its virtqueues 0/1.
 *
 * Every failure returns -errno and leaves one line in fe->err saying what
 * the device did or refused.
 */
#ifndef XTAP_TESTS_VHOST_FRONTEND_H
#define XTAP_TESTS_VHOST_FRONTEND_H

#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

#include "vhost_user_proto.h"

#define FE_MEM_SIZE   (4u << 20)        /* the memfd: two 2 MiB regions */
#define FE_REGION_SIZE (FE_MEM_SIZE / 2)
#define FE_RING_NUM   256
#define FE_BUF_SIZE   4096              /* one descriptor's buffer */
#define FE_VNET_HDR   12
#define FE_RX 0
#define FE_TX 1
#define FE_MAX_PAIRS  4                 /* fe_init_mq: 1 + 4 regions, 8 rings */
#define FE_RX_RING(pair) (2 * (pair))
#define FE_TX_RING(pair) (2 * (pair) + 1)

struct fe_counters {
	uint64_t tx_frames, tx_bytes;       /* placed in the TX ring */
	uint64_t tx_completed;              /* given back by the device */
	uint64_t rx_frames, rx_bytes;       /* taken from the RX ring (bytes without vnet header) */
	uint64_t kicks;                     /* eventfd writes */
	uint64_t kicks_suppressed;          /* skipped: the device set VRING_USED_F_NO_NOTIFY */
	uint64_t calls;                     /* call eventfd counts read */
};

struct fe_ring {
	unsigned int num;
	struct vring_desc *desc;            /* our mapping */
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx;                 /* next avail->idx we publish */
	uint16_t last_used;                 /* used entries consumed */
	int kick_fd, call_fd;
	uint8_t inflight[FE_RING_NUM];      /* 1: the head id is the device's */
};

struct fe {
	int memfd;
	uint8_t *mem;                       /* our mapping of the whole memfd */
	struct fe_ring ring[2 * FE_MAX_PAIRS];   /* 2 * n_pairs in use */
	/* TX slots of pair 0: slot s uses head 2s (and 2s+1 when the header is chained apart). */
	uint16_t tx_free[FE_RING_NUM / 2];
	unsigned int n_tx_free;
	int sock;                           /* vhost-user connection; -1 = none */
	int vhost_fd, tap_fd;               /* kernel attach: not owned, -1 = none */
	uint64_t features;                  /* negotiated virtio features */
	uint64_t offered;                   /* what the device offered */
	uint64_t protocol_features;
	uint64_t queue_num;                 /* GET_QUEUE_NUM answer (0 = not asked) */
	int reply_ack;                      /* REPLY_ACK negotiated: every set message is acked */
	struct fe_counters c;               /* all pairs together */
	char err[256];
	/* Multiqueue (fe_init_mq); fe_init sets n_pairs = 1. */
	unsigned int n_pairs;
	size_t mem_size;                    /* of the memfd and our mapping */
	struct fe_counters pc[FE_MAX_PAIRS];        /* per pair */
	uint16_t mq_tx_free[FE_MAX_PAIRS][FE_RING_NUM / 2];  /* TX slots of pairs >= 1 ([0] unused) */
	unsigned int mq_n_tx_free[FE_MAX_PAIRS];
	int mq_vhost_fd[FE_MAX_PAIRS], mq_tap_fd[FE_MAX_PAIRS];  /* kernel attach, per pair */
	unsigned int kernel_pairs;          /* pairs programmed into vhost-net (0 = none) */
	unsigned int rx_next;               /* fe_recv_any: the pair it looks at first */
};

/* How far fe_vu_handshake() goes. */
enum fe_stage {
	FE_STAGE_OWNER,     /* features, protocol features, queue num, SET_OWNER, SET_FEATURES */
	FE_STAGE_MEM,       /* + SET_MEM_TABLE */
	FE_STAGE_RUNNING,   /* + both rings set up and enabled */
};

int fe_init(struct fe *fe);
/* fe_init with n_pairs queue pairs (1..FE_MAX_PAIRS); fe_init(fe) = fe_init_mq(fe, 1). */
int fe_init_mq(struct fe *fe, unsigned int n_pairs);
void fe_fini(struct fe *fe);

/* vhost-user. fe_vu_connect only connects; fe_vu_attach = connect + handshake to RUNNING. */
int fe_vu_connect(struct fe *fe, const char *path);
int fe_vu_handshake(struct fe *fe, enum fe_stage upto);
int fe_vu_attach(struct fe *fe, const char *path);
/*
 * Stops every ring (GET_VRING_BASE) and disconnects; bases get the device's
 * last_avail of rings 0 and 1. fe_vu_stop_mq: bases (NULL or 2 * n_pairs
 * entries) get every ring's.
 */
int fe_vu_stop(struct fe *fe, uint16_t bases[2]);
int fe_vu_stop_mq(struct fe *fe, uint16_t *bases);
/* Closes the connection as a crashing VMM would. */
void fe_disconnect(struct fe *fe);
/*
 * One raw message: header (request, flags as given: add VHOST_USER_VERSION
 * yourself), `size` in the header and `len` payload bytes actually sent
 * (they may differ, to lie), fds attached by SCM_RIGHTS.
 */
int fe_vu_send_raw(struct fe *fe, uint32_t request, uint32_t flags, uint32_t size, const void *payload,
		   size_t len, const int *fds, int nfds);
/* Reads one reply; returns its payload size, -EPIPE when the device closed, -ETIMEDOUT. */
int fe_vu_read_reply(struct fe *fe, struct vhost_user_msg *m, int timeout_ms);
/* 1 when the device closed the connection within timeout_ms (pending replies are skipped), else 0. */
int fe_vu_closed_by_peer(struct fe *fe, int timeout_ms);
/*
 * The memory table fe_vu_handshake sends (our addresses; 1 + n_pairs
 * regions, one memfd fd each), and a ring's addresses, to edit.
 */
void fe_vu_mem_table(const struct fe *fe, struct vhost_user_memory *m, uint32_t *size);
void fe_vu_ring_addr(const struct fe *fe, unsigned int i, struct vhost_user_vring_addr *a);

/*
 * Hand-off: program vhost-net (an open /dev/vhost-net) with our memory and
 * rings and the tap queue as backend; sets the tap's vnet header to 12 and
 * its offloads to none. The fds stay the caller's; fe_kernel_detach
 * unplugs the backend.
 */
int fe_kernel_attach(struct fe *fe, int vhost_fd, int tap_fd);
/*
 * The same for every pair: vhost_fds[i] (its own /dev/vhost-net instance)
 * drives rings 2i/2i+1 with tap_fds[i] (a queue of a multiqueue tap) as
 * backend. fe_kernel_detach unplugs every pair's backend.
 */
int fe_kernel_attach_mq(struct fe *fe, const int *vhost_fds, const int *tap_fds);
void fe_kernel_detach(struct fe *fe);

/*
 * Places one frame (vnet NULL = a zero header) in the TX ring and kicks.
 * Alternate frames put the header in a descriptor of its own, chained to
 * the data, so devices walk both layouts. Waits up to 1 s for a free slot.
 */
int fe_send(struct fe *fe, const void *vnet, const void *frame, size_t len);
/* fe_send on the TX ring of queue pair `pair` (fe_send = pair 0). */
int fe_send_q(struct fe *fe, unsigned int pair, const void *vnet, const void *frame, size_t len);
/* Waits up to timeout_ms until the device gave back every chain of the pair's TX ring; -ETIMEDOUT. */
int fe_tx_wait(struct fe *fe, unsigned int pair, int timeout_ms);
/*
 * One frame from the RX ring within timeout_ms (0 = only what is there):
 * its length without the header (copied into buf up to cap, the header
 * into vnet if non-NULL), then the buffer is posted again. -ETIMEDOUT when
 * none came, -EPROTO when the device wrote nonsense in the used ring.
 */
int fe_recv(struct fe *fe, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR], int timeout_ms);
/* fe_recv from the RX ring of queue pair `pair` (fe_recv = pair 0). */
int fe_recv_q(struct fe *fe, unsigned int pair, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR],
	      int timeout_ms);
/* fe_recv from whichever RX ring has a frame first (pairs taken in turn); *pair (if non-NULL) says which. */
int fe_recv_any(struct fe *fe, void *buf, size_t cap, uint8_t vnet[FE_VNET_HDR], int timeout_ms,
		unsigned int *pair);
/* Frames that arrive within timeout_ms of each other, on any RX ring (then discarded). */
int fe_drain(struct fe *fe, int timeout_ms);

#endif /* XTAP_TESTS_VHOST_FRONTEND_H */
