// SPDX-License-Identifier: GPL-2.0
/*
 * xtap-vmsim: plays a VM on an existing tap, the way a VMM's virtio-net
 * backend does: it attaches to the persistent tap xtapd created (non-blocking,
 * 12-byte virtio_net_hdr_v1 in front of every frame) and writes what the
 * guest would send, or reads what the guest would be given. With
 * --vhost-user SOCKET it is instead a VMM whose virtio-net device is served
 * by the port's xtap-vhost (tools/vmsim_vhost.c): same frames, same output.
 *
 *   xtap-vmsim send --tap NAME|--vhost-user SOCKET --src-mac M --dst-mac M --src-ip A --dst-ip A ...
 *   xtap-vmsim recv --tap NAME|--vhost-user SOCKET [--duration SECONDS] [--expect-src-mac M]
 *
 * Exit codes: 0 done, 1 a runtime failure (tap or socket missing, busy, write failed),
 * 2 bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "pktbuild.h"

#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define RECV_BUF (65536 + VNET_HDR_LEN)

static int json_out;

/* vmsim_vhost.c: the VM over vhost-user, with the tests' virtio driver (tests/vhost/frontend.c). */
struct vmsim_vu;
struct vmsim_vu *vmsim_vu_open(const char *path, uint64_t extra_features);
void vmsim_vu_send(struct vmsim_vu *vu, const void *vnet, const void *frame, size_t len);
size_t vmsim_vu_recv(struct vmsim_vu *vu, uint8_t *buf, size_t cap, int timeout_ms);
size_t vmsim_vu_max_frame(void);
uint64_t vmsim_vu_close(struct vmsim_vu *vu);

