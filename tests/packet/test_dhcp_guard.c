// SPDX-License-Identifier: GPL-2.0
/*
 * The guards against a VM playing server or router (docs/packet-rules.md):
 * DHCPv4 and DHCPv6 judged by destination port and message, never by source
 * port; ICMPv4 redirect and router advertisement need --router; a router
 * solicitation's link-layer option must be the port's. Frames from A (no
 * --dhcp-server, no --router unless a test sets them); the same frames from
 * the uplink to A pass: these are from-VM rules only.
 */
#include <linux/if_ether.h>
#include <string.h>

#include "rules.h"
#include "tests.h"

static const uint8_t foreign_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x77 };

/* ---- DHCPv4 ---- */

static void dhcp4(struct pkt *p, const struct rule_ends *e, uint32_t src, uint16_t sport,
		  uint16_t dport, uint8_t op, const uint8_t *chaddr)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_IP);
	pkt_ipv4(p, src, e->d4, IPPROTO_UDP);
	pkt_udp(p, sport, dport, 0);
	pkt_dhcp4(p, op, chaddr);
	pkt_finish(p);
}

static void discover(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 68, 67, 1, e->smac);
}

static void discover_from_zero(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, 0, 68, 67, 1, e->smac);
}

static void discover_foreign_chaddr(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 68, 67, 1, foreign_mac);
}

/* Class 2: the checks used to run only for source port 68. */
static void request_foreign_chaddr_other_sport(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 40000, 67, 1, foreign_mac);
}

static void discover_htype_6(struct pkt *p, const struct rule_ends *e)
{
	discover(p, e);
	p->data[p->l4_off + 8 + 1] = 6;
	pkt_finish(p);
}

static void discover_hlen_16(struct pkt *p, const struct rule_ends *e)
{
	discover(p, e);
	p->data[p->l4_off + 8 + 2] = 16;
	pkt_finish(p);
}

static void offer(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 67, 68, 2, e->dmac);
}

/* Class 2: a server reply from another source port. */
static void offer_from_other_sport(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 40000, 68, 2, e->dmac);
}

/* Anything to a client's port is a server's. */
static void udp_to_68(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv4(p, e, IPPROTO_UDP);
	pkt_udp(p, 40000, 68, 16);
	pkt_finish(p);
}

/* A BOOTREPLY to port 67: a server (or relay) talking to a server. */
static void reply_to_67(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, e->s4, 68, 67, 2, e->smac);
}

static void reply_to_67_from_zero(struct pkt *p, const struct rule_ends *e)
{
	dhcp4(p, e, 0, 68, 67, 2, e->smac);
}

/* Class 2: plain UDP from source port 67 is not DHCP. */
static void udp_from_67(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv4(p, e, IPPROTO_UDP);
	pkt_udp(p, 67, 53, 16);
	pkt_finish(p);
}

static void short_to_67(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv4(p, e, IPPROTO_UDP);
	pkt_udp(p, 68, 67, 33);
	pkt_finish(p);
}

static void zero_not_dhcp(struct pkt *p, const struct rule_ends *e)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_IP);
	pkt_ipv4(p, 0, e->d4, IPPROTO_UDP);
	pkt_udp(p, 1234, 67, 300);
	pkt_finish(p);
}

/* A first fragment of a DISCOVER: a later one could rewrite op or chaddr. */
static void discover_first_fragment(struct pkt *p, const struct rule_ends *e)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;

	o.mf = true;
	rule_ipv4_ex(p, e, IPPROTO_UDP, &o);
	pkt_udp(p, 68, 67, 0);
	pkt_dhcp4(p, 1, e->smac);
	pkt_finish(p);
}

