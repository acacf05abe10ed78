// SPDX-License-Identifier: GPL-2.0
/*
 * Self-check for pktbuild: builds frames, verifies their checksums, and
 * compares some byte for byte against frames whose checksums come from an
 * independent source. Exits 0 on success.
 */
#include "pktbuild.h"

#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define EXPECT(cond)                                                        \
	do {                                                                \
		checks++;                                                   \
		if (!(cond)) {                                              \
			failures++;                                         \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__,       \
				__LINE__, #cond);                           \
		}                                                           \
	} while (0)

/* Status for a summary line: did any check fail since `before`? */
static const char *status(int before)
{
	return failures == before ? "ok  " : "FAIL";
}

static uint8_t mac_a[6], mac_b[6];

/* ---- frames under test ------------------------------------------------ */

static void ip4_tcp(struct pkt *p)
{
	pkt_eth(p, mac_b, mac_a, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("10.0.0.1"), pkt_ip4("10.0.0.2"), IPPROTO_TCP);
	pkt_tcp(p, 40000, 80, PKT_TCP_SYN, 0);
}

static void ip4_opts_udp(struct pkt *p)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;

	o.opt_len = 8;
	pkt_eth(p, mac_b, mac_a, ETH_P_IP);
	pkt_ipv4_ex(p, pkt_ip4("10.0.0.1"), pkt_ip4("10.0.0.2"), IPPROTO_UDP, &o);
	pkt_udp(p, 5353, 53, 33); /* odd length exercises the pad byte */
}

static void ip4_icmp_echo(struct pkt *p)
{
	pkt_eth(p, mac_b, mac_a, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("10.0.0.1"), pkt_ip4("10.0.0.2"), IPPROTO_ICMP);
	pkt_icmp_echo(p, 8, 0x1234, 1, 56);
}

static void ip6_ext_tcp(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("2001:db8::1"), d = pkt_ip6("2001:db8::2");

	pkt_eth(p, mac_b, mac_a, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, IPPROTO_DSTOPTS);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_TCP);
	pkt_tcp(p, 40000, 443, PKT_TCP_PSH | PKT_TCP_ACK, 100);
}

static void ip6_routing_udp(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("2001:db8::1"), d = pkt_ip6("2001:db8::2");

	pkt_eth(p, mac_b, mac_a, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_ROUTING);
	pkt_ipv6_ext(p, IPPROTO_ROUTING, IPPROTO_UDP);
	pkt_udp(p, 1000, 2000, 10);
}

static void ip6_udp(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("2001:db8::1"), d = pkt_ip6("2001:db8::2");

	pkt_eth(p, mac_b, mac_a, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_UDP);
	pkt_udp(p, 546, 547, 64);
}

static void ip6_ns_slla(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("fe80::1"), d = pkt_ip6("ff02::1:ff00:2");
	struct in6_addr t = pkt_ip6("fe80::2");
	uint8_t mcast[6];

	pkt_mac(mcast, "33:33:ff:00:00:02");
	pkt_eth(p, mcast, mac_a, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_ICMPV6);
	pkt_icmp6_ns(p, &t);
	pkt_icmp6_nd_opt(p, 1, mac_a);
}

static void ip6_na_tlla(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("fe80::2"), d = pkt_ip6("fe80::1");

	pkt_eth(p, mac_a, mac_b, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_ICMPV6);
	pkt_icmp6_na(p, &s, PKT_NA_SOLICITED | PKT_NA_OVERRIDE);
	pkt_icmp6_nd_opt(p, 2, mac_b);
}

static void ip6_ra(struct pkt *p)
{
	struct in6_addr s = pkt_ip6("fe80::1"), d = pkt_ip6("ff02::1");

	pkt_eth(p, mac_b, mac_a, ETH_P_IPV6);
	pkt_ipv6(p, &s, &d, IPPROTO_ICMPV6);
	pkt_icmp6(p, 134, 0, 12);
	pkt_icmp6_nd_opt(p, 1, mac_a);
}