void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("xtap-vmsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static const char usage_text[] =
	"usage: xtap-vmsim send|recv --tap NAME|--vhost-user SOCKET [options]   (each takes --help)\n"
	"Plays a VM on a tap created by xtapd (xtapctl port add NAME ...): writes the\n"
	"frames its guest would send, or reads the frames its guest would be given.\n"
	"With --vhost-user it attaches as a VMM to the port's vhost-user socket instead\n"
	"(xtapctl -j port show NAME: .status.vhost_user.socket) and moves the frames\n"
	"through virtqueues in shared memory, served by the port's xtap-vhost.\n";

static const char send_help[] =
	"usage: xtap-vmsim send --tap NAME|--vhost-user SOCKET --src-mac MAC --dst-mac MAC --src-ip A --dst-ip A [options]\n"
	"Writes frames into tap NAME as its VM would (virtio-net header + Ethernet frame).\n"
	"Addresses are IPv4 or IPv6 (both the same family).\n"
	"  --vhost-user SOCKET    instead of a tap: connect to the port's vhost-user socket as a\n"
	"                         VMM and place the frames in the guest's TX virtqueue; the port's\n"
	"                         xtap-vhost moves them to the tap (ends when it has taken them all)\n"
	"  --proto udp|tcp|icmp   L4 protocol (default udp; icmp = echo request / ICMPv6 echo)\n"
	"  --sport N, --dport N   UDP/TCP ports (default 40000 -> 5001)\n"
	"  --size BYTES           Ethernet frame length, headers included, no FCS (default 1000,\n"
	"                         60 for ARP; at least the headers, at most the tap's MTU + 14;\n"
	"                         1514 with --vhost-user: the device offers no VIRTIO_NET_F_MTU)\n"
	"  --count N              frames to send (default 1, or unlimited with --duration)\n"
	"  --duration SECONDS     send for this long (stops at --count too, if given)\n"
	"  --pps N                frames per second (default 0 = as fast as possible)\n"
	"  --partial-csum         leave the UDP/TCP checksum as the pseudo-header sum and set\n"
	"                         VIRTIO_NET_HDR_F_NEEDS_CSUM, as a guest with checksum offload\n"
	"                         (with --vhost-user: negotiates VIRTIO_NET_F_CSUM)\n"
	"  --spoof-src-ip A       put A in the source address instead of --src-ip (which then\n"
	"                         becomes optional): a VM lying about its address\n"
	"  --arp                  send ARP replies (sender --src-mac/--src-ip, target\n"
	"                         --dst-mac/--dst-ip) instead of IP frames\n"
	"  --arp-spoof            ARP replies whose sender IP is --spoof-src-ip (required):\n"
	"                         a VM claiming an address that is not its own\n"
	"  --json                 print the result as a JSON object\n"
	"Prints: sent N frames, B bytes in S s   (B counts Ethernet bytes, not the vnet header)\n";

static const char recv_help[] =
	"usage: xtap-vmsim recv --tap NAME|--fd N|--vhost-user SOCKET [--duration SECONDS] [--expect-src-mac MAC]\n"
	"                       [--csum-offload] [--json]\n"
	"Reads the frames tap NAME delivers to its VM for SECONDS (default 1) and counts them.\n"
	"  --fd N                 read a queue fd handed over by xtapd (xtapctl port exec)\n"
	"  --vhost-user SOCKET    connect to the port's vhost-user socket as a VMM and take the\n"
	"                         frames xtap-vhost puts in the guest's RX virtqueue\n"
	"  --duration SECONDS     how long to listen (default 1)\n"
	"  --expect-src-mac MAC   count only frames from MAC (others, e.g. the host's own\n"
	"                         neighbour discovery, are reported as ignored)\n"
	"  --csum-offload         accept partial checksums, as a Linux guest that negotiated\n"
	"                         VIRTIO_NET_F_GUEST_CSUM (TUNSETOFFLOAD TUN_F_CSUM; the setting\n"
	"                         stays on the tap; with --vhost-user: negotiates\n"
	"                         VIRTIO_NET_F_GUEST_CSUM); without it the kernel completes them\n"
	"  --json                 print the result as a JSON object\n"
	"Prints: received N frames, B bytes, R bits/s, C bad checksums\n"
	"  R is measured from the first frame's arrival to the last one's (0 below 2 frames).\n"
	"  C counts TCP/UDP/ICMP/ICMPv6 frames whose checksum does not verify; frames delivered\n"
	"  with VIRTIO_NET_HDR_F_NEEDS_CSUM are fine (the guest's NIC would complete them).\n";

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* ---- argument parsing: every check ends in one clear line ---- */

static void parse_mac(uint8_t out[6], const char *s, const char *opt)
{
	int end = 0;

	if (sscanf(s, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n", &out[0], &out[1], &out[2], &out[3],
		   &out[4], &out[5], &end) != 6 || s[end])
		die(EXIT_USAGE, "%s \"%s\" is not a MAC address (like 02:00:00:00:00:01)", opt, s);
}

struct ipaddr {
	int family; /* AF_INET or AF_INET6; 0 = not given */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

static void parse_ip(struct ipaddr *a, const char *s, const char *opt)
{
	if (inet_pton(AF_INET, s, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a->v6) == 1)
		a->family = AF_INET6;
	else
		die(EXIT_USAGE, "%s \"%s\" is not an IPv4 or IPv6 address", opt, s);
}

static uint64_t parse_u64(const char *s, const char *opt, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		die(EXIT_USAGE, "%s \"%s\" must be an integer from %" PRIu64 " to %" PRIu64, opt, s, min,
		    max);
	return v;
}

static double parse_seconds(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 86400)
		die(EXIT_USAGE, "%s \"%s\" must be a number of seconds above 0 (at most 86400)", opt, s);
	return v;
}

/* ---- the tap ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int tap_mtu(const char *name)
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), mtu = 1500;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (s >= 0 && !ioctl(s, SIOCGIFMTU, &ifr))
		mtu = ifr.ifr_mtu;
	if (s >= 0)
		close(s);
	return mtu;
}

/*
 * Attaches to the existing tap NAME as its VMM would. Never creates one:
 * TUNSETIFF on a missing name would make a new, unmanaged tap.
 */
static int tap_attach(const char *name)
{
	struct ifreq ifr = {};
	int fd, hdr = VNET_HDR_LEN, err;

	if (strlen(name) >= IFNAMSIZ)
		die(EXIT_USAGE, "tap name \"%s\" is longer than %d characters", name, IFNAMSIZ - 1);
	if (!if_nametoindex(name))
		die(EXIT_FAIL, "tap %s does not exist (xtapctl port add %s --segment ID --mac MAC ...); "
			       "in a network namespace? run me with ip netns exec NS",
		    name, name);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die(EXIT_FAIL, "opening /dev/net/tun: %s%s", strerror(errno),
		    errno == EACCES || errno == EPERM ? " (run as root or as the tap's owner)" : "");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		err = errno;
		/* A multiqueue tap takes only IFF_MULTI_QUEUE attachments (one per queue). */
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (err != EINVAL || ioctl(fd, TUNSETIFF, &ifr)) {
			close(fd);
			if (err == EBUSY)
				die(EXIT_FAIL, "tap %s is already open by another process (a VMM or another xtap-vmsim?)",
				    name);
			if (err == EINVAL)
				die(EXIT_FAIL, "%s is not a tap (not created by xtapd?)", name);
			if (err == EPERM)
				die(EXIT_FAIL, "tap %s: not permitted (run as root or as the tap's owner)", name);
			die(EXIT_FAIL, "attaching to tap %s: %s", name, strerror(err));
		}
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr))
		die(EXIT_FAIL, "tap %s: setting a %d-byte vnet header: %s", name, hdr, strerror(errno));
	return fd;
}

