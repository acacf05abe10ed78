// SPDX-License-Identifier: GPL-2.0
/* What the datapath benchmarks share (bench_net.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_env.h"
#include "bench_net.h"
#include "bench_util.h"

/* What QEMU asks of a tap for a virtio-net guest with default offloads (xtapd does the same). */
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

struct pkt *bench_frame(const char *src_mac, const char *src_ip, int size)
{
	struct pkt *p = calloc(1, sizeof(*p));
	uint8_t dst[6], src[6];

	if (!p)
		die("out of memory");
	pkt_mac(dst, BENCH_MAC_B);
	pkt_mac(src, src_mac);
	pkt_init(p);
	pkt_eth(p, dst, src, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4(src_ip), pkt_ip4(BENCH_IP_B), IPPROTO_UDP);
	pkt_udp(p, 1000, 2000, size - 42);
	pkt_finish(p);
	if ((int)p->len != size || !pkt_l4_csum_ok(p->data, p->len) || !pkt_ip4_hdr_csum_ok(p->data, p->len))
		die("frame of %d bytes came out wrong", size);
	return p;
}

struct test_tap bench_tap(const char *name)
{
	struct test_tap t;

	if (tap_open(&t, name, 1500))
		die("tap %s: %s", name, strerror(errno));
	if (ioctl(t.fd, TUNSETOFFLOAD, (unsigned long)TAP_OFFLOADS))
		die("tap %s: TUNSETOFFLOAD: %s", name, strerror(errno));
	return t;
}

int bench_xtap_tap(const char *name)
{
	struct vm v = { .name = name };

	if (vm_open(&v))
		die("opening xtap's tap %s: %s", name, strerror(errno));
	return v.fd;
}

void bench_xtapd_start(void)
{
	FILE *f;

	mkdir("/run/xtap-test", 0700);
	if (mount("tmpfs", "/run/xtap-test", "tmpfs", 0, "mode=0700"))
		die("tmpfs on /run/xtap-test: %s", strerror(errno));
	mkdir(ENV_PINS, 0700);
	f = fopen("/run/xtap-test/xtapd.json", "w");
	if (!f || fputs("{}\n", f) < 0 || fclose(f))
		die("/run/xtap-test/xtapd.json: %s", strerror(errno));
	if (env_agent_spawn() <= 0 || env_agent_wait_ready() <= 0)
		die("xtapd did not start (log: %s)", ENV_LOG);
}

int64_t bench_xtap_ports(int uplink)
{
	json_object *r;
	int64_t id;
	int i;

	/* The uplink exists before the segment names it. */
	if (uplink) {
		sh("ip link add uplink0 type veth peer name out0 && ip link set uplink0 up && ip link set out0 up");
		xctl("segment add 1 --uplink uplink0");
	} else {
		xctl("segment add 1");
	}
	xctl("port add vma --segment 1 --mac " BENCH_MAC_A " --addr " BENCH_IP_A "/32");
	xctl("port add vmb --segment 1 --mac " BENCH_MAC_B " --addr " BENCH_IP_B "/32");
	for (i = 0; i < 64; i++)
		xctl("acl add vma from-vm deny --proto tcp --cidr 198.18.%d.0/24 --priority %d", i, 100 + i);
	r = ctl_json("acl add vma from-vm allow --priority 2000");
	id = json_object_get_int64(json_object_object_get(r, "id"));
	json_object_put(r);
	xctl("acl default vma from-vm deny");
	xctl("rate set vma from-vm --rate 100g --pps 100m");
	return id;
}

const char *bench_ebtables(void)
{
	if (!system("command -v ebtables-nft >/dev/null 2>&1"))
		return "ebtables-nft";
	if (system("command -v ebtables >/dev/null 2>&1"))
		die("no ebtables command (Debian: apt-get install iptables, which brings ebtables-nft)");
	return "ebtables";
}

void bench_ebtables_clean_traffic(const char *ebt, const char *port, const char *mac, const char *ip)
{
	sh("%s -t nat -N I-%s -P RETURN", ebt, port);
	sh("%s -t nat -A PREROUTING -i %s -j I-%s", ebt, port, port);
	sh("%s -t nat -A I-%s -s ! %s -j DROP", ebt, port, mac);
	sh("%s -t nat -A I-%s -p IPv4 --ip-src ! %s -j DROP", ebt, port, ip);
	sh("%s -t nat -A I-%s -p ARP --arp-mac-src ! %s -j DROP", ebt, port, mac);
	sh("%s -t nat -A I-%s -p ARP --arp-ip-src ! %s -j DROP", ebt, port, ip);
	sh("%s -t nat -A I-%s -p IPv4 -j ACCEPT", ebt, port);
	sh("%s -t nat -A I-%s -p ARP -j ACCEPT", ebt, port);
	sh("%s -t nat -A I-%s -j DROP", ebt, port);
}

