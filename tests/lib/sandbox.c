// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "sandbox.h"

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -1;
	if (write(fd, value, strlen(value)) < 0)
		ret = -1;
	close(fd);
	return ret;
}

static int link_set_up(const char *name, uint16_t mtu)
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;

	if (s < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr))
			ret = -1;
	}
	if (!ret && ioctl(s, SIOCGIFFLAGS, &ifr))
		ret = -1;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr))
		ret = -1;
	close(s);
	return ret;
}

int sandbox_enter(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "sandbox: needs root (network namespaces, taps, BPF)\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		perror("sandbox: unshare");
		return -1;
	}
	/* sysfs shows the namespace it was mounted in: remount it for ours, then bpffs on it. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) ||
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		perror("sandbox: mounting a private sysfs and bpffs");
		return -1;
	}
	/* Autoconfiguration would put the host's own frames into the taps we read. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	return link_set_up("lo", 0);
}

int tap_open(struct test_tap *t, const char *name, uint16_t mtu)
{
	struct ifreq ifr = {};
	int hdr = 12;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) || ioctl(t->fd, TUNSETVNETHDRSZ, &hdr))
		goto err;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->ifindex = if_nametoindex(t->name);
	if (!t->ifindex || link_set_up(t->name, mtu))
		goto err;
	return 0;
err:
	close(t->fd);
	t->fd = -1;
	return -1;
}

void tap_close(struct test_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_read(struct test_tap *t, uint8_t *buf, size_t cap, uint8_t vnet[12])
{
	uint8_t hdr[12];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { buf, cap } };
	ssize_t n = readv(t->fd, iov, 2);

	if (n < (ssize_t)sizeof(hdr))
		return -1;
	if (vnet)
		memcpy(vnet, hdr, sizeof(hdr));
	return (int)(n - sizeof(hdr));
}

int tap_drain(struct test_tap *t)
{
	uint8_t buf[65536];
	int n = 0;

	while (tap_read(t, buf, sizeof(buf), NULL) >= 0)
		n++;
	return n;
}
