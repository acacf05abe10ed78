// SPDX-License-Identifier: GPL-2.0
/* Parsing of malformed and unusual frames leaving a VM (port A). */
#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "tests.h"

#define FROM_VM XTAP_DIR_FROM_VM

/* Port A's from-VM program returns ret for p; the MALFORMED counter moves by malformed. */
static void expect_ret(const struct pkt *p, uint32_t ret, uint64_t malformed)
{
	uint64_t before = fx_drops(PA, FROM_VM, XTAP_DROP_MALFORMED);

	assert_int_equal(fx_from_vm(PA, p), ret);
	assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_MALFORMED) - before, malformed);
}

static void expect_malformed(const struct pkt *p)
{
	uint64_t drops = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP);

	expect_ret(p, XDP_DROP, 1);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP) - drops, 1);
}

/* p goes from A to B: by the return value, then live, landing on B's tap only. */
static void expect_to_b(const struct pkt *p)
{
	uint64_t to_port = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT);
	uint64_t drops = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP);
	uint8_t buf[PKT_MAX];

	expect_ret(p, XDP_REDIRECT, 0);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, p);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT) - to_port, 2);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP) - drops, 0);
	assert_int_equal(tap_read(&PB->tap, buf, sizeof(buf), NULL), (int)p->len);
	assert_memory_equal(buf, p->data, p->len);
	assert_int_equal(fx_tap_frames(&PB->tap), 0);
	assert_int_equal(fx_tap_frames(&PA->tap), 0);
	assert_int_equal(fx_tap_frames(&PC->tap), 0);
	assert_int_equal(fx_tap_frames(&PD->tap), 0);
	assert_int_equal(fx_tap_frames(&fx_uplink), 0);
}

/* An unfinished IPv4 frame from A to B. */
static void ipv4_to_b(struct pkt *p, uint8_t proto)
{
	fx_eth_ipv4(p, PA, PB->mac, PA->ip4, PB->ip4, proto);
}

/* An unfinished IPv6 frame from A to B. */
static void ipv6_to_b(struct pkt *p, uint8_t nexthdr)
{
	fx_eth_ipv6(p, PA, PB->mac, &PA->ip6, &PB->ip6, nexthdr);
}

static void udp4_to_b(struct pkt *p)
{
	fx_udp4(p, PA, PB, 53, 32);
}

static void udp6_to_b(struct pkt *p)
{
	ipv6_to_b(p, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 32);
	pkt_finish(p);
}

/* ---- Ethernet ---- */

/* The shortest frame a tap passes on: an Ethernet header announcing IPv4. */
static void test_ethernet_header_only_malformed(void **s)
{
	struct pkt p;

	(void)s;
	udp4_to_b(&p);
	pkt_truncate(&p, ETH_HLEN);
	expect_malformed(&p);
}

static void test_qinq_malformed(void **s)
{
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_eth(&p, PB->mac, PA->mac, ETH_P_8021Q);
	pkt_vlan(&p, 100, ETH_P_8021Q);
	pkt_vlan(&p, 5, ETH_P_IP);
	pkt_ipv4(&p, PA->ip4, PB->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	/* 802.1ad: the outer tag's type is 0x88a8 (pkt_vlan only follows 0x8100). */
	p.data[12] = ETH_P_8021AD >> 8;
	p.data[13] = ETH_P_8021AD & 0xff;
	expect_malformed(&p);
}

static void test_ethernet_padding_passes(void **s)
{
	struct pkt p;

	(void)s;
	ipv4_to_b(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 4);
	pkt_finish(&p);
	pkt_payload(&p, 60 - p.len);
	expect_to_b(&p);
}

/* ---- IPv4 ---- */

static void test_ipv4_header_truncated(void **s)
{
	struct pkt p;

	(void)s;
	udp4_to_b(&p);
	pkt_truncate(&p, ETH_HLEN + 19);
	expect_malformed(&p);
}

static void test_ipv4_ihl_below_5(void **s)
{
	struct pkt p;

	(void)s;
	udp4_to_b(&p);
	p.data[p.l3_off] = 0x44;
	expect_malformed(&p);
}

static void test_ipv4_total_length_beyond_frame(void **s)
{
	struct pkt p;

	(void)s;
	udp4_to_b(&p);
	pkt_truncate(&p, p.len - 1);
	expect_malformed(&p);
}

/* IP lengths agree with the frame, but it ends inside the L4 header. */
static void test_tcp_header_truncated(void **s)
{
	struct pkt p;

	(void)s;
	ipv4_to_b(&p, IPPROTO_TCP);
	pkt_payload(&p, 19);
	pkt_finish(&p);
	expect_malformed(&p);
}

static void test_udp_header_truncated(void **s)
{
	struct pkt p;

	(void)s;
	ipv4_to_b(&p, IPPROTO_UDP);
	pkt_payload(&p, 7);
	pkt_finish(&p);
	expect_malformed(&p);
}

static void test_ipv4_options_pass(void **s)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;
	struct pkt p;

	(void)s;
	o.opt_len = 8;
	pkt_init(&p);
	pkt_eth(&p, PB->mac, PA->mac, ETH_P_IP);
	pkt_ipv4_ex(&p, PA->ip4, PB->ip4, IPPROTO_TCP, &o);
	pkt_tcp(&p, 40000, 80, PKT_TCP_SYN, 0);
	pkt_finish(&p);
	expect_to_b(&p);
}