static const struct rule_case dhcp4_cases[] = {
	{ "DISCOVER", discover, RULE_PASS, RULE_PASS },
	{ "DISCOVER from 0.0.0.0", discover_from_zero, RULE_PASS, RULE_PASS },
	{ "DISCOVER, foreign chaddr", discover_foreign_chaddr, XTAP_DROP_SPOOF_DHCP, RULE_PASS },
	{ "BOOTREQUEST from port 40000, foreign chaddr", request_foreign_chaddr_other_sport,
	  XTAP_DROP_SPOOF_DHCP, RULE_PASS },
	{ "DISCOVER, htype 6", discover_htype_6, XTAP_DROP_SPOOF_DHCP, RULE_PASS },
	{ "DISCOVER, hlen 16", discover_hlen_16, XTAP_DROP_SPOOF_DHCP, RULE_PASS },
	{ "OFFER", offer, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "OFFER from port 40000", offer_from_other_sport, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "UDP to port 68", udp_to_68, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "BOOTREPLY to port 67", reply_to_67, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "BOOTREPLY to port 67 from 0.0.0.0", reply_to_67_from_zero, XTAP_DROP_DHCP_SERVER,
	  RULE_PASS },
	{ "UDP from port 67 to 53", udp_from_67, RULE_PASS, RULE_PASS },
	{ "33 bytes to port 67", short_to_67, XTAP_DROP_MALFORMED, RULE_PASS },
	{ "0.0.0.0 from port 1234 to 67", zero_not_dhcp, XTAP_DROP_SPOOF_IPV4, RULE_PASS },
	{ "DISCOVER in a first fragment", discover_first_fragment, XTAP_DROP_FRAGMENT, RULE_PASS },
};

static void test_dhcp_guard_dhcp4(void **s)
{
	(void)s;
	RULES_RUN(dhcp4_cases);
}

/* With --dhcp-server: server messages pass; spoofed client ones and 0.0.0.0 misuse do not. */
static void test_dhcp_guard_dhcp4_server_port(void **s)
{
	static const struct rule_case cases[] = {
		{ "OFFER", offer, RULE_PASS, RULE_SKIP },
		{ "UDP to port 68", udp_to_68, RULE_PASS, RULE_SKIP },
		{ "BOOTREPLY to port 67", reply_to_67, RULE_PASS, RULE_SKIP },
		{ "BOOTREPLY to port 67 from 0.0.0.0", reply_to_67_from_zero, XTAP_DROP_SPOOF_IPV4,
		  RULE_SKIP },
		{ "DISCOVER, foreign chaddr", discover_foreign_chaddr, XTAP_DROP_SPOOF_DHCP,
		  RULE_SKIP },
		{ "DISCOVER in a first fragment", discover_first_fragment, XTAP_DROP_FRAGMENT,
		  RULE_SKIP },
	};

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PA);
	RULES_RUN(cases);
}

/* ---- DHCPv6 ---- */

static void dhcp6(struct pkt *p, const struct rule_ends *e, uint16_t sport, uint16_t dport,
		  int type, size_t len)
{
	rule_ipv6(p, e, IPPROTO_UDP);
	pkt_udp(p, sport, dport, len);
	if (len)
		p->data[p->l4_off + 8] = type;
	pkt_finish(p);
}

static void solicit(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 1, 32); }
static void advertise(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 2, 32); }
static void reply(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 7, 32); }
static void reconfigure(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 10, 32); }
static void relay_repl(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 13, 32); }
static void relay_forw(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 547, 547, 12, 32); }
static void to_546(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 547, 546, 7, 32); }
static void to_546_other_sport(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 40000, 546, 7, 32); }
static void from_547(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 547, 53, 7, 32); }
static void empty_to_547(struct pkt *p, const struct rule_ends *e) { dhcp6(p, e, 546, 547, 0, 0); }

static void solicit_first_fragment(struct pkt *p, const struct rule_ends *e)
{
	rule_ipv6(p, e, IPPROTO_FRAGMENT);
	pkt_ipv6_frag(p, IPPROTO_UDP, 0, true, 9);
	pkt_udp(p, 546, 547, 32);
	p->data[p->l4_off + 8] = 1;
	pkt_finish(p);
}

static const struct rule_case dhcp6_cases[] = {
	{ "SOLICIT", solicit, RULE_PASS, RULE_PASS },
	{ "RELAY-FORW", relay_forw, RULE_PASS, RULE_PASS },
	{ "ADVERTISE to 547", advertise, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "REPLY to 547", reply, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "RECONFIGURE to 547", reconfigure, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "RELAY-REPL to 547", relay_repl, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "REPLY to 546", to_546, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "to 546 from port 40000", to_546_other_sport, XTAP_DROP_DHCP_SERVER, RULE_PASS },
	{ "UDP from port 547 to 53", from_547, RULE_PASS, RULE_PASS },
	{ "empty message to 547", empty_to_547, XTAP_DROP_MALFORMED, RULE_PASS },
	{ "SOLICIT in a first fragment", solicit_first_fragment, XTAP_DROP_FRAGMENT, RULE_PASS },
};

static void test_dhcp_guard_dhcp6(void **s)
{
	(void)s;
	RULES_RUN(dhcp6_cases);
}

