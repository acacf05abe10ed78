// SPDX-License-Identifier: GPL-2.0
/*
 * Bytes after the IP packet (docs/packet-rules.md): Ethernet padding of a
 * frame of at most 60 bytes (64 tagged) is fine; anything else is TRAILING,
 * and an L4 header is never read from them. Both directions.
 */
#include <linux/if_ether.h>

#include "rules.h"
#include "tests.h"

/* A UDP/IPv4 frame of exactly `frame` bytes whose IP packet is `ip` bytes. */
static void udp4_sized(struct pkt *p, const struct rule_ends *e, size_t ip, size_t frame)
{
	rule_ipv4(p, e, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, ip - 28);
	pkt_finish(p);
	pkt_payload(p, frame - p->len);
}

static void v4_padded_to_60(struct pkt *p, const struct rule_ends *e) { udp4_sized(p, e, 30, 60); }
static void v4_61_bytes(struct pkt *p, const struct rule_ends *e) { udp4_sized(p, e, 46, 61); }
static void v4_one_extra_byte(struct pkt *p, const struct rule_ends *e) { udp4_sized(p, e, 200, 215); }
static void v4_exact(struct pkt *p, const struct rule_ends *e) { udp4_sized(p, e, 200, 214); }

/* An IP packet of just a header saying UDP, the "UDP header" in the padding. */
static void v4_udp_header_in_padding(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t udp[8] = { 0x9c, 0x40, 0x00, 53, 0, 8, 0, 0 };

	rule_ipv4(p, e, IPPROTO_UDP);
	pkt_finish(p);
	pkt_append(p, udp, sizeof(udp));
	pkt_payload(p, 60 - p->len);
}

/* The same beyond 60 bytes: the bytes after the packet decide first. */
static void v4_udp_header_in_trailer(struct pkt *p, const struct rule_ends *e)
{
	v4_udp_header_in_padding(p, e);
	pkt_payload(p, 40);
}

static void v6_trailing(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 16);
	pkt_finish(p);
	pkt_payload(p, 4);
}

/* The shortest IPv6 packet (No Next Header, 54 bytes) padded to 60. */
static void v6_padded(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, 59);
	pkt_finish(p);
	pkt_payload(p, 6);
}

static void v4_tagged(struct pkt *p, const struct rule_ends *e, size_t frame)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_8021Q);
	pkt_vlan(p, 5, ETH_P_IP);
	pkt_ipv4(p, e->s4, e->d4, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 2);
	pkt_finish(p);
	pkt_payload(p, frame - p->len);
}

/* Tagged and padded to 64: no trailing bytes, but VM ports are untagged. */
static void v4_tagged_64(struct pkt *p, const struct rule_ends *e) { v4_tagged(p, e, 64); }
static void v4_tagged_65(struct pkt *p, const struct rule_ends *e) { v4_tagged(p, e, 65); }

static const struct rule_case cases[] = {
	{ "v4 padded to 60", v4_padded_to_60, RULE_PASS, RULE_PASS },
	{ "v4 exact length", v4_exact, RULE_PASS, RULE_PASS },
	{ "v4 61-byte frame, 15 bytes after the packet", v4_61_bytes, XTAP_DROP_TRAILING,
	  XTAP_DROP_TRAILING },
	{ "v4 one byte after the packet", v4_one_extra_byte, XTAP_DROP_TRAILING,
	  XTAP_DROP_TRAILING },
	{ "v4 UDP header in the padding", v4_udp_header_in_padding, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
	{ "v4 UDP header after the packet", v4_udp_header_in_trailer, XTAP_DROP_TRAILING,
	  XTAP_DROP_TRAILING },
	{ "v6 four bytes after the packet", v6_trailing, XTAP_DROP_TRAILING, XTAP_DROP_TRAILING },
	{ "v6 No Next Header padded to 60", v6_padded, RULE_PASS, RULE_PASS },
	/* From the uplink, VLAN 5 is no segment's: the host's, never A's. */
	{ "v4 tagged, padded to 64", v4_tagged_64, XTAP_DROP_VLAN_TAGGED, RULE_SKIP },
	{ "v4 tagged, 65 bytes", v4_tagged_65, XTAP_DROP_TRAILING, RULE_SKIP },
};

static void test_trailing_table(void **s)
{
	(void)s;
	RULES_RUN(cases);
}

/* The fuzz tier's F6 and F17 (tests/fuzz/FINDINGS.md), as found. */
static const struct hex_case fuzz_cases[] = {
	{ "F6 sctp4 from vmB, 61 bytes for 38", 0, FX_B,
	  "02000000000a02000000000b0800450000263be7000040840a260a00000bc63364094765138da7f8e13a"
	  "00000000c80c3e7e6e5397d7f560c30e1999ab", XTAP_DROP_TRAILING },
	{ "F6 icmp4 to vmD, 61 bytes for 45", 1, FX_D,
	  "ffffffffffff02000000000b08004500002d17bf000040014d040a0102000a00000d8500000000000000"
	  "00000000000000000000000000000000003e1c", XTAP_DROP_TRAILING },
	{ "F17 NS whose options run past the packet", 0, FX_C,
	  "02eeeeeeeeee02000000000c86dd6000000000383a4020010db800000000000000000000000c20010db8"
	  "00000000000000000000000d8700000000380000fe80000000000000000000fffe00000c020102000000"
	  "000c010102000000000c010102000000000c010102000000000ca6", XTAP_DROP_TRAILING },
};

static void test_trailing_fuzz_findings(void **s)
{
	(void)s;
	HEX_RUN(fuzz_cases);
}

XTAP_TEST_LIST(trailing,
	T(test_trailing_table),
	T(test_trailing_fuzz_findings),
);