static void test_ipv4_later_fragment_passes(void **s)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;
	struct pkt p;

	(void)s;
	o.frag_off = 185;
	pkt_init(&p);
	pkt_eth(&p, PB->mac, PA->mac, ETH_P_IP);
	pkt_ipv4_ex(&p, PA->ip4, PB->ip4, IPPROTO_UDP, &o);
	pkt_payload(&p, 8);   /* shorter than a UDP header would need to be */
	pkt_finish(&p);
	expect_to_b(&p);
}

/* ---- ARP ---- */

static void arp_request(struct pkt *p)
{
	static const uint8_t zero_mac[6];

	pkt_init(p);
	pkt_eth(p, fx_bcast, PA->mac, ETH_P_ARP);
	pkt_arp(p, 1, PA->mac, PA->ip4, zero_mac, PB->ip4);
}

static void test_arp_truncated(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p);
	pkt_truncate(&p, p.len - 1);
	expect_malformed(&p);
}

static void test_arp_hardware_not_ethernet(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p);
	p.data[p.l3_off + 1] = 6;   /* IEEE 802 */
	expect_malformed(&p);
}

/* ---- IPv6 ---- */

static void test_ipv6_header_truncated(void **s)
{
	struct pkt p;

	(void)s;
	udp6_to_b(&p);
	pkt_truncate(&p, ETH_HLEN + 39);
	expect_malformed(&p);
}

static void test_ipv6_payload_length_beyond_frame(void **s)
{
	struct pkt p;

	(void)s;
	udp6_to_b(&p);
	pkt_truncate(&p, p.len - 1);
	expect_malformed(&p);
}

/* The frame ends after the first byte of a hop-by-hop header. */
static void test_ipv6_ext_header_truncated(void **s)
{
	struct pkt p;

	(void)s;
	ipv6_to_b(&p, IPPROTO_HOPOPTS);
	pkt_payload(&p, 1);
	pkt_finish(&p);
	expect_malformed(&p);
}

/* A hop-by-hop header claiming 16 bytes where the payload has 8. */
static void test_ipv6_ext_header_beyond_payload(void **s)
{
	struct pkt p;

	(void)s;
	ipv6_to_b(&p, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, IPPROTO_NONE);
	pkt_finish(&p);
	p.data[p.l3_off + 40 + 1] = 1;
	expect_malformed(&p);
}

/* n destination-options headers, then UDP. */
static void udp6_behind_ext_headers(struct pkt *p, int n)
{
	int i;

	ipv6_to_b(p, IPPROTO_DSTOPTS);
	for (i = 1; i < n; i++)
		pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 32);
	pkt_finish(p);
}

static void test_ipv6_eight_ext_headers_pass(void **s)
{
	struct pkt p;

	(void)s;
	udp6_behind_ext_headers(&p, 8);
	expect_to_b(&p);
}

static void test_ipv6_nine_ext_headers_malformed(void **s)
{
	struct pkt p;

	(void)s;
	udp6_behind_ext_headers(&p, 9);
	expect_malformed(&p);
}

static void test_ipv6_hop_by_hop_dest_opts_tcp_passes(void **s)
{
	struct pkt p;

	(void)s;
	ipv6_to_b(&p, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, IPPROTO_DSTOPTS);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, IPPROTO_TCP);
	pkt_tcp(&p, 40000, 80, PKT_TCP_SYN, 0);
	pkt_finish(&p);
	expect_to_b(&p);
}

static void test_ipv6_later_fragment_passes(void **s)
{
	struct pkt p;

	(void)s;
	ipv6_to_b(&p, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 185, false, 0x1234);
	pkt_payload(&p, 8);
	pkt_finish(&p);
	expect_to_b(&p);
}

/* ---- no port ---- */

static uint64_t port_total(const struct fx_port *port)
{
	uint64_t n = 0;
	int d, v;

	for (d = 0; d < XTAP_DIRS; d++)
		for (v = 0; v < XTAP_VERDICTS; v++)
			n += fx_verdicts(port, d, v);
	return n;
}

/* The uplink tap has no port: the from-VM program fails closed, counting nothing. */
static void test_tap_without_port_dropped(void **s)
{
	uint64_t before[FX_PORTS];
	struct fx_result r;
	struct pkt p;
	int i;

	(void)s;
	for (i = 0; i < FX_PORTS; i++)
		before[i] = port_total(&fx_ports[i]);
	udp4_to_b(&p);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, XDP_DROP);
	for (i = 0; i < FX_PORTS; i++)
		assert_int_equal(port_total(&fx_ports[i]) - before[i], 0);
}

XTAP_TEST_LIST(parse,
	T(test_ethernet_header_only_malformed),
	T(test_qinq_malformed),
	T(test_ethernet_padding_passes),
	T(test_ipv4_header_truncated),
	T(test_ipv4_ihl_below_5),
	T(test_ipv4_total_length_beyond_frame),
	T(test_tcp_header_truncated),
	T(test_udp_header_truncated),
	T(test_ipv4_options_pass),
	T(test_ipv4_later_fragment_passes),
	T(test_arp_truncated),
	T(test_arp_hardware_not_ethernet),
	T(test_ipv6_header_truncated),
	T(test_ipv6_payload_length_beyond_frame),
	T(test_ipv6_ext_header_truncated),
	T(test_ipv6_ext_header_beyond_payload),
	T(test_ipv6_eight_ext_headers_pass),
	T(test_ipv6_nine_ext_headers_malformed),
	T(test_ipv6_hop_by_hop_dest_opts_tcp_passes),
	T(test_ipv6_later_fragment_passes),
	T(test_tap_without_port_dropped),
);
