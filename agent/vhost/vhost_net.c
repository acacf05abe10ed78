// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel data plane: each queue pair is one /dev/vhost-net instance
 * owned by this process, given our mapping of the guest memory, the rings
 * at our addresses, the frontend's kick and call eventfds, and the pair's
 * tap queue as backend. Guest kicks then wake the vhost worker directly;
 * this process is never on the packet path. The model is the kernel's
 * tools/virtio/vhost_net_test.c; vhost-net's virtqueue 0 is RX and 1 is
 * TX, as virtio-net's rings 2i and 2i+1 are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "vhost_dev.h"

#define BIT(n) (1ULL << (n))
#define VHOST_NET_DEV "/dev/vhost-net"

/* Ring features vhost-net implements itself; passed to VHOST_SET_FEATURES. */
#define KERNEL_RING_FEATURES (BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
			      BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_F_VERSION_1) | \
			      BIT(VIRTIO_NET_F_MRG_RXBUF))
/*
 * Offloads the tap carries: it accepts the guest's partial checksums and
 * TSO frames as they are (virtio_net_hdr_to_skb), and hands the guest only
 * what the server enables with TUNSETOFFLOAD from the GUEST_* bits. No
 * UFO/USO: the test VM's 6.1 tun has no USO, and UFO is legacy.
 */
#define TAP_OFFLOAD_FEATURES (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
			      BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | \
			      BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_HOST_TSO4) | \
			      BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_ECN))

/* VHOST_GET_FEATURES of this kernel, read by probe(). */
static uint64_t kernel_features;

struct knet {
	int fd[XTAP_VHOST_MAX_PAIRS];
	unsigned int n;
};

static int open_vhost(struct xtap_err *err)
{
	int fd = open(VHOST_NET_DEV, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV || errno == ENXIO)
		return xtap_fail(err, -errno, VHOST_NET_DEV " missing (modprobe vhost_net, or use --data-plane userspace)");
	return xtap_fail(err, -errno, "opening " VHOST_NET_DEV " failed: %s", strerror(errno));
}

static int knet_probe(struct xtap_err *err)
{
	int fd = open_vhost(err), ret = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, VHOST_GET_FEATURES, &kernel_features))
		ret = xtap_fail(err, -errno, VHOST_NET_DEV ": VHOST_GET_FEATURES failed: %s", strerror(errno));
	close(fd);
	return ret;
}

static uint64_t knet_features(void)
{
	/*
	 * ANY_LAYOUT: vhost-net hands the tap the guest's buffers as an iovec,
	 * so headers may share or span descriptors. Bit 27 is also
	 * VHOST_NET_F_VIRTIO_NET_HDR for the kernel, which must never get it.
	 */
	return TAP_OFFLOAD_FEATURES | (kernel_features & (KERNEL_RING_FEATURES | BIT(VIRTIO_F_ANY_LAYOUT)));
}

static void knet_close(struct xtap_vhost_dev *d)
{
	struct knet *k = d->plane_priv;
	unsigned int i;

	if (!k)
		return;
	/* Closing the instance stops its worker and drops its backend; the tap stays. */
	for (i = 0; i < k->n; i++)
		close(k->fd[i]);
	free(k);
	d->plane_priv = NULL;
}

static int knet_open(struct xtap_vhost_dev *d, struct xtap_err *err)
{
	struct knet *k = calloc(1, sizeof(*k));
	int fd = 0;

	if (!k)
		return xtap_fail(err, -ENOMEM, "vhost-net: out of memory");
	d->plane_priv = k;
	for (k->n = 0; k->n < d->n_pairs; k->n++) {
		fd = open_vhost(err);
		if (fd < 0)
			break;
		k->fd[k->n] = fd;
		if (ioctl(fd, VHOST_SET_OWNER, NULL)) {
			fd = xtap_fail(err, -errno, "vhost-net pair %u: VHOST_SET_OWNER failed: %s",
				       k->n, strerror(errno));
			k->n++;
			break;
		}
	}
	if (k->n == d->n_pairs && fd >= 0)
		return 0;
	knet_close(d);
	return fd;
}

static int knet_set_features(struct xtap_vhost_dev *d, struct xtap_err *err)
{
	struct knet *k = d->plane_priv;
	/* Only the ring features: the offload bits are the tap's business, bit 30 is vhost-user's. */
	uint64_t f = d->features & KERNEL_RING_FEATURES;
	unsigned int i;

	for (i = 0; i < k->n; i++)
		if (ioctl(k->fd[i], VHOST_SET_FEATURES, &f))
			return xtap_fail(err, -errno, "vhost-net pair %u: VHOST_SET_FEATURES 0x%llx failed: %s",
					 i, (unsigned long long)f, strerror(errno));
	return 0;
}