/* ---- send ---- */

struct send_opts {
	const char *tap, *vhost_user;
	uint8_t src_mac[6], dst_mac[6];
	bool have_src_mac, have_dst_mac;
	struct ipaddr src_ip, dst_ip, spoof_ip;
	uint8_t proto;
	uint16_t sport, dport;
	uint64_t size, count, pps;
	double duration;
	bool have_count, partial_csum, arp, arp_spoof;
};

static size_t build_frame(const struct send_opts *o, struct pkt *p, size_t *l4_off)
{
	const struct ipaddr *src = o->spoof_ip.family ? &o->spoof_ip : &o->src_ip;
	bool v6 = o->dst_ip.family == AF_INET6;
	size_t hdrs;

	pkt_init(p);
	if (o->arp || o->arp_spoof) {
		pkt_eth(p, o->dst_mac, o->src_mac, ETH_P_ARP);
		pkt_arp(p, 2 /* ARPOP_REPLY */, o->src_mac, src->v4.s_addr, o->dst_mac, o->dst_ip.v4.s_addr);
		if (o->size > p->len)
			pkt_payload(p, o->size - p->len); /* Ethernet padding */
		*l4_off = 0;
		return p->len;
	}
	hdrs = ETH_HLEN + (v6 ? 40 : 20) +
	       (o->proto == IPPROTO_TCP ? 20 : o->proto == IPPROTO_UDP ? 8 : v6 ? 8 : 8);
	if (o->size < hdrs)
		die(EXIT_USAGE, "--size %" PRIu64 " is below the %zu bytes of headers", o->size, hdrs);
	pkt_eth(p, o->dst_mac, o->src_mac, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		uint8_t nh = o->proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : o->proto;

		pkt_ipv6(p, &src->v6, &o->dst_ip.v6, nh);
	} else {
		pkt_ipv4(p, src->v4.s_addr, o->dst_ip.v4.s_addr, o->proto);
	}
	switch (o->proto) {
	case IPPROTO_UDP: pkt_udp(p, o->sport, o->dport, o->size - hdrs); break;
	case IPPROTO_TCP: pkt_tcp(p, o->sport, o->dport, PKT_TCP_ACK | PKT_TCP_PSH, o->size - hdrs); break;
	default:
		if (v6)
			pkt_icmp6(p, 128 /* echo request */, 0, 4 + (o->size - hdrs));
		else
			pkt_icmp_echo(p, 8, 0x7874 /* "xt" */, 1, o->size - hdrs);
	}
	*l4_off = p->l4_off;
	pkt_finish(p);
	if (o->partial_csum)
		pkt_set_partial_csum(p);
	return p->len;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tap", required_argument, NULL, 't' },       { "src-mac", required_argument, NULL, 'm' },
		{ "dst-mac", required_argument, NULL, 'M' },   { "src-ip", required_argument, NULL, 'i' },
		{ "dst-ip", required_argument, NULL, 'I' },    { "proto", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 's' },     { "dport", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 'z' },      { "count", required_argument, NULL, 'c' },
		{ "pps", required_argument, NULL, 'r' },       { "duration", required_argument, NULL, 'D' },
		{ "partial-csum", no_argument, NULL, 'P' },    { "spoof-src-ip", required_argument, NULL, 'S' },
		{ "arp", no_argument, NULL, 'a' },             { "arp-spoof", no_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },            { "vhost-user", required_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts o = { .proto = IPPROTO_UDP, .sport = 40000, .dport = 5001, .size = 1000 };
	struct virtio_net_hdr_v1 vh = {};
	struct pkt *p = calloc(1, sizeof(*p));
	uint64_t sent = 0, bytes = 0;
	double start, elapsed, deadline, last_progress;
	size_t len, l4_off, max_len;
	bool have_size = false;
	struct vmsim_vu *vu = NULL;
	int c, fd = -1;

	if (want_help(argc, argv)) {
		fputs(send_help, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': o.tap = optarg; break;
		case 'U': o.vhost_user = optarg; break;
		case 'm': parse_mac(o.src_mac, optarg, "--src-mac"); o.have_src_mac = true; break;
		case 'M': parse_mac(o.dst_mac, optarg, "--dst-mac"); o.have_dst_mac = true; break;
		case 'i': parse_ip(&o.src_ip, optarg, "--src-ip"); break;
		case 'I': parse_ip(&o.dst_ip, optarg, "--dst-ip"); break;
		case 'S': parse_ip(&o.spoof_ip, optarg, "--spoof-src-ip"); break;
		case 'p':
			if (!strcmp(optarg, "udp"))
				o.proto = IPPROTO_UDP;
			else if (!strcmp(optarg, "tcp"))
				o.proto = IPPROTO_TCP;
			else if (!strcmp(optarg, "icmp") || !strcmp(optarg, "icmpv6"))
				o.proto = IPPROTO_ICMP;
			else
				die(EXIT_USAGE, "--proto \"%s\": use udp, tcp or icmp", optarg);
			break;
		case 's': o.sport = parse_u64(optarg, "--sport", 0, 65535); break;
		case 'd': o.dport = parse_u64(optarg, "--dport", 0, 65535); break;
		case 'z': o.size = parse_u64(optarg, "--size", 1, PKT_MAX); have_size = true; break;
		case 'c': o.count = parse_u64(optarg, "--count", 1, UINT64_MAX); o.have_count = true; break;
		case 'r': o.pps = parse_u64(optarg, "--pps", 0, 100000000); break;
		case 'D': o.duration = parse_seconds(optarg, "--duration"); break;
		case 'P': o.partial_csum = true; break;
		case 'a': o.arp = true; break;
		case 'A': o.arp_spoof = true; break;
		case 'j': json_out = 1; break;
		case '?':
			die(EXIT_USAGE, "send: unknown option or missing value: %s (see xtap-vmsim send --help)",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		die(EXIT_USAGE, "send: unexpected argument \"%s\" (see xtap-vmsim send --help)", argv[optind]);
	if (!o.tap == !o.vhost_user)
		die(EXIT_USAGE, "send: give one of --tap NAME and --vhost-user SOCKET");
	if (!o.have_src_mac || !o.have_dst_mac)
		die(EXIT_USAGE, "send: --src-mac and --dst-mac are required");
	if (!o.dst_ip.family)
		die(EXIT_USAGE, "send: --dst-ip is required");
	if (!o.src_ip.family && !o.spoof_ip.family)
		die(EXIT_USAGE, "send: --src-ip (or --spoof-src-ip) is required");
	if ((o.src_ip.family && o.src_ip.family != o.dst_ip.family) ||
	    (o.spoof_ip.family && o.spoof_ip.family != o.dst_ip.family))
		die(EXIT_USAGE, "send: source and destination addresses must both be IPv4 or both IPv6");
	if (o.arp && o.arp_spoof)
		die(EXIT_USAGE, "send: --arp and --arp-spoof exclude each other");
	if (o.arp_spoof && !o.spoof_ip.family)
		die(EXIT_USAGE, "send: --arp-spoof needs --spoof-src-ip A, the address the VM falsely claims");
	if ((o.arp || o.arp_spoof) && o.dst_ip.family != AF_INET)
		die(EXIT_USAGE, "send: ARP is IPv4 only (IPv6 uses neighbour discovery)");
	if (o.partial_csum && (o.arp || o.arp_spoof || o.proto == IPPROTO_ICMP))
		die(EXIT_USAGE, "send: --partial-csum applies to udp and tcp only");
	if (!o.have_count && !o.duration) {
		o.count = 1;
		o.have_count = true;
	}
	if ((o.arp || o.arp_spoof) && !have_size)
		o.size = 60; /* the shortest Ethernet frame */

	len = build_frame(&o, p, &l4_off);
	if (o.vhost_user) {
		/* No VIRTIO_NET_F_MTU: the guest's MTU is the default 1500. */
		max_len = 1500 + ETH_HLEN;
		if (max_len > vmsim_vu_max_frame())
			max_len = vmsim_vu_max_frame();
		if (len > max_len)
			die(EXIT_USAGE, "--size %zu is above %zu with --vhost-user (MTU 1500: the device offers "
					"no VIRTIO_NET_F_MTU); the guest would need GSO for that", len, max_len);
		vu = vmsim_vu_open(o.vhost_user, o.partial_csum ? 1ull << VIRTIO_NET_F_CSUM : 0);
	} else {
		fd = tap_attach(o.tap);
		max_len = (size_t)tap_mtu(o.tap) + ETH_HLEN;
		if (len > max_len)
			die(EXIT_USAGE, "--size %zu is above tap %s's MTU + 14 (%zu); the guest would need GSO for that",
			    len, o.tap, max_len);
	}
	if (o.partial_csum) {
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = htole16((uint16_t)l4_off);
		vh.csum_offset = htole16(o.proto == IPPROTO_TCP ? 16 : 6);
	}
	vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;

	signal(SIGPIPE, SIG_IGN);
	start = now_s();
	deadline = o.duration ? start + o.duration : 0;
	last_progress = start;
	while (!o.have_count || sent < o.count) {
		struct iovec iov[2] = { { &vh, VNET_HDR_LEN }, { p->data, len } };
		double now = now_s();
		ssize_t n;

		if (deadline && now >= deadline)
			break;
		if (o.pps) {
			/* Absolute schedule: frame i leaves at start + i/pps, so sleeps never drift. */
			double due = start + (double)sent / o.pps;

			if (deadline && due >= deadline)
				break;
			if (due > now) {
				struct timespec ts;
				double d = due - now;

				ts.tv_sec = (time_t)d;
				ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
				nanosleep(&ts, NULL);
			}
		}
		if (vu) {
			vmsim_vu_send(vu, &vh, p->data, len); /* dies when the ring stays full for 1 s */
			n = VNET_HDR_LEN + len;
		} else {
			n = writev(fd, iov, 2);
		}
		if (n < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) {
				if (now - last_progress > 5)
					die(EXIT_FAIL, "tap %s has accepted no frame for 5 s (%s)", o.tap,
					    strerror(errno));
				poll(&pfd, 1, 10);
				continue;
			}
			if (errno == EIO)
				die(EXIT_FAIL, "writing to tap %s: %s (is the tap up? ip link set %s up)", o.tap,
				    strerror(errno), o.tap);
			die(EXIT_FAIL, "writing to tap %s after %" PRIu64 " frames: %s", o.tap, sent,
			    strerror(errno));
		}
		sent++;
		bytes += len;
		last_progress = now;
	}
	if (vu) {
		/* Sent = taken by xtap-vhost: wait for it, as a guest's driver reclaims its buffers. */
		uint64_t left = vmsim_vu_close(vu);

		if (left)
			die(EXIT_FAIL, "vhost-user %s: xtap-vhost took only %" PRIu64 " of the %" PRIu64
				       " frames within 2 s", o.vhost_user, sent - left, sent);
	}
	elapsed = now_s() - start;
	if (fd >= 0)
		close(fd);
	if (json_out)
		printf("{\"%s\": \"%s\", \"frames\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"seconds\": %.3f, \"frame_bytes\": %zu, \"bits_per_sec\": %.0f}\n",
		       o.vhost_user ? "vhost_user" : "tap", o.vhost_user ? o.vhost_user : o.tap, sent, bytes, elapsed, len,
		       elapsed > 0 ? bytes * 8 / elapsed : 0.0);
	else
		printf("sent %" PRIu64 " frames, %" PRIu64 " bytes in %.3f s\n", sent, bytes, elapsed);
	free(p);
	return 0;
}

/* ---- recv ---- */

/* True when the frame carries a TCP/UDP/ICMP/ICMPv6 checksum we can check. */
static bool has_l4_csum(const uint8_t *f, size_t len)
{
	size_t off = ETH_HLEN;
	uint16_t type;
	uint8_t proto;

	if (len < ETH_HLEN)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_8021Q) {
		if (len < ETH_HLEN + 4)
			return false;
		type = (uint16_t)(f[16] << 8 | f[17]);
		off += 4;
	}
	if (type == ETH_P_IP) {
		if (len < off + 20 || (f[off + 6] & 0x3f) || f[off + 7]) /* MF or an offset: fragment */
			return false;
		proto = f[off + 9];
		return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMP;
	}
	if (type != ETH_P_IPV6 || len < off + 40)
		return false;
	proto = f[off + 6];
	off += 40;
	while (proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_DSTOPTS ||
	       proto == IPPROTO_AH) {
		if (len < off + 8)
			return false;
		size_t hlen = proto == IPPROTO_AH ? (f[off + 1] + 2u) * 4 : (f[off + 1] + 1u) * 8;

		proto = f[off];
		off += hlen;
	}
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMPV6;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct recv_count {
	const uint8_t *expect; /* NULL = count every frame */
	uint64_t frames, bytes, bad, partial, other, first_len;
	double first, last;
};

/* One frame as a tap read gives it (virtio-net header, then the frame) into the counts. */
static void recv_count(struct recv_count *rc, const uint8_t *buf, size_t n)
{
	const struct virtio_net_hdr_v1 *vh = (const void *)buf;
	const uint8_t *f = buf + VNET_HDR_LEN;
	size_t flen;
	double now;

	if (n < VNET_HDR_LEN + ETH_HLEN)
		return;
	flen = n - VNET_HDR_LEN;
	if (rc->expect && memcmp(f + 6, rc->expect, 6)) {
		rc->other++;
		return;
	}
	now = now_s();
	if (!rc->frames) {
		rc->first = now;
		rc->first_len = flen;
	}
	rc->last = now;
	rc->frames++;
	rc->bytes += flen;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		rc->partial++;
	else if (has_l4_csum(f, flen) && !pkt_l4_csum_ok(f, flen))
		rc->bad++;
}

static int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tap", required_argument, NULL, 't' },     { "duration", required_argument, NULL, 'D' },
		{ "expect-src-mac", required_argument, NULL, 'e' }, { "json", no_argument, NULL, 'j' },
		{ "csum-offload", no_argument, NULL, 'o' }, { "fd", required_argument, NULL, 'F' },
		{ "vhost-user", required_argument, NULL, 'U' }, { NULL, 0, NULL, 0 },
	};
	struct recv_count rc = {};
	int inherited_fd = -1;
	double duration = 1, start, end, bps = 0;
	uint8_t *buf = malloc(RECV_BUF), expect[6];
	const char *tap = NULL, *vhost_user = NULL;
	bool have_expect = false, offload = false;
	struct sigaction sa = { .sa_handler = on_signal };
	struct vmsim_vu *vu = NULL;
	int c, fd = -1;

	if (want_help(argc, argv)) {
		fputs(recv_help, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': tap = optarg; break;
		case 'D': duration = parse_seconds(optarg, "--duration"); break;
		case 'e': parse_mac(expect, optarg, "--expect-src-mac"); have_expect = true; break;
		case 'j': json_out = 1; break;
		case 'o': offload = true; break;
		case 'F': inherited_fd = (int)parse_u64(optarg, "--fd", 0, 65535); tap = "(handed-over fd)"; break;
		case 'U': vhost_user = optarg; break;
		case '?':
			die(EXIT_USAGE, "recv: unknown option or missing value: %s (see xtap-vmsim recv --help)",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		die(EXIT_USAGE, "recv: unexpected argument \"%s\" (see xtap-vmsim recv --help)", argv[optind]);
	if (!tap == !vhost_user)
		die(EXIT_USAGE, "recv: give one of --tap NAME, --fd N and --vhost-user SOCKET");
	if (!buf)
		die(EXIT_FAIL, "out of memory");
	if (have_expect)
		rc.expect = expect;
	if (vhost_user) {
		/* GUEST_CSUM: xtap-vhost then turns on TUN_F_CSUM on the tap itself. */
		vu = vmsim_vu_open(vhost_user, offload ? 1ull << VIRTIO_NET_F_GUEST_CSUM : 0);
	} else {
		/* A queue fd handed over by xtapd (xtapctl port exec), as a VMM gets it. */
		fd = inherited_fd >= 0 ? inherited_fd : tap_attach(tap);
		if (offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM))
			die(EXIT_FAIL, "tap %s: enabling checksum offload: %s", tap, strerror(errno));
	}
	/* SIGINT/SIGTERM end the listening early; the counts are still printed. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	start = now_s();
	end = start + duration;
	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double now = now_s();
		int r;

		if (now >= end)
			break;
		if (vu) {
			/* Slices of 100 ms at most, so that SIGINT/SIGTERM end it soon. */
			int ms = (int)((end - now) * 1000) + 1;
			size_t n = vmsim_vu_recv(vu, buf, RECV_BUF, ms > 100 ? 100 : ms);

			if (n)
				recv_count(&rc, buf, n);
			continue;
		}
		r = poll(&pfd, 1, (int)((end - now) * 1000) + 1);
		if (r < 0 && errno != EINTR)
			die(EXIT_FAIL, "poll on tap %s: %s", tap, strerror(errno));
		if (r <= 0)
			continue;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			die(EXIT_FAIL, "tap %s went away while reading (port deleted?)", tap);
		/* Drain everything that waits; a VMM's RX loop does the same. */
		for (;;) {
			ssize_t n = read(fd, buf, RECV_BUF);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				die(EXIT_FAIL, "reading tap %s: %s", tap, strerror(errno));
			}
			recv_count(&rc, buf, (size_t)n);
		}
	}
	if (vu)
		vmsim_vu_close(vu);
	else
		close(fd);
	/* The first frame opens the interval; its bytes arrived before it. */
	if (rc.frames >= 2 && rc.last > rc.first)
		bps = (double)(rc.bytes - rc.first_len) * 8 / (rc.last - rc.first);
	if (json_out) {
		printf("{\"%s\": \"%s\", \"frames\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"bits_per_sec\": %.0f, \"bad_checksums\": %" PRIu64
		       ", \"needs_csum_frames\": %" PRIu64 ", \"ignored_other_src_mac\": %" PRIu64
		       ", \"active_seconds\": %.3f, \"listened_seconds\": %.3f}\n",
		       vhost_user ? "vhost_user" : "tap", vhost_user ? vhost_user : tap, rc.frames, rc.bytes, bps,
		       rc.bad, rc.partial, rc.other, rc.frames ? rc.last - rc.first : 0.0, now_s() - start);
	} else {
		printf("received %" PRIu64 " frames, %" PRIu64 " bytes, %.0f bits/s, %" PRIu64
		       " bad checksums\n", rc.frames, rc.bytes, bps, rc.bad);
		if (rc.other)
			printf("ignored %" PRIu64 " frames from other source MACs\n", rc.other);
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		fputs("\n", stdout);
		fputs(send_help, stdout);
		fputs("\n", stdout);
		fputs(recv_help, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return cmd_recv(argc - 1, argv + 1);
	fprintf(stderr, "xtap-vmsim: unknown command \"%s\"\n", argv[1]);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}