static void test_dhcp_guard_dhcp6_server_port(void **s)
{
	static const struct rule_case cases[] = {
		{ "ADVERTISE to 547", advertise, RULE_PASS, RULE_SKIP },
		{ "REPLY to 546", to_546, RULE_PASS, RULE_SKIP },
		{ "empty message to 547", empty_to_547, XTAP_DROP_MALFORMED, RULE_SKIP },
		{ "SOLICIT in a first fragment", solicit_first_fragment, XTAP_DROP_FRAGMENT,
		  RULE_SKIP },
	};

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PA);
	RULES_RUN(cases);
}

/* ---- routers ---- */

static void icmp4(struct pkt *p, const struct rule_ends *e, uint8_t type)
{
	rule_ipv4(p, e, IPPROTO_ICMP);
	pkt_icmp_echo(p, type, 0, 0, 8);
	pkt_finish(p);
}

static void icmp4_redirect(struct pkt *p, const struct rule_ends *e) { icmp4(p, e, 5); }
static void icmp4_router_adv(struct pkt *p, const struct rule_ends *e) { icmp4(p, e, 9); }
static void icmp4_router_sol(struct pkt *p, const struct rule_ends *e) { icmp4(p, e, 10); }
static void icmp4_echo(struct pkt *p, const struct rule_ends *e) { icmp4(p, e, 8); }

static void rs_with(struct pkt *p, const struct rule_ends *e, const uint8_t *mac)
{
	rule_ipv6(p, e, IPPROTO_ICMPV6);
	pkt_icmp6(p, 133, 0, 4);
	if (mac)
		pkt_icmp6_nd_opt(p, 1, mac);
	pkt_finish(p);
}

static void rs_own_slla(struct pkt *p, const struct rule_ends *e) { rs_with(p, e, e->smac); }
static void rs_no_option(struct pkt *p, const struct rule_ends *e) { rs_with(p, e, NULL); }
static void rs_foreign_slla(struct pkt *p, const struct rule_ends *e) { rs_with(p, e, foreign_mac); }

/* An unknown option (type 14) claiming 16 bytes where 8 are left. */
static void rs_option_past_end(struct pkt *p, const struct rule_ends *e)
{
	static const uint8_t opt[8] = { 14, 2, 0, 0, 0, 0, 0, 0 };

	rule_ipv6(p, e, IPPROTO_ICMPV6);
	pkt_icmp6(p, 133, 0, 4);
	pkt_append(p, opt, sizeof(opt));
	pkt_finish(p);
}

static const struct rule_case router_cases[] = {
	{ "RS with an option past its end", rs_option_past_end, XTAP_DROP_MALFORMED, RULE_PASS },
	{ "ICMPv4 redirect", icmp4_redirect, XTAP_DROP_ROUTER_ADV, RULE_PASS },
	{ "ICMPv4 router advertisement", icmp4_router_adv, XTAP_DROP_ROUTER_ADV, RULE_PASS },
	{ "ICMPv4 router solicitation", icmp4_router_sol, RULE_PASS, RULE_PASS },
	{ "ICMPv4 echo", icmp4_echo, RULE_PASS, RULE_PASS },
	{ "RS with our link-layer address", rs_own_slla, RULE_PASS, RULE_PASS },
	{ "RS without options", rs_no_option, RULE_PASS, RULE_PASS },
	{ "RS with a foreign link-layer address", rs_foreign_slla, XTAP_DROP_SPOOF_ND, RULE_PASS },
};

static void test_dhcp_guard_routers(void **s)
{
	(void)s;
	RULES_RUN(router_cases);
}

static void test_dhcp_guard_router_port(void **s)
{
	static const struct rule_case cases[] = {
		{ "ICMPv4 redirect", icmp4_redirect, RULE_PASS, RULE_SKIP },
		{ "ICMPv4 router advertisement", icmp4_router_adv, RULE_PASS, RULE_SKIP },
	};

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_ROUTER;
	fx_apply(PA);
	RULES_RUN(cases);
}

/*
 * The fuzz tier's F4, F5, F9-F13 (tests/fuzz/FINDINGS.md), as found, on
 * ports with the fuzz world's flags where they matter (set per test below).
 */
