// SPDX-License-Identifier: GPL-2.0
/*
 * Fragments and IPv6 extension headers (docs/packet-rules.md): a first
 * fragment holds the whole upper-layer header (RFC 8200 4.5, RFC 7112), a
 * later one does not overlap it (RFC 1858 generalised) and, in IPv6, carries
 * an upper-layer protocol; ND never comes in fragments (RFC 6980). Both
 * directions, as fixture tables.
 */
#include <linux/if_ether.h>
#include <string.h>

#include "rules.h"
#include "tests.h"

/* ---- IPv4 ---- */

static void v4_frag(struct pkt *p, const struct rule_ends *e, uint8_t proto, uint16_t off,
		    bool mf)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;

	o.frag_off = off;
	o.mf = mf;
	rule_ipv4_ex(p, e, proto, &o);
}

static void v4_first_udp_whole(struct pkt *p, const struct rule_ends *e)
{
	v4_frag(p, e, IPPROTO_UDP, 0, true);
	pkt_udp(p, 40000, 53, 64);
	pkt_finish(p);
}

/* 8 bytes of TCP: the ports (here 80) but not the flags or data offset. */
static void v4_first_tcp_8_bytes(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t ports[8] = { 0x9c, 0x40, 0x00, 80, 0, 0, 0, 1 };

	v4_frag(p, e, IPPROTO_TCP, 0, true);
	pkt_append(p, ports, sizeof(ports));
	pkt_finish(p);
}

/* 20 bytes of TCP whose data offset says 60: the options are in the next fragment. */
static void v4_first_tcp_options_cut(struct pkt *p, const struct rule_ends *e)
{
	v4_frag(p, e, IPPROTO_TCP, 0, true);
	pkt_tcp(p, 40000, 80, PKT_TCP_SYN, 8);
	p->data[p->l4_off + 12] = 15 << 4;
	pkt_finish(p);
}

static void v4_first_tcp_whole(struct pkt *p, const struct rule_ends *e)
{
	v4_frag(p, e, IPPROTO_TCP, 0, true);
	pkt_tcp(p, 40000, 80, PKT_TCP_ACK, 64);
	pkt_finish(p);
}

static void v4_later(struct pkt *p, const struct rule_ends *e, uint8_t proto, uint16_t off)
{
	v4_frag(p, e, proto, off, true);
	pkt_payload(p, 64);
	pkt_finish(p);
}

static void v4_later_tcp_off1(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_TCP, 1); }
static void v4_later_tcp_off2(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_TCP, 2); }
static void v4_later_tcp_off3(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_TCP, 3); }
static void v4_later_udp_off1(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_UDP, 1); }
static void v4_later_sctp_off1(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_SCTP, 1); }
static void v4_later_sctp_off2(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, IPPROTO_SCTP, 2); }
static void v4_later_gre_off1(struct pkt *p, const struct rule_ends *e) { v4_later(p, e, 47, 1); }

/* The last fragment (MF clear, offset set) is a later fragment too. */
static void v4_last_tcp_off1(struct pkt *p, const struct rule_ends *e)
{
	v4_frag(p, e, IPPROTO_TCP, 1, false);
	pkt_payload(p, 64);
	pkt_finish(p);
}

/* Not a fragment: a TCP data offset pointing past the packet is malformed. */
static void v4_tcp_doff_beyond_packet(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv4(p, e, IPPROTO_TCP);
	pkt_tcp(p, 40000, 80, PKT_TCP_ACK, 8);
	p->data[p->l4_off + 12] = 8 << 4;    /* 32 bytes; the packet has 28 */
	pkt_finish(p);
}

/* An ICMP header of 4 bytes: type and code, nothing after. */
static void v4_icmp_4_bytes(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t icmp[4] = { 8, 0, 0xf7, 0xff };

	rule_ipv4(p, e, IPPROTO_ICMP);
	pkt_append(p, icmp, sizeof(icmp));
	pkt_finish(p);
}