static int knet_set_mem(struct xtap_vhost_dev *d, struct xtap_err *err)
{
	struct knet *k = d->plane_priv;
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[VHOST_USER_MAX_REGIONS];
	} t;
	unsigned int i;

	memset(&t, 0, sizeof(t));
	t.m.nregions = d->mem.n;
	/* Guest physical addresses (the descriptors') map to our mapping, which the worker reads. */
	for (i = 0; i < d->mem.n; i++) {
		t.r[i].guest_phys_addr = d->mem.r[i].gpa;
		t.r[i].memory_size = d->mem.r[i].size;
		t.r[i].userspace_addr = (uintptr_t)d->mem.r[i].host;
	}
	for (i = 0; i < k->n; i++)
		if (ioctl(k->fd[i], VHOST_SET_MEM_TABLE, &t.m))
			return xtap_fail(err, -errno, "vhost-net pair %u: VHOST_SET_MEM_TABLE (%u regions) failed: %s",
					 i, d->mem.n, strerror(errno));
	return 0;
}

static int ring_ioctl(int fd, unsigned long req, const char *name, unsigned int ring, void *arg,
		      struct xtap_err *err)
{
	if (!ioctl(fd, req, arg))
		return 0;
	return xtap_fail(err, -errno, "vhost-net ring %u: %s failed: %s", ring, name, strerror(errno));
}

static int knet_start(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err)
{
	struct knet *k = d->plane_priv;
	struct xtap_vring *v = &d->vring[i];
	unsigned int idx = i % 2;
	int fd = k->fd[i / 2], ret;
	struct vhost_vring_state num = { .index = idx, .num = v->num };
	struct vhost_vring_state base = { .index = idx, .num = v->last_avail };
	struct vhost_vring_addr addr = {
		.index = idx,
		.desc_user_addr = (uintptr_t)v->desc,
		.avail_user_addr = (uintptr_t)v->avail,
		.used_user_addr = (uintptr_t)v->used,
	};
	struct vhost_vring_file kick = { .index = idx, .fd = v->kick_fd };
	struct vhost_vring_file call = { .index = idx, .fd = v->call_fd };
	struct vhost_vring_file verr = { .index = idx, .fd = v->err_fd };
	struct vhost_vring_file backend = { .index = idx, .fd = d->tap_fd[i / 2] };

	if ((ret = ring_ioctl(fd, VHOST_SET_VRING_NUM, "VHOST_SET_VRING_NUM", i, &num, err)) ||
	    (ret = ring_ioctl(fd, VHOST_SET_VRING_BASE, "VHOST_SET_VRING_BASE", i, &base, err)) ||
	    (ret = ring_ioctl(fd, VHOST_SET_VRING_ADDR, "VHOST_SET_VRING_ADDR", i, &addr, err)) ||
	    (ret = ring_ioctl(fd, VHOST_SET_VRING_KICK, "VHOST_SET_VRING_KICK", i, &kick, err)) ||
	    (ret = ring_ioctl(fd, VHOST_SET_VRING_CALL, "VHOST_SET_VRING_CALL", i, &call, err)) ||
	    (ret = ring_ioctl(fd, VHOST_SET_VRING_ERR, "VHOST_SET_VRING_ERR", i, &verr, err)))
		return ret;
	/* Last: until the backend is set the ring is configured but inert. */
	return ring_ioctl(fd, VHOST_NET_SET_BACKEND, "VHOST_NET_SET_BACKEND", i, &backend, err);
}

static int knet_stop(struct xtap_vhost_dev *d, unsigned int i, struct xtap_err *err)
{
	struct knet *k = d->plane_priv;
	int fd = k->fd[i / 2], ret;
	struct vhost_vring_file backend = { .index = i % 2, .fd = -1 };
	struct vhost_vring_state base = { .index = i % 2 };

	/* Unplugging the backend makes the worker finish with the ring; then its index is final. */
	ret = ring_ioctl(fd, VHOST_NET_SET_BACKEND, "VHOST_NET_SET_BACKEND -1", i, &backend, err);
	if (ret)
		return ret;
	ret = ring_ioctl(fd, VHOST_GET_VRING_BASE, "VHOST_GET_VRING_BASE", i, &base, err);
	if (ret)
		return ret;
	d->vring[i].last_avail = (uint16_t)base.num;
	return 0;
}

const struct xtap_vhost_plane xtap_vhost_plane_kernel = {
	.name = "vhost-net",
	.probe = knet_probe,
	.features = knet_features,
	.open = knet_open,
	.set_features = knet_set_features,
	.set_mem = knet_set_mem,
	.start = knet_start,
	.stop = knet_stop,
	.close = knet_close,
};
