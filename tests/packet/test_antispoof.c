// SPDX-License-Identifier: GPL-2.0
/* Anti-spoofing of frames leaving a VM. Every frame here is sent by port A. */
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

#define FROM_VM XTAP_DIR_FROM_VM

static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
static const uint8_t zero_mac[6];

/* Port A's from-VM program drops p for reason, and counts it once. */
static void expect_drop(const struct pkt *p, int reason)
{
	uint64_t drops = fx_drops(PA, FROM_VM, reason);
	uint64_t all = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP);

	assert_int_equal(fx_from_vm(PA, p), XDP_DROP);
	assert_int_equal(fx_drops(PA, FROM_VM, reason) - drops, 1);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP) - all, 1);
}

/* The next frame waiting on t is exactly p. */
static void expect_frame(struct test_tap *t, const struct pkt *p)
{
	uint8_t buf[PKT_MAX];

	assert_int_equal(tap_read(t, buf, sizeof(buf), NULL), (int)p->len);
	assert_memory_equal(buf, p->data, p->len);
}

/*
 * Port A's frame p is let through with verdict TO_PORT (to B) or FLOOD (to B
 * and the uplink, segment 1): checked once by the return value, then live by
 * where the frame lands; both runs are counted, no drop is.
 */
static void expect_pass(const struct pkt *p, int verdict)
{
	uint64_t passed = fx_verdicts(PA, FROM_VM, verdict);
	uint64_t drops = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP);

	assert_int_equal(fx_from_vm(PA, p), XDP_REDIRECT);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, p);
	assert_int_equal(fx_verdicts(PA, FROM_VM, verdict) - passed, 2);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_DROP) - drops, 0);
	expect_frame(&PB->tap, p);
	if (verdict == XTAP_VERDICT_FLOOD)
		expect_frame(&fx_uplink, p);
	assert_int_equal(fx_tap_frames(&PB->tap), 0);
	assert_int_equal(fx_tap_frames(&fx_uplink), 0);
	assert_int_equal(fx_tap_frames(&PA->tap), 0);
	assert_int_equal(fx_tap_frames(&PC->tap), 0);
	assert_int_equal(fx_tap_frames(&PD->tap), 0);
}

static struct in6_addr link_local(const struct fx_port *port)
{
	struct in6_addr a;

	xtap_ipv6_link_local(a.s6_addr, port->mac);
	return a;
}

/* UDP from A with IPv4 source src to B. */
static void udp4_from(struct pkt *p, uint32_t src)
{
	fx_eth_ipv4(p, PA, PB->mac, src, PB->ip4, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, 32);
	pkt_finish(p);
}