static const struct rule_case v4_cases[] = {
	{ "v4 first fragment, whole UDP header", v4_first_udp_whole, RULE_PASS, RULE_PASS },
	{ "v4 first fragment, whole TCP header", v4_first_tcp_whole, RULE_PASS, RULE_PASS },
	{ "v4 first fragment, 8 bytes of TCP", v4_first_tcp_8_bytes, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v4 first fragment, TCP options cut", v4_first_tcp_options_cut, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v4 later TCP fragment at 8", v4_later_tcp_off1, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v4 later TCP fragment at 16", v4_later_tcp_off2, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v4 last TCP fragment at 8", v4_last_tcp_off1, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v4 later TCP fragment at 24", v4_later_tcp_off3, RULE_PASS, RULE_PASS },
	{ "v4 later UDP fragment at 8", v4_later_udp_off1, RULE_PASS, RULE_PASS },
	{ "v4 later SCTP fragment at 8", v4_later_sctp_off1, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v4 later SCTP fragment at 16", v4_later_sctp_off2, RULE_PASS, RULE_PASS },
	{ "v4 later GRE fragment at 8", v4_later_gre_off1, RULE_PASS, RULE_PASS },
	{ "v4 TCP data offset beyond packet", v4_tcp_doff_beyond_packet, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
	{ "v4 ICMP header of 4 bytes", v4_icmp_4_bytes, XTAP_DROP_MALFORMED, XTAP_DROP_MALFORMED },
};

static void test_fragments_ipv4(void **s)
{
	(void)s;
	RULES_RUN(v4_cases);
}

/* ---- IPv6 ---- */

static void v6_first_udp_whole(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_UDP, 0, true, 7);
	pkt_udp(p, 40000, 53, 64);
	pkt_finish(p);
}

static void v6_atomic_udp(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_UDP, 0, false, 7);
	pkt_udp(p, 40000, 53, 64);
	pkt_finish(p);
}

/* Looks like TCP to port 80; the rest of the header (and a port 22?) follows later. */
static void v6_first_tcp_8_bytes(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t ports[8] = { 0x9c, 0x40, 0x00, 80, 0, 0, 0, 1 };

	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_TCP, 0, true, 7);
	pkt_append(p, ports, sizeof(ports));
	pkt_finish(p);
}

/* The header chain goes on past this fragment: Destination Options, then nothing. */
static void v6_first_chain_cut(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_DSTOPTS, 0, true, 7);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_UDP);
	pkt_finish(p);
}

static void v6_later(struct pkt *p, const struct rule_ends *e, uint8_t next, uint16_t off)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, next, off, true, 7);
	pkt_payload(p, 64);
	pkt_finish(p);
}

static void v6_later_udp_off1(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_UDP, 1); }
static void v6_later_tcp_off1(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_TCP, 1); }
static void v6_later_tcp_off3(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_TCP, 3); }
static void v6_later_icmp6_off1(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_ICMPV6, 1); }
static void v6_later_dstopts(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_DSTOPTS, 100); }
static void v6_later_routing(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_ROUTING, 100); }
static void v6_later_fragment(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_FRAGMENT, 100); }
static void v6_later_hop(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_HOPOPTS, 100); }
static void v6_later_ah(struct pkt *p, const struct rule_ends *e) { v6_later(p, e, IPPROTO_AH, 100); }

/* Two Fragment headers, the first with offset 0. */
static void v6_two_fragment_headers(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t frag2[8] = { IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 8 };

	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_FRAGMENT, 0, true, 7);
	pkt_append(p, frag2, sizeof(frag2));
	pkt_payload(p, 16);
	pkt_finish(p);
}

/* A whole router advertisement, but in a (first) fragment: RFC 6980. */
static void v6_ra_in_fragment(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_ICMPV6, 0, true, 7);
	pkt_icmp6(p, 134, 0, 12);
	pkt_finish(p);
}

static void v6_ns_in_atomic_fragment(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_ICMPV6, 0, false, 7);
	pkt_icmp6_ns(p, &e->d6);
	pkt_finish(p);
}

/* Echo requests may be fragmented. */
static void v6_echo_in_fragment(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_ICMPV6, 0, true, 7);
	pkt_icmp6(p, 128, 0, 64);
	pkt_finish(p);
}

static void v6_hop_not_first(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_DSTOPTS);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(p, IPPROTO_HOPOPTS, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 16);
	pkt_finish(p);
}

