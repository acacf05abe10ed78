// SPDX-License-Identifier: GPL-2.0
/* RARP announcements of a VM's MAC (announce.h), the frame QEMU's announce-self sends. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include "announce.h"

#define ETH_P_RARP_ 0x8035
#define RARP_REQUEST_REVERSE 3

int xtap_announce_rarp(int ifindex, __u16 vlan, const __u8 mac[6], struct xtap_err *err)
{
	__u8 f[64] = {}, *p = f;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = ETH_ALEN };
	__u16 v;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return xtap_fail(err, -errno, "announce: packet socket: %s", strerror(errno));
	memset(p, 0xFF, ETH_ALEN);
	memcpy(p + ETH_ALEN, mac, ETH_ALEN);
	p += 2 * ETH_ALEN;
	if (vlan) {
		v = htons(ETH_P_8021Q);
		memcpy(p, &v, 2);
		v = htons(vlan);
		memcpy(p + 2, &v, 2);
		p += 4;
	}
	v = htons(ETH_P_RARP_);
	memcpy(p, &v, 2);
	p += 2;
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4, op reverse request; sender = target = the MAC, IPs 0 */
	p[1] = 1;
	p[2] = 0x08;
	p[4] = ETH_ALEN;
	p[5] = 4;
	p[7] = RARP_REQUEST_REVERSE;
	memcpy(p + 8, mac, ETH_ALEN);
	memcpy(p + 18, mac, ETH_ALEN);
	memset(to.sll_addr, 0xFF, ETH_ALEN);
	/* padded to the 60-byte minimum (64 with a tag) */
	if (sendto(fd, f, vlan ? 64 : 60, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		ret = xtap_fail(err, -errno, "announce: sending a RARP on ifindex %d: %s", ifindex, strerror(errno));
	close(fd);
	return ret;
}