/* A broadcast BOOTP message from A. */
static void dhcp4(struct pkt *p, uint32_t src, uint16_t sport, uint16_t dport, uint8_t op,
		  const uint8_t chaddr[6])
{
	fx_eth_ipv4(p, PA, fx_bcast, src, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(p, sport, dport, 0);
	pkt_dhcp4(p, op, chaddr);
	pkt_finish(p);
}

/* A broadcast ARP request from A for B's address. */
static void arp_request(struct pkt *p, const uint8_t sha[6], uint32_t spa)
{
	pkt_init(p);
	pkt_eth(p, fx_bcast, PA->mac, ETH_P_ARP);
	pkt_arp(p, 1, sha, spa, zero_mac, PB->ip4);
}

/* An unfinished ICMPv6/IPv6 frame from A to a multicast group (its MAC derived). */
static void icmp6_multicast(struct pkt *p, const struct in6_addr *src, const struct in6_addr *dst)
{
	const uint8_t mac[6] = { 0x33, 0x33, dst->s6_addr[12], dst->s6_addr[13],
				 dst->s6_addr[14], dst->s6_addr[15] };

	fx_eth_ipv6(p, PA, mac, src, dst, IPPROTO_ICMPV6);
}

/* An NS from src for target, to target's solicited-node group; options may follow. */
static void solicit(struct pkt *p, const struct in6_addr *src, const struct in6_addr *target)
{
	struct in6_addr group = pkt_ip6("ff02::1:ff00:0");

	memcpy(&group.s6_addr[13], &target->s6_addr[13], 3);
	icmp6_multicast(p, src, &group);
	pkt_icmp6_ns(p, target);
}

/* A solicited NA from A to B for target; options may follow. */
static void advertise(struct pkt *p, const struct in6_addr *target)
{
	fx_eth_ipv6(p, PA, PB->mac, &PA->ip6, &PB->ip6, IPPROTO_ICMPV6);
	pkt_icmp6_na(p, target, PKT_NA_SOLICITED | PKT_NA_OVERRIDE);
}

/* UDP/IPv6 from src to dst, unicast to B's MAC. */
static void udp6_to_b(struct pkt *p, const struct in6_addr *src, const struct in6_addr *dst,
		      uint16_t sport, uint16_t dport)
{
	fx_eth_ipv6(p, PA, PB->mac, src, dst, IPPROTO_UDP);
	pkt_udp(p, sport, dport, 32);
	pkt_finish(p);
}

/* ---- Ethernet ---- */

static void test_ipv4_good_to_port(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_spoof_mac(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	p.data[11] ^= 0x10;   /* source MAC */
	expect_drop(&p, XTAP_DROP_SPOOF_MAC);
}

static void test_vlan_tagged_dropped(void **s)
{
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_eth(&p, PB->mac, PA->mac, ETH_P_8021Q);
	pkt_vlan(&p, 5, ETH_P_IP);
	pkt_ipv4(&p, PA->ip4, PB->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_VLAN_TAGGED);
}

static void test_lldp_ethertype_dropped(void **s)
{
	static const uint8_t lldp_mac[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_eth(&p, lldp_mac, PA->mac, ETH_P_LLDP);
	pkt_payload(&p, 46);
	expect_drop(&p, XTAP_DROP_ETHERTYPE);
}

/* ---- IPv4 source ---- */

static void test_ipv4_prefix_edges_pass(void **s)
{
	struct pkt p;

	(void)s;
	udp4_from(&p, pkt_ip4("10.1.1.0"));
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
	udp4_from(&p, pkt_ip4("10.1.1.255"));
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_ipv4_just_outside_prefix_spoof(void **s)
{
	struct pkt p;

	(void)s;
	udp4_from(&p, pkt_ip4("10.1.2.0"));
	expect_drop(&p, XTAP_DROP_SPOOF_IPV4);
	udp4_from(&p, pkt_ip4("10.1.0.255"));
	expect_drop(&p, XTAP_DROP_SPOOF_IPV4);
}

static void test_ipv4_foreign_source_spoof(void **s)
{
	struct pkt p;

	(void)s;
	udp4_from(&p, pkt_ip4("192.0.2.77"));
	expect_drop(&p, XTAP_DROP_SPOOF_IPV4);
}

/* ---- DHCPv4 ---- */

static void test_dhcp4_discover_own_chaddr_floods(void **s)
{
	struct pkt p;

	(void)s;
	dhcp4(&p, 0, 68, 67, 1, PA->mac);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

static void test_dhcp4_discover_foreign_chaddr_spoof(void **s)
{
	struct pkt p;

	(void)s;
	dhcp4(&p, 0, 68, 67, 1, other_mac);
	expect_drop(&p, XTAP_DROP_SPOOF_DHCP);
}

static void test_unspecified_source_not_dhcp_spoof(void **s)
{
	struct pkt p;

	(void)s;
	udp4_from(&p, 0);
	expect_drop(&p, XTAP_DROP_SPOOF_IPV4);
}

static void test_dhcp4_server_reply_dropped(void **s)
{
	struct pkt p;

	(void)s;
	dhcp4(&p, PA->ip4, 67, 68, 2, PB->mac);
	expect_drop(&p, XTAP_DROP_DHCP_SERVER);
}

static void test_dhcp4_server_allowed_by_flag(void **s)
{
	struct pkt p;

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PA);
	dhcp4(&p, PA->ip4, 67, 68, 2, PB->mac);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

/* ---- ARP ---- */

static void test_arp_request_own_addresses_floods(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p, PA->mac, PA->ip4);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

static void test_arp_foreign_sender_mac_spoof(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p, other_mac, PA->ip4);
	expect_drop(&p, XTAP_DROP_SPOOF_ARP);
}

static void test_arp_foreign_sender_ip_spoof(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p, PA->mac, PB->ip4);
	expect_drop(&p, XTAP_DROP_SPOOF_ARP);
}

static void test_arp_probe_floods(void **s)
{
	struct pkt p;

	(void)s;
	arp_request(&p, PA->mac, 0);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

/* ---- IPv6 source ---- */

static void test_ipv6_allowed_source_passes(void **s)
{
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &PA->ip6, &PB->ip6, 40000, 53);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_ipv6_foreign_source_spoof(void **s)
{
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &PC->ip6, &PB->ip6, 40000, 53);
	expect_drop(&p, XTAP_DROP_SPOOF_IPV6);
}

static void test_ipv6_eui64_link_local_passes(void **s)
{
	struct in6_addr a = link_local(PA), b = link_local(PB);
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &a, &b, 40000, 53);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_ipv6_other_link_local_spoof(void **s)
{
	struct in6_addr a = pkt_ip6("fe80::1"), b = link_local(PB);
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &a, &b, 40000, 53);
	expect_drop(&p, XTAP_DROP_SPOOF_IPV6);
}

/* ---- IPv6 from :: (DAD) ---- */

static void test_dad_ns_own_target_floods(void **s)
{
	struct in6_addr any = pkt_ip6("::");
	struct pkt p;

	(void)s;
	solicit(&p, &any, &PA->ip6);
	pkt_finish(&p);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

static void test_dad_ns_foreign_target_spoof(void **s)
{
	struct in6_addr any = pkt_ip6("::");
	struct pkt p;

	(void)s;
	solicit(&p, &any, &PB->ip6);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

/* RFC 4862: a DAD NS has no source link-layer option, not even the right one. */
static void test_dad_ns_with_slla_spoof(void **s)
{
	struct in6_addr any = pkt_ip6("::");
	struct pkt p;

	(void)s;
	solicit(&p, &any, &PA->ip6);
	pkt_icmp6_nd_opt(&p, 1, PA->mac);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

static void test_unspecified_source_udp_spoof(void **s)
{
	struct in6_addr any = pkt_ip6("::"), b = link_local(PB);
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &any, &b, 546, 547);
	expect_drop(&p, XTAP_DROP_SPOOF_IPV6);
}

static void test_unspecified_source_mldv2_report_floods(void **s)
{
	struct in6_addr any = pkt_ip6("::"), all_mld = pkt_ip6("ff02::16");
	uint8_t mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x16 };
	struct pkt p;

	(void)s;
	/* As a guest sends it: behind a hop-by-hop header (router alert). */
	fx_eth_ipv6(&p, PA, mac, &any, &all_mld, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, IPPROTO_ICMPV6);
	pkt_icmp6(&p, 143, 0, 4);
	pkt_finish(&p);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

/* ---- Neighbour discovery ---- */

static void test_ns_own_slla_floods(void **s)
{
	struct pkt p;

	(void)s;
	solicit(&p, &PA->ip6, &PB->ip6);
	pkt_icmp6_nd_opt(&p, 1, PA->mac);
	pkt_finish(&p);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

static void test_ns_foreign_slla_spoof(void **s)
{
	struct pkt p;

	(void)s;
	solicit(&p, &PA->ip6, &PB->ip6);
	pkt_icmp6_nd_opt(&p, 1, other_mac);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

static void test_na_own_target_own_tlla_passes(void **s)
{
	struct pkt p;

	(void)s;
	advertise(&p, &PA->ip6);
	pkt_icmp6_nd_opt(&p, 2, PA->mac);
	pkt_finish(&p);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_na_foreign_target_spoof(void **s)
{
	struct pkt p;

	(void)s;
	advertise(&p, &PB->ip6);
	pkt_icmp6_nd_opt(&p, 2, PA->mac);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

static void test_na_foreign_tlla_spoof(void **s)
{
	struct pkt p;

	(void)s;
	advertise(&p, &PA->ip6);
	pkt_icmp6_nd_opt(&p, 2, other_mac);
	pkt_finish(&p);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

/* n - 1 options of an unknown type (ignored by ND), then SLLA = port MAC. */
static void ns_with_options(struct pkt *p, int n)
{
	static const uint8_t unknown_opt[8] = { 200, 1 };
	int i;

	solicit(p, &PA->ip6, &PB->ip6);
	for (i = 0; i < n - 1; i++)
		pkt_append(p, unknown_opt, sizeof(unknown_opt));
	pkt_icmp6_nd_opt(p, 1, PA->mac);
	pkt_finish(p);
}

static void test_ns_four_options_pass(void **s)
{
	struct pkt p;

	(void)s;
	ns_with_options(&p, 4);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
}

/* The fifth option is not checked, so it could hide a spoofed SLLA: refused. */
static void test_ns_five_options_spoof(void **s)
{
	struct pkt p;

	(void)s;
	ns_with_options(&p, 5);
	expect_drop(&p, XTAP_DROP_SPOOF_ND);
}

/* ---- Routers and DHCP servers ---- */

static void router_advert(struct pkt *p)
{
	struct in6_addr ll = link_local(PA), all_nodes = pkt_ip6("ff02::1");

	icmp6_multicast(p, &ll, &all_nodes);
	pkt_icmp6(p, 134, 0, 12);
	pkt_finish(p);
}

/* A redirect from A to B: reserved word, target and destination addresses. */
static void redirect(struct pkt *p)
{
	struct in6_addr a = link_local(PA), b = link_local(PB);

	fx_eth_ipv6(p, PA, PB->mac, &a, &b, IPPROTO_ICMPV6);
	pkt_icmp6(p, 137, 0, 36);
	pkt_finish(p);
}

static void test_router_advert_dropped(void **s)
{
	struct pkt p;

	(void)s;
	router_advert(&p);
	expect_drop(&p, XTAP_DROP_ROUTER_ADV);
}

static void test_icmp6_redirect_dropped(void **s)
{
	struct pkt p;

	(void)s;
	redirect(&p);
	expect_drop(&p, XTAP_DROP_ROUTER_ADV);
}

static void test_router_allowed_by_flag(void **s)
{
	struct pkt p;

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_ROUTER;
	fx_apply(PA);
	router_advert(&p);
	expect_pass(&p, XTAP_VERDICT_FLOOD);
	redirect(&p);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

static void test_dhcp6_server_reply_dropped(void **s)
{
	struct in6_addr a = link_local(PA), b = link_local(PB);
	struct pkt p;

	(void)s;
	udp6_to_b(&p, &a, &b, 547, 546);
	expect_drop(&p, XTAP_DROP_DHCP_SERVER);
}

static void test_dhcp6_server_allowed_by_flag(void **s)
{
	struct in6_addr a = link_local(PA), b = link_local(PB);
	struct pkt p;

	(void)s;
	PA->spec.flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	fx_apply(PA);
	udp6_to_b(&p, &a, &b, 547, 546);
	expect_pass(&p, XTAP_VERDICT_TO_PORT);
}

XTAP_TEST_LIST(antispoof,
	T(test_ipv4_good_to_port),
	T(test_spoof_mac),
	T(test_vlan_tagged_dropped),
	T(test_lldp_ethertype_dropped),
	T(test_ipv4_prefix_edges_pass),
	T(test_ipv4_just_outside_prefix_spoof),
	T(test_ipv4_foreign_source_spoof),
	T(test_dhcp4_discover_own_chaddr_floods),
	T(test_dhcp4_discover_foreign_chaddr_spoof),
	T(test_unspecified_source_not_dhcp_spoof),
	T(test_dhcp4_server_reply_dropped),
	T(test_dhcp4_server_allowed_by_flag),
	T(test_arp_request_own_addresses_floods),
	T(test_arp_foreign_sender_mac_spoof),
	T(test_arp_foreign_sender_ip_spoof),
	T(test_arp_probe_floods),
	T(test_ipv6_allowed_source_passes),
	T(test_ipv6_foreign_source_spoof),
	T(test_ipv6_eui64_link_local_passes),
	T(test_ipv6_other_link_local_spoof),
	T(test_dad_ns_own_target_floods),
	T(test_dad_ns_foreign_target_spoof),
	T(test_dad_ns_with_slla_spoof),
	T(test_unspecified_source_udp_spoof),
	T(test_unspecified_source_mldv2_report_floods),
	T(test_ns_own_slla_floods),
	T(test_ns_foreign_slla_spoof),
	T(test_na_own_target_own_tlla_passes),
	T(test_na_foreign_target_spoof),
	T(test_na_foreign_tlla_spoof),
	T(test_ns_four_options_pass),
	T(test_ns_five_options_spoof),
	T(test_router_advert_dropped),
	T(test_icmp6_redirect_dropped),
	T(test_router_allowed_by_flag),
	T(test_dhcp6_server_reply_dropped),
	T(test_dhcp6_server_allowed_by_flag),
);