static void v6_ext_chain(struct pkt *p, const struct rule_ends *e, int n)
{
	int i;

	rule_ipv6(p, e, IPPROTO_DSTOPTS);
	for (i = 0; i < n; i++)
		pkt_ipv6_ext(p, IPPROTO_DSTOPTS, i == n - 1 ? IPPROTO_UDP : IPPROTO_DSTOPTS);
	pkt_udp(p, 40000, 53, 16);
	pkt_finish(p);
}

static void v6_8_ext_headers(struct pkt *p, const struct rule_ends *e) { v6_ext_chain(p, e, 8); }
static void v6_9_ext_headers(struct pkt *p, const struct rule_ends *e) { v6_ext_chain(p, e, 9); }

/* Destination Options claiming 16 bytes where the packet has 8 (no fragment). */
static void v6_ext_beyond_payload(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_DSTOPTS);
	pkt_ipv6_ext(p, IPPROTO_DSTOPTS, IPPROTO_UDP);
	pkt_finish(p);
	p->data[p->l3_off + 41] = 1;
}

/* No Next Header: passes, as protocol 59 with no ports. */
static void v6_no_next_header(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, 59);
	pkt_payload(p, 16);
	pkt_finish(p);
}

/* UDP whose header fits the frame but not the IPv6 payload (payload length 4). */
static void v6_udp_beyond_payload(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 0);
	pkt_finish(p);
	p->data[p->l3_off + 5] = 4;
	pkt_truncate(p, p->l3_off + 44);
	pkt_payload(p, 62 - p->len);      /* 60-byte frame + 2: padding would be fine */
	pkt_truncate(p, 60);
}