static void vlan_ip4_udp(struct pkt *p)
{
	pkt_eth(p, mac_b, mac_a, ETH_P_8021Q);
	pkt_vlan(p, 100, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("192.0.2.1"), pkt_ip4("192.0.2.2"), IPPROTO_UDP);
	pkt_udp(p, 4789, 4789, 50);
}

static void dhcp_discover(struct pkt *p)
{
	uint8_t bcast[6];

	pkt_mac(bcast, "ff:ff:ff:ff:ff:ff");
	pkt_eth(p, bcast, mac_a, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("0.0.0.0"), pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(p, 68, 67, 0);
	pkt_dhcp4(p, 1, mac_a);
}

static const struct {
	const char *name;
	void (*build)(struct pkt *p);
} cases[] = {
	{ "ipv4/tcp", ip4_tcp },
	{ "ipv4+options/udp", ip4_opts_udp },
	{ "ipv4/icmp-echo", ip4_icmp_echo },
	{ "ipv6+hbh+dstopts/tcp", ip6_ext_tcp },
	{ "ipv6+routing/udp", ip6_routing_udp },
	{ "ipv6/udp", ip6_udp },
	{ "ipv6/ns+slla", ip6_ns_slla },
	{ "ipv6/na+tlla", ip6_na_tlla },
	{ "ipv6/ra+slla", ip6_ra },
	{ "vlan/ipv4/udp", vlan_ip4_udp },
	{ "ipv4/udp/dhcp-discover", dhcp_discover },
};

static void build(struct pkt *p, void (*fn)(struct pkt *p))
{
	pkt_init(p);
	fn(p);
	pkt_finish(p);
}

/* ---- independent helpers ---------------------------------------------- */

static uint16_t fold_sum(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static size_t hex_to_bytes(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2)
		sscanf(hex, "%2hhx", &out[n++]);
	return n;
}

static void expect_bytes(const char *name, const struct pkt *p, const char *hex)
{
	uint8_t want[PKT_MAX];
	size_t n = hex_to_bytes(hex, want);

	EXPECT(p->len == n && memcmp(p->data, want, n) == 0);
	if (p->len == n && memcmp(p->data, want, n) == 0)
		return;
	fprintf(stderr, "%s: got %zu bytes, want %zu\n", name, p->len, n);
	for (size_t i = 0; i < p->len && i < n; i++)
		if (p->data[i] != want[i])
			fprintf(stderr, "  byte %zu: got %02x want %02x\n",
				i, p->data[i], want[i]);
}

/* ---- checks ------------------------------------------------------------ */

static void check_case(const char *name, void (*fn)(struct pkt *p))
{
	struct pkt p, bad;
	int before = failures;

	build(&p, fn);
	EXPECT(pkt_l4_csum_ok(p.data, p.len));

	bad = p;
	bad.data[bad.len - 1] ^= 0x01;
	EXPECT(!pkt_l4_csum_ok(bad.data, bad.len));

	bad = p;
	pkt_truncate(&bad, bad.len - 1);
	EXPECT(!pkt_l4_csum_ok(bad.data, bad.len));

	/* Ethernet padding beyond the IP length must not matter. */
	bad = p;
	pkt_payload(&bad, 8);
	EXPECT(pkt_l4_csum_ok(bad.data, bad.len));

	printf("%s %-24s len %4zu  l4 csum 0x%04x\n", status(before), name, p.len,
	       pkt_l4_csum_field(p.data, p.len));
}

/* CHECKSUM_PARTIAL: completing the sum over the L4 bytes alone, as a NIC
 * or bpf_csum_diff-based code would, must give the full checksum. */
static void check_partial(const char *name, void (*fn)(struct pkt *p),
			  bool udp)
{
	struct pkt p, part;
	int before = failures;

	build(&p, fn);
	part = p;
	pkt_set_partial_csum(&part);
	uint16_t full = pkt_l4_csum_field(p.data, p.len);
	uint16_t partial = pkt_l4_csum_field(part.data, part.len);

	EXPECT(!pkt_l4_csum_ok(part.data, part.len));
	uint16_t done = (uint16_t)~fold_sum(part.data + part.l4_off,
					    part.len - part.l4_off);
	if (udp && done == 0)
		done = 0xffff;
	EXPECT(done == full);
	printf("%s partial %-16s partial 0x%04x -> full 0x%04x\n",
	       status(before), name, partial, done);
}

static void check_known_frames(void)
{
	struct pkt p;
	struct pkt_ip4_opts df = PKT_IP4_DEFAULTS;
	int before = failures;

	/* IPv4 header is the widely quoted example with checksum 0xb861
	 * (total length 0x73, DF, TTL 64, UDP, 192.168.0.1 -> .199); the
	 * UDP checksum 0xf6d6 was computed by a separate implementation. */
	df.df = true;
	pkt_init(&p);
	pkt_eth(&p, mac_b, mac_a, ETH_P_IP);
	pkt_ipv4_ex(&p, pkt_ip4("192.168.0.1"), pkt_ip4("192.168.0.199"),
		    IPPROTO_UDP, &df);
	pkt_udp(&p, 1234, 5678, 87);
	pkt_finish(&p);
	expect_bytes("ipv4 known", &p,
		"020000000002020000000001080045000073000040004011b861c0a80001c0a8"
		"00c704d2162e005ff6d6000102030405060708090a0b0c0d0e0f101112131415"
		"161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435"
		"363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455"
		"56");
	EXPECT(pkt_ip4_hdr_csum_ok(p.data, p.len));
	EXPECT(pkt_l4_csum_field(p.data, p.len) == 0xf6d6);
	p.data[ETH_HLEN + 8]--; /* TTL */
	EXPECT(!pkt_ip4_hdr_csum_ok(p.data, p.len));
	printf("%s known ipv4/udp frame (ip csum 0xb861, udp csum 0xf6d6)\n",
	       status(before));
	before = failures;

	/* ICMPv6 checksum 0x7a97 computed by a separate implementation. */
	pkt_init(&p);
	ip6_ns_slla(&p);
	pkt_finish(&p);
	expect_bytes("ns known", &p,
		"3333ff00000202000000000186dd6000000000203a40fe800000000000000000"
		"000000000001ff0200000000000000000001ff00000287007a9700000000fe80"
		"00000000000000000000000000020101020000000001");
	printf("%s known ipv6/ns+slla frame (icmp6 csum 0x7a97)\n",
	       status(before));
	before = failures;

	/* ARP request, written out field by field. */
	uint8_t zero[6] = { 0 }, bcast[6];
	pkt_mac(bcast, "ff:ff:ff:ff:ff:ff");
	pkt_init(&p);
	pkt_eth(&p, bcast, mac_a, ETH_P_ARP);
	pkt_arp(&p, 1, mac_a, pkt_ip4("10.0.0.1"), zero, pkt_ip4("10.0.0.2"));
	pkt_finish(&p);
	expect_bytes("arp known", &p,
		"ffffffffffff" "020000000001" "0806"
		"0001" "0800" "06" "04" "0001"
		"020000000001" "0a000001" "000000000000" "0a000002");
	EXPECT(!pkt_l4_csum_ok(p.data, p.len));
	printf("%s known arp request frame\n", status(before));
}

static void check_layouts(void)
{
	struct pkt p;
	int before = failures;

	build(&p, ip4_opts_udp);
	EXPECT(p.data[p.l3_off] == 0x47); /* IHL 7 */
	EXPECT(memcmp(p.data + p.l3_off + 20, "\x01\x01\x01\x01\x01\x01\x01\x00",
		      8) == 0);
	EXPECT(p.l4_off == p.l3_off + 28);
	EXPECT(pkt_ip4_hdr_csum_ok(p.data, p.len));

	build(&p, ip6_ext_tcp);
	EXPECT(p.data[p.l3_off + 6] == IPPROTO_HOPOPTS);
	EXPECT(p.data[p.l3_off + 40] == IPPROTO_DSTOPTS);
	EXPECT(p.data[p.l3_off + 48] == IPPROTO_TCP);
	EXPECT(p.l4_off == p.l3_off + 56);
	EXPECT(p.data[p.l3_off + 4] == 0 && p.data[p.l3_off + 5] == 16 + 20 + 100);

	build(&p, vlan_ip4_udp);
	EXPECT(memcmp(p.data + 12, "\x81\x00\x00\x64\x08\x00", 6) == 0);

	build(&p, dhcp_discover);
	EXPECT((p.data[p.l4_off + 4] << 8 | p.data[p.l4_off + 5]) == 8 + 244);
	EXPECT(memcmp(p.data + p.l4_off + 8 + 236, "\x63\x82\x53\x63\x35\x01\x01\xff",
		      8) == 0);
	EXPECT(memcmp(p.data + p.l4_off + 8 + 28, mac_a, 6) == 0);
	printf("%s header layouts (ipv4 options, ipv6 chain, vlan tag, dhcp)\n",
	       status(before));
}

static void check_edge_cases(void)
{
	struct pkt p;
	struct pkt_ip4_opts frag = PKT_IP4_DEFAULTS;
	struct in6_addr s = pkt_ip6("2001:db8::1"), d = pkt_ip6("2001:db8::2");
	int before = failures;

	/* UDP checksum 0: "none" over IPv4, invalid over IPv6. */
	build(&p, vlan_ip4_udp);
	p.data[p.l4_off + 6] = p.data[p.l4_off + 7] = 0;
	EXPECT(pkt_l4_csum_ok(p.data, p.len));
	build(&p, ip6_udp);
	p.data[p.l4_off + 6] = p.data[p.l4_off + 7] = 0;
	EXPECT(!pkt_l4_csum_ok(p.data, p.len));

	/* Fragments never verify, even a first fragment with a whole header. */
	frag.mf = true;
	pkt_init(&p);
	pkt_eth(&p, mac_b, mac_a, ETH_P_IP);
	pkt_ipv4_ex(&p, pkt_ip4("10.0.0.1"), pkt_ip4("10.0.0.2"), IPPROTO_UDP, &frag);
	pkt_udp(&p, 1, 2, 16);
	pkt_finish(&p);
	EXPECT(!pkt_l4_csum_ok(p.data, p.len));
	EXPECT(pkt_ip4_hdr_csum_ok(p.data, p.len));

	pkt_init(&p);
	pkt_eth(&p, mac_b, mac_a, ETH_P_IPV6);
	pkt_ipv6(&p, &s, &d, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 0, false, 7); /* atomic fragment */
	pkt_udp(&p, 1, 2, 16);
	pkt_finish(&p);
	EXPECT(!pkt_l4_csum_ok(p.data, p.len));
	EXPECT(p.data[p.l3_off + 40] == IPPROTO_UDP);

	/* Frames cut inside the headers are rejected; exact-size heap copies
	 * let a sanitizer build catch any over-read. */
	build(&p, ip6_ext_tcp);
	for (size_t n = 0; n < p.l4_off + 20; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, p.data, n);
		EXPECT(!pkt_l4_csum_ok(cut, n));
		free(cut);
	}
	printf("%s edge cases (udp csum 0, fragments, truncation)\n",
	       status(before));
}

int main(void)
{
	pkt_mac(mac_a, "02:00:00:00:00:01");
	pkt_mac(mac_b, "02:00:00:00:00:02");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(cases[i].name, cases[i].build);
	check_partial("ipv4/tcp", ip4_tcp, false);
	check_partial("ipv6+ext/tcp", ip6_ext_tcp, false);
	check_partial("ipv6/udp", ip6_udp, true);
	check_partial("vlan/ipv4/udp", vlan_ip4_udp, true);
	check_known_frames();
	check_layouts();
	check_edge_cases();

	printf("pktbuild selftest: %d checks, %d failures\n", checks, failures);
	/* One test for the run summary: the checks are its assertions. */
	printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
	return failures ? 1 : 0;
}