static const struct hex_case fuzz_cases[] = {
	{ "F4 g1337 #1 v4 first fragment of UDP to 67", 0, FX_B,
	  "02eeeeeeeeee02000000000b08004500002482d520004011c3dc0a00000b0a00000d1392004300180000"
	  "2a948a25d9c7d15b", XTAP_DROP_FRAGMENT },
	{ "F4 g1337 #2 its later fragment", 0, FX_B,
	  "02eeeeeeeeee02000000000b08004500001c82d500024011e3e20a00000b0a00000dc16d8af630763387",
	  RULE_PASS },
	{ "F4 g3252 #1 v6 first fragment of UDP to 547", 0, FX_C,
	  "02000000000a02000000000c86dd6000000000183c4020010db800000000000000000000000c20010db8"
	  "00000000000000000000000b2c0001040000000011000001b999669f0035022300100000",
	  XTAP_DROP_FRAGMENT },
	{ "F5 ICMPv4 router advertisement from vmC", 0, FX_C,
	  "ffffffffffff02000000000c08004500001c7f6900004001f16c0a00000c000000000900000000000000",
	  XTAP_DROP_ROUTER_ADV },
	{ "F9 UDP from 65535 to 68 from vmC", 0, FX_C,
	  "02000000000d02000000000c08004500001c574d0000401119790a00000cffffffffffff004400080000",
	  XTAP_DROP_DHCP_SERVER },
	{ "F10 op 1, htype 0x60 from port 5005 to 67, vmD", 0, FX_D,
	  "ffffffffffff02000000000d0800450000455067000040115e2d0a00000dc0000207138d004300310000"
	  "016077e075701fdc9563d5e60bee22556270ff0b2d8a584feac1507a31530b575ae3ae832662f28b34",
	  XTAP_DROP_SPOOF_DHCP },
	{ "F12 op 0x53 from vmB (no --dhcp-server)", 0, FX_B,
	  "02000000000a02000000000b0800450000443541000040113b5e0a00000b000000000044004300300000"
	  "53255236200892b5a5837290e19ce837c9382701b9bcfab7c73aabfadfdda80d4ea3697ff1155273",
	  XTAP_DROP_DHCP_SERVER },
	{ "F13 RS with a foreign SLLA from vmC", 0, FX_C,
	  "33330000000102000000000c86dd6000000000103a4020010db800000000000000000000000c20010db8"
	  "00000000000000000000000d85000000001000000101020000000099", XTAP_DROP_SPOOF_ND },
};

static void test_dhcp_guard_fuzz_findings(void **s)
{
	(void)s;
	HEX_RUN(fuzz_cases);
}

/* F11, F12 on vmD/vmA with --dhcp-server, as in the fuzz world. */
static void test_dhcp_guard_fuzz_findings_server_ports(void **s)
{
	static const struct hex_case cases[] = {
		{ "F11 0.0.0.0, op 0x20 to 67, vmD", 0, FX_D,
		  "ffffffffffff02000000000d080045000110641d0000401115c100000000ffffffff0044004300fc"
		  "000020010db8dead0000000000000000000500000000000000000000000002000000000d00000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000006382"
		  "5363350103ff",
		  XTAP_DROP_SPOOF_IPV4 },
		{ "F12 op 0xde to 67 from vmD", 0, FX_D,
		  "01005e00000102000000000d08004500003e8ca000004011d9f80a00000d0a00000a004400430"
		  "02a0000deb7971eda8d52e48965eb6c3da66f81574685cdfa3b1034dddac813e68cd847141f",
		  RULE_PASS },
		{ "F12 0.0.0.0, op 0x20 to 67, vmA", 0, FX_A,
		  "ffffffffffff02000000000a080045000110459100004011344d00000000ffffffff0044004300fc"
		  "000020010db800000000000000000000000b00000000000000000000000002100000000a00000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
		  "00000000000000000000000000000000000000000000000000000000000000000000000000006382"
		  "5363350101ff",
		  XTAP_DROP_SPOOF_IPV4 },
	};

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PA);
	PD->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PD);
	HEX_RUN(cases);
}

XTAP_TEST_LIST(dhcp_guard,
	T(test_dhcp_guard_dhcp4),
	T(test_dhcp_guard_dhcp4_server_port),
	T(test_dhcp_guard_dhcp6),
	T(test_dhcp_guard_dhcp6_server_port),
	T(test_dhcp_guard_routers),
	T(test_dhcp_guard_router_port),
	T(test_dhcp_guard_fuzz_findings),
	T(test_dhcp_guard_fuzz_findings_server_ports),
);