static const struct rule_case v6_cases[] = {
	{ "v6 first fragment, whole UDP header", v6_first_udp_whole, RULE_PASS, RULE_PASS },
	{ "v6 atomic fragment, UDP", v6_atomic_udp, RULE_PASS, RULE_PASS },
	{ "v6 first fragment, 8 bytes of TCP/80", v6_first_tcp_8_bytes, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 first fragment, header chain cut", v6_first_chain_cut, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 later UDP fragment at 8", v6_later_udp_off1, RULE_PASS, RULE_PASS },
	{ "v6 later TCP fragment at 8", v6_later_tcp_off1, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v6 later TCP fragment at 24", v6_later_tcp_off3, RULE_PASS, RULE_PASS },
	{ "v6 later ICMPv6 fragment at 8", v6_later_icmp6_off1, RULE_PASS, RULE_PASS },
	{ "v6 later fragment of Destination Options", v6_later_dstopts, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 later fragment of Routing", v6_later_routing, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v6 later fragment of Fragment", v6_later_fragment, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 later fragment of Hop-by-Hop", v6_later_hop, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v6 later fragment of AH", v6_later_ah, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v6 two Fragment headers", v6_two_fragment_headers, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 RA in a fragment", v6_ra_in_fragment, XTAP_DROP_FRAGMENT, XTAP_DROP_FRAGMENT },
	{ "v6 NS in an atomic fragment", v6_ns_in_atomic_fragment, XTAP_DROP_FRAGMENT,
	  XTAP_DROP_FRAGMENT },
	{ "v6 echo request in a fragment", v6_echo_in_fragment, RULE_PASS, RULE_PASS },
	{ "v6 Hop-by-Hop not first", v6_hop_not_first, XTAP_DROP_MALFORMED, XTAP_DROP_MALFORMED },
	{ "v6 8 extension headers", v6_8_ext_headers, RULE_PASS, RULE_PASS },
	{ "v6 9 extension headers", v6_9_ext_headers, XTAP_DROP_MALFORMED, XTAP_DROP_MALFORMED },
	{ "v6 extension header beyond payload", v6_ext_beyond_payload, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
	{ "v6 No Next Header", v6_no_next_header, RULE_PASS, RULE_PASS },
	{ "v6 UDP header beyond payload, in padding", v6_udp_beyond_payload, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
};

static void test_fragments_ipv6(void **s)
{
	(void)s;
	RULES_RUN(v6_cases);
}

/*
 * Protocol-only ACL rules match later fragments alike in both families; a
 * port rule does not (they carry no ports).
 */
static void test_fragments_protocol_rule_matches_later_fragments(void **s)
{
	static const struct rule_case cases[] = {
		{ "v4 later UDP fragment, UDP denied", v4_later_udp_off1, XTAP_DROP_ACL, RULE_SKIP },
		{ "v6 later UDP fragment, UDP denied", v6_later_udp_off1, XTAP_DROP_ACL, RULE_SKIP },
		{ "v4 first UDP fragment, UDP denied", v4_first_udp_whole, XTAP_DROP_ACL, RULE_SKIP },
		{ "v6 first UDP fragment, UDP denied", v6_first_udp_whole, XTAP_DROP_ACL, RULE_SKIP },
	};
	struct xtap_acl_rule_spec *r = &PA->spec.acl[XTAP_DIR_FROM_VM].rules[0];

	(void)s;
	PA->spec.acl[XTAP_DIR_FROM_VM].n_rules = 1;
	memset(r, 0, sizeof(*r));
	r->rule_id = 1;
	r->priority = 1;
	r->action = XTAP_ACL_DENY;
	r->proto = IPPROTO_UDP;
	r->port_min = 0;
	r->port_max = 65535;
	fx_apply(PA);
	RULES_RUN(cases);
}

/*
 * The fuzz tier's findings F1-F3 (tests/fuzz/FINDINGS.md), frames as found,
 * replayed on this fixture (same MACs and addresses; no ACLs): each fragment
 * that could rebuild a denied header chain or ND message is dropped.
 */
static const struct hex_case fuzz_cases[] = {
	/* F1: from vmB, a group whose first-wins reassembly is TCP 22 */
	{ "F1 g3814 #1 later fragment, Next Header 60", 0, FX_B,
	  "02eeeeeeeeee02000000000b86dd6000000000300040fe80000000000000000000fffe00000b20010db8"
	  "00000000000000000000000a2c01010c0000000000000000000000003c0000093db281870400001664e7"
	  "31ac000000005002ffff000000007c24ed59", XTAP_DROP_FRAGMENT },
	{ "F1 g3814 #2 first fragment, whole chain and TCP header", 0, FX_B,
	  "02eeeeeeeeee02000000000b86dd6000000000382c40fe80000000000000000000fffe00000b20010db8"
	  "00000000000000000000000a3c0000013db28187060001040000000004003b8b64e731ac000000005002"
	  "ffff000000007c24ed59389eb9ca3659bfd3fab6af2029d3b0dd", RULE_PASS },
	{ "F1 g3814 #3 later fragment, Next Header 60", 0, FX_B,
	  "02eeeeeeeeee02000000000b86dd60000000005c2c40fe80000000000000000000fffe00000b20010db8"
	  "00000000000000000000000a3c0000303db28187f8fd43166fe6c336db5429f6b6ca6e05a920a456fb0d"
	  "de0498e25270cb854a77f86a1964e618a3ad6df29bfde6e0049846cf669c6114669a0aa53bcb1b0fd52c"
	  "3ae58c0c51c6bc922ea51d2370272f868bc02b5f", XTAP_DROP_FRAGMENT },
	/*
	 * F1: to vmB, reassembling to TCP 80. The first frame is 149 bytes for a
	 * 110-byte IP packet: the lengths are judged before the header chain, so
	 * TRAILING (it would be FRAGMENT without the 39 extra bytes: next case).
	 */
	{ "F1 g3793 #1 first fragment, Destination Options hide TCP", 1, FX_B,
	  "02000000000b02000000000d86dd6000000000382c40ff020000000000000000000000000001fe800000"
	  "00000000000000fffe00000b3c0000018301c2bf0605012c00000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000ca9e16e6b5e5add90eb80f5f6de30ee2e1"
	  "ebf57c2122d7e35f6e4dfc035ca3e22ac5be5f001982", XTAP_DROP_TRAILING },
	{ "F1 g3793 #1 without its trailing bytes", 1, FX_B,
	  "02000000000b02000000000d86dd6000000000382c40ff020000000000000000000000000001fe800000"
	  "00000000000000fffe00000b3c0000018301c2bf0605012c00000000000000000000000000000000000000"
	  "00000000000000000000000000000000000000000000000000", XTAP_DROP_FRAGMENT },
	{ "F1 g3793 #2 later fragment, Next Header 60", 1, FX_B,
	  "02000000000b02000000000d86dd60000000004c2c40ff020000000000000000000000000001fe800000"
	  "00000000000000fffe00000b3c0000308301c2bf5db0005011f7526c000000005002ffff000000006acd"
	  "9cfda126d008dc828eeea626c7c324818396568f5c834d7665a01d88b8c342af09f41130e425d58308bb"
	  "06b0ceb3", XTAP_DROP_FRAGMENT },
	/* F2 */
	{ "F2 v4 TCP fragment at 8 (RFC 1858)", 0, FX_B,
	  "ffffffffffff02000000000b08004500001c711520014006d4bb0a00000b0a0100ff000000005002ffff",
	  XTAP_DROP_FRAGMENT },
	{ "F2 v4 first fragment, 8 bytes of TCP", 0, FX_C,
	  "ffffffffffff02000000000c08004500001c9a9720004006ac2e0a00000c0a00000bffff0043885e02ff",
	  XTAP_DROP_FRAGMENT },
	{ "F2 v6 last fragment, Next Header 60", 1, FX_D,
	  "02000000000d02000000000a86dd60000000000c2c4020010db800000000000000000000000c20010db8"
	  "00000000000000000000000d3c0000d02e1385d0664cdd5b", XTAP_DROP_FRAGMENT },
	/* F3 */
	{ "F3 g395 #1 NS in a first fragment", 1, FX_C,
	  "02000000000c02000000000d86dd6000000000182c40fe800000000000000000000000000001fe800000"
	  "00000000000000fffe00000c3a00000198ace9978700000000000000020e563bd03a85bc",
	  XTAP_DROP_FRAGMENT },
	{ "F3 g395 #2 later ICMPv6 fragment (type unknown)", 1, FX_C,
	  "02000000000c02000000000d86dd6000000000102c40fe800000000000000000000000000001fe800000"
	  "00000000000000fffe00000c3a00001098ace997a29dff4f3f0d8572", RULE_PASS },
	{ "F3 nd-rs RS in a first fragment", 0, FX_A,
	  "02000000000b02000000000a86dd6000000000122c4020010db800010000000000000000003720010db8"
	  "0002000000000000000000013a0000010000000085000000000800000000", XTAP_DROP_FRAGMENT },
};

/*
 * F14, F15, F18: headers that do not fit their IP packet; a chain of six
 * extension headers; ICMP's minimum is per family (IPv6 protocol 1 and IPv4
 * protocol 58 are upper layers we do not read).
 */
static const struct hex_case fuzz_cases_l4[] = {
	{ "F14 ICMP of 5 bytes from vmB", 0, FX_B,
	  "ffffffffffff02000000000b080045000019188a000040014c4f0a00000b0a0102000900022200",
	  XTAP_DROP_MALFORMED },
	{ "F14 TCP data offset 24 in 20 bytes to vmA", 1, FX_A,
	  "02000000000a02000000000c86dd600000000014064020010db800000000000000000000000dfe800000"
	  "00000000000000fffe00000a040002220014a0c2000000006002ffff00000000", XTAP_DROP_MALFORMED },
	{ "F14 ICMP of 6 bytes to vmA", 1, FX_A,
	  "02000000000a02000000009908004500001a913e00004001d4800a00000d0a0101170e0000000000",
	  XTAP_DROP_MALFORMED },
	{ "F15 six extension headers from vmD", 0, FX_D,
	  "33330000000102000000000d86dd60000000004e004020010db800000000000000000000000d20010db8"
	  "00000000000000000000000c3c0001040000000033000104000000003c01000000000000000000003c00"
	  "0104000000002b000104000000003c0204000000000000000000000000003a0001040000000001000000"
	  "000a00000000", RULE_PASS },
	{ "F18 IPv6 protocol 1, one byte", 0, FX_A,
	  "02000000000b02000000000a86dd600000000001014020010db800000000000000000000000a20010db8"
	  "00000000000000000000000b08", RULE_PASS },
	{ "F18 IPv4 protocol 58, one byte", 0, FX_A,
	  "02000000000b02000000000a08004500001500000000403a00000a00000a0a00000b80", RULE_PASS },
};

static void test_fragments_fuzz_findings(void **s)
{
	(void)s;
	HEX_RUN(fuzz_cases);
	HEX_RUN(fuzz_cases_l4);
}

XTAP_TEST_LIST(fragments,
	T(test_fragments_fuzz_findings),
	T(test_fragments_ipv4),
	T(test_fragments_ipv6),
	T(test_fragments_protocol_rule_matches_later_fragments),
);