void bench_nft_clean_traffic(const char *port, const char *mac, const char *ip)
{
	/* ebtables' nat PREROUTING hooks at priority -300 (NF_BR_PRI_NAT_DST_BRIDGED): the same place. */
	sh("nft add table bridge xtapbench");
	sh("nft add chain bridge xtapbench prerouting '{ type filter hook prerouting priority -300; policy accept; }'");
	sh("nft add chain bridge xtapbench i_%s", port);
	sh("nft add rule bridge xtapbench prerouting iifname %s jump i_%s", port, port);
	sh("nft add rule bridge xtapbench i_%s ether saddr != %s drop", port, mac);
	sh("nft add rule bridge xtapbench i_%s ether type ip ip saddr != %s drop", port, ip);
	sh("nft add rule bridge xtapbench i_%s ether type arp arp saddr ether != %s drop", port, mac);
	sh("nft add rule bridge xtapbench i_%s ether type arp arp saddr ip != %s drop", port, ip);
	sh("nft add rule bridge xtapbench i_%s ether type ip counter accept", port);
	sh("nft add rule bridge xtapbench i_%s ether type arp accept", port);
	sh("nft add rule bridge xtapbench i_%s drop", port);
}

void bench_htb(const char *dev, const char *rate)
{
	sh("tc qdisc add dev %s root handle 1: htb default 10", dev);
	sh("tc class add dev %s parent 1: classid 1:10 htb rate %s ceil %s burst 1m cburst 1m quantum 60000",
	   dev, rate, rate);
}

/* Bridge br with a and b up; nobody on B ever sends, so the bridge cannot learn it: a static entry, as for a known VM. */
static void classic_bridge(const char *br, struct test_tap *a, const char *a_name, struct test_tap *b,
			   const char *b_name)
{
	sh("ip link add %s type bridge", br);
	*a = bench_tap(a_name);
	*b = bench_tap(b_name);
	sh("ip link set %s master %s && ip link set %s master %s && ip link set %s up", a_name, br, b_name, br, br);
	sh("bridge fdb add " BENCH_MAC_B " dev %s master static", b_name);
}

void bench_classic_ebtables(const char *ebt, const char *br, struct test_tap *a, const char *a_name,
			    struct test_tap *b, const char *b_name, const char *htb_rate)
{
	classic_bridge(br, a, a_name, b, b_name);
	bench_ebtables_clean_traffic(ebt, a_name, BENCH_MAC_A, BENCH_IP_A);
	bench_htb(b_name, htb_rate);
}

int bench_classic_nft(const char *br, struct test_tap *a, const char *a_name, struct test_tap *b,
		      const char *b_name, const char *htb_rate)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns;

	if (home < 0 || unshare(CLONE_NEWNET))
		die("a network namespace for the nftables peer: %s", strerror(errno));
	ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		die("/proc/self/ns/net: %s", strerror(errno));
	sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
	sh("ip link set lo up");
	classic_bridge(br, a, a_name, b, b_name);
	bench_nft_clean_traffic(a_name, BENCH_MAC_A, BENCH_IP_A);
	bench_htb(b_name, htb_rate);
	if (setns(home, CLONE_NEWNET))
		die("back to the sandbox's namespace: %s", strerror(errno));
	close(home);
	return ns;
}

unsigned long long bench_nft_accepted(int ns, const char *a_name)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	char out[8192], *c;

	if (home < 0 || setns(ns, CLONE_NEWNET))
		die("into the nftables peer's namespace: %s", strerror(errno));
	sh_out(out, sizeof(out), "nft list chain bridge xtapbench i_%s 2>&1", a_name);
	if (setns(home, CLONE_NEWNET))
		die("back to the sandbox's namespace: %s", strerror(errno));
	close(home);
	c = strstr(out, "counter packets ");
	return c ? strtoull(c + 16, NULL, 10) : 0;
}
