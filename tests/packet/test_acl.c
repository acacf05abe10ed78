// SPDX-License-Identifier: GPL-2.0
/* ACLs: CIDR, protocol and port matching, priority, defaults, hit counters, limits. */
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "tests.h"

#define ALL_PORTS 0, 0xFFFF
#define FROM_VM   XTAP_DIR_FROM_VM
#define TO_VM     XTAP_DIR_TO_VM

/* Appends a rule; cidr is "a.b.c.d/n", "x::/n", or NULL for any address of both families. */
static void rule(struct xtap_acl_spec *acl, uint32_t id, uint16_t prio, uint8_t action,
		 const char *cidr, uint8_t proto, uint16_t port_min, uint16_t port_max)
{
	struct xtap_acl_rule_spec *r = &acl->rules[acl->n_rules++];
	const char *slash;
	char addr[64];

	memset(r, 0, sizeof(*r));
	r->rule_id = id;
	r->priority = prio;
	r->action = action;
	r->proto = proto;
	r->port_min = port_min;
	r->port_max = port_max;
	if (!cidr)
		return;
	slash = strchr(cidr, '/');
	assert_non_null(slash);
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - cidr), cidr);
	r->cidr.prefixlen = (uint8_t)atoi(slash + 1);
	if (strchr(addr, ':')) {
		struct in6_addr a = pkt_ip6(addr);

		r->cidr.family = 6;
		memcpy(r->cidr.addr, &a, 16);
	} else {
		uint32_t a = pkt_ip4(addr);

		r->cidr.family = 4;
		memcpy(r->cidr.addr, &a, 4);
	}
}

static void l4(struct pkt *p, uint8_t proto, uint16_t dport)
{
	if (proto == IPPROTO_TCP)
		pkt_tcp(p, 40000, dport, PKT_TCP_SYN, 10);
	else if (proto == IPPROTO_UDP)
		pkt_udp(p, 40000, dport, 10);
	else
		pkt_icmp_echo(p, 8, 1, 1, 10);
	pkt_finish(p);
}

/* A frame from A (its MAC and addresses) to B's MAC and the remote address dst. */
static void frame4(struct pkt *p, const char *dst, uint8_t proto, uint16_t dport)
{
	fx_eth_ipv4(p, PA, PB->mac, PA->ip4, pkt_ip4(dst), proto);
	l4(p, proto, dport);
}

static void frame6(struct pkt *p, const char *dst, uint8_t proto, uint16_t dport)
{
	struct in6_addr d = pkt_ip6(dst);

	fx_eth_ipv6(p, PA, PB->mac, &PA->ip6, &d, proto);
	l4(p, proto, dport);
}

/* Runs "from VM" on A: allowed frames go to B, denied ones count as ACL drops. */
static void expect_from_a(const struct pkt *p, bool allowed)
{
	uint64_t acl = fx_drops(PA, FROM_VM, XTAP_DROP_ACL);
	uint64_t fwd = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT);

	assert_int_equal(fx_from_vm(PA, p), allowed ? XDP_REDIRECT : XDP_DROP);
	assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_ACL) - acl, allowed ? 0 : 1);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT) - fwd, allowed ? 1 : 0);
}

/* Builds an IPv4 frame from A and checks its verdict; returns its length. */
static size_t check4(const char *dst, uint8_t proto, uint16_t dport, bool allowed)
{
	struct pkt p;

	frame4(&p, dst, proto, dport);
	expect_from_a(&p, allowed);
	return p.len;
}

static size_t check6(const char *dst, uint8_t proto, uint16_t dport, bool allowed)
{
	struct pkt p;

	frame6(&p, dst, proto, dport);
	expect_from_a(&p, allowed);
	return p.len;
}

/* Runs "to VM" (tc egress) on B. */
static void expect_to_b(const struct pkt *p, bool allowed)
{
	uint64_t acl = fx_drops(PB, TO_VM, XTAP_DROP_ACL);
	uint64_t dlv = fx_verdicts(PB, TO_VM, XTAP_VERDICT_DELIVER);
	struct fx_result r;

	fx_run_tc(XTAP_PROG_TO_VM_TC, PB->tap.ifindex, p, &r);
	assert_int_equal(r.retval, allowed ? TC_ACT_OK : TC_ACT_SHOT);
	assert_int_equal(fx_drops(PB, TO_VM, XTAP_DROP_ACL) - acl, allowed ? 0 : 1);
	assert_int_equal(fx_verdicts(PB, TO_VM, XTAP_VERDICT_DELIVER) - dlv, allowed ? 1 : 0);
}

static void expect_hits(const struct fx_port *p, uint32_t rule_id, struct xtap_counter before,
			uint64_t packets, uint64_t bytes)
{
	struct xtap_counter now = fx_acl_hits(p, rule_id);

	assert_int_equal(now.packets - before.packets, packets);
	assert_int_equal(now.bytes - before.bytes, bytes);
}

static bool hit_counter_exists(const struct fx_port *p, uint32_t rule_id)
{
	struct xtap_counter sum;

	return xtap_acl_hits_read(&fx_dp, p->spec.ifindex, rule_id, &sum) == 0;
}

static void port_value(const struct fx_port *p, struct xtap_port *out)
{
	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORTS),
					     &p->spec.ifindex, out), 0);
}

/* The write fails with a message and leaves the port's map entry as it was. */
static void expect_write_rejected(struct fx_port *p)
{
	struct xtap_port before, after;
	struct xtap_err err = {};

	port_value(p, &before);
	assert_true(xtap_port_write(&fx_dp, &p->spec, &err) < 0);
	assert_true(err.msg[0] != '\0');
	port_value(p, &after);
	assert_memory_equal(&before, &after, sizeof(before));
}

static void test_acl_cidr_proto_port_range(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	rule(acl, 1, 10, XTAP_ACL_DENY, "10.0.0.0/24", IPPROTO_TCP, 80, 90);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	len = check4("10.0.0.20", IPPROTO_TCP, 80, false);
	check4("10.0.0.20", IPPROTO_TCP, 90, false);
	check4("10.0.0.20", IPPROTO_TCP, 79, true);
	check4("10.0.0.20", IPPROTO_TCP, 91, true);
	check4("10.0.0.0", IPPROTO_TCP, 80, false);
	check4("10.0.0.255", IPPROTO_TCP, 80, false);
	check4("10.0.1.0", IPPROTO_TCP, 80, true);
	check4("10.0.0.20", IPPROTO_UDP, 80, true);
	expect_hits(PA, 1, h, 4, 4 * len);
}

static void test_acl_lower_priority_value_wins(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];

	(void)s;
	/* Inserted after the deny: only its priority puts it first. */
	rule(acl, 1, 10, XTAP_ACL_DENY, "10.0.0.0/24", 0, ALL_PORTS);
	rule(acl, 2, 5, XTAP_ACL_ALLOW, "10.0.0.20/32", 0, ALL_PORTS);
	fx_apply(PA);
	check4("10.0.0.20", IPPROTO_UDP, 53, true);
	check4("10.0.0.21", IPPROTO_UDP, 53, false);

	acl->rules[0].priority = 5;
	acl->rules[1].priority = 10;
	fx_apply(PA);
	check4("10.0.0.20", IPPROTO_UDP, 53, false);
	check4("10.0.0.21", IPPROTO_UDP, 53, false);
}

static void test_acl_equal_priority_keeps_insertion_order(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];

	(void)s;
	rule(acl, 1, 7, XTAP_ACL_ALLOW, "10.0.0.20/32", 0, ALL_PORTS);
	rule(acl, 2, 7, XTAP_ACL_DENY, "10.0.0.0/24", 0, ALL_PORTS);
	fx_apply(PA);
	check4("10.0.0.20", IPPROTO_UDP, 53, true);

	acl->n_rules = 0;
	rule(acl, 2, 7, XTAP_ACL_DENY, "10.0.0.0/24", 0, ALL_PORTS);
	rule(acl, 1, 7, XTAP_ACL_ALLOW, "10.0.0.20/32", 0, ALL_PORTS);
	fx_apply(PA);
	check4("10.0.0.20", IPPROTO_UDP, 53, false);
}

static void test_acl_default_deny_with_one_allow(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	acl->default_action = XTAP_ACL_DENY;
	rule(acl, 1, 1, XTAP_ACL_ALLOW, "10.0.0.20/32", IPPROTO_TCP, 80, 80);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	len = check4("10.0.0.20", IPPROTO_TCP, 80, true);
	check4("10.0.0.20", IPPROTO_TCP, 81, false);   /* CIDR matches, port does not */
	check4("10.0.0.21", IPPROTO_TCP, 80, false);   /* no CIDR matches */
	check6("2001:db8::b", IPPROTO_TCP, 80, false); /* no IPv6 rule at all */
	expect_hits(PA, 1, h, 1, len);
}

static void test_acl_ipv6_prefix_edges(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	rule(acl, 1, 1, XTAP_ACL_DENY, "2001:db8:1::/48", IPPROTO_UDP, 53, 53);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	len = check6("2001:db8:1::", IPPROTO_UDP, 53, false);
	check6("2001:db8:1:ffff:ffff:ffff:ffff:ffff", IPPROTO_UDP, 53, false);
	check6("2001:db8:0:ffff:ffff:ffff:ffff:ffff", IPPROTO_UDP, 53, true);
	check6("2001:db8:2::", IPPROTO_UDP, 53, true);
	check6("2001:db8:1::1", IPPROTO_UDP, 54, true);
	check6("2001:db8:1::1", IPPROTO_TCP, 53, true);
	check4("10.0.0.20", IPPROTO_UDP, 53, true);
	expect_hits(PA, 1, h, 2, 2 * len);
}

static void test_acl_any_family_rule_matches_ipv4_and_ipv6(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len4, len6;

	(void)s;
	rule(acl, 1, 1, XTAP_ACL_DENY, NULL, IPPROTO_UDP, ALL_PORTS);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	len4 = check4("192.0.2.1", IPPROTO_UDP, 53, false);
	len6 = check6("2001:db8:ffff::1", IPPROTO_UDP, 53, false);
	check4("192.0.2.1", IPPROTO_TCP, 53, true);
	check6("2001:db8:ffff::1", IPPROTO_TCP, 53, true);
	expect_hits(PA, 1, h, 2, len4 + len6);
}

static void test_acl_port_rule_ignores_icmp(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	/* Any protocol, ports 0-1000: ICMP has no ports, so not even port 0 matches. */
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.0/24", 0, 0, 1000);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	check4("10.0.0.20", IPPROTO_ICMP, 0, true);
	len = check4("10.0.0.20", IPPROTO_UDP, 53, false);
	expect_hits(PA, 1, h, 1, len);
}

/* A TCP/IPv4 fragment to 10.0.0.20 whose first payload bytes look like a TCP header to port 80. */
static void tcp_fragment(struct pkt *p, uint16_t frag_off, bool more)
{
	static const uint8_t fake_tcp[20] = { 0x9c, 0x40, 0x00, 80, [12] = 0x50 };
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;

	o.frag_off = frag_off;
	o.mf = more;
	pkt_init(p);
	pkt_eth(p, PB->mac, PA->mac, ETH_P_IP);
	pkt_ipv4_ex(p, PA->ip4, pkt_ip4("10.0.0.20"), IPPROTO_TCP, &o);
	if (frag_off)
		pkt_append(p, fake_tcp, sizeof(fake_tcp));
	else
		pkt_tcp(p, 40000, 80, PKT_TCP_SYN, 0);
	pkt_finish(p);
}

static void test_acl_later_fragment_matches_protocol_not_ports(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct pkt first, later;
	struct xtap_counter h;

	(void)s;
	tcp_fragment(&first, 0, true);
	tcp_fragment(&later, 185, false);
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.0/24", IPPROTO_TCP, 80, 80);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);
	expect_from_a(&first, false);
	expect_from_a(&later, true);
	expect_hits(PA, 1, h, 1, first.len);

	acl->n_rules = 0;
	rule(acl, 2, 1, XTAP_ACL_DENY, "10.0.0.0/24", IPPROTO_TCP, ALL_PORTS);
	fx_apply(PA);
	h = fx_acl_hits(PA, 2);
	expect_from_a(&later, false);
	expect_hits(PA, 2, h, 1, later.len);
}

static void test_acl_arp_passes_default_deny(void **s)
{
	uint64_t flood = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_FLOOD);
	uint64_t acl = fx_drops(PA, FROM_VM, XTAP_DROP_ACL);
	struct pkt req, reply;

	(void)s;
	PA->spec.acl[FROM_VM].default_action = XTAP_ACL_DENY;
	PB->spec.acl[TO_VM].default_action = XTAP_ACL_DENY;
	fx_apply(PA);
	fx_apply(PB);

	pkt_init(&req);
	pkt_eth(&req, fx_bcast, PA->mac, ETH_P_ARP);
	pkt_arp(&req, 1, PA->mac, PA->ip4, fx_bcast, PB->ip4);
	pkt_finish(&req);
	assert_int_equal(fx_from_vm(PA, &req), XDP_REDIRECT);
	assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_FLOOD) - flood, 1);
	assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_ACL) - acl, 0);

	pkt_init(&reply);
	pkt_eth(&reply, PB->mac, PA->mac, ETH_P_ARP);
	pkt_arp(&reply, 2, PA->mac, PA->ip4, PB->mac, PB->ip4);
	pkt_finish(&reply);
	expect_to_b(&reply, true);

	/* The defaults are in force for IP. */
	check4("10.0.0.11", IPPROTO_UDP, 53, false);
}

static void test_acl_to_vm_matches_source(void **s)
{
	struct xtap_acl_spec *acl = &PB->spec.acl[TO_VM];
	struct xtap_counter h1, h2;
	struct pkt from_a, from_other;

	(void)s;
	acl->default_action = XTAP_ACL_DENY;
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.10/32", 0, ALL_PORTS);
	rule(acl, 2, 2, XTAP_ACL_ALLOW, "10.0.0.0/24", 0, ALL_PORTS);
	fx_apply(PB);
	h1 = fx_acl_hits(PB, 1);
	h2 = fx_acl_hits(PB, 2);

	/* Both go to B's address 10.0.0.11, which rule 2 contains: only the source decides. */
	fx_udp4(&from_a, PA, PB, 53, 10);
	fx_eth_ipv4(&from_other, PA, PB->mac, pkt_ip4("10.0.0.99"), PB->ip4, IPPROTO_UDP);
	l4(&from_other, IPPROTO_UDP, 53);
	expect_to_b(&from_a, false);
	expect_to_b(&from_other, true);
	expect_hits(PB, 1, h1, 1, from_a.len);
	expect_hits(PB, 2, h2, 1, from_other.len);
	/*
	 * The rules are B's "to VM" ones: A may still send (its from-VM counts
	 * the frame to_port, no ACL drop), and B's to-VM policy, applied in A's
	 * program for a unicast redirect (bpf/deliver.h), refuses it there.
	 */
	{
		uint64_t fwd = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT);
		uint64_t a_acl = fx_drops(PA, FROM_VM, XTAP_DROP_ACL);
		uint64_t b_acl = fx_drops(PB, TO_VM, XTAP_DROP_ACL);

		assert_int_equal(fx_from_vm(PA, &from_a), XDP_DROP);
		assert_int_equal(fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT) - fwd, 1);
		assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_ACL) - a_acl, 0);
		assert_int_equal(fx_drops(PB, TO_VM, XTAP_DROP_ACL) - b_acl, 1);
	}
}

/* n rules that contain 10.0.0.20 (prefixes /16 to /24) but only match UDP to ports 1000 + i. */
static void udp_filler_rules(struct xtap_acl_spec *acl, int n)
{
	char cidr[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(cidr, sizeof(cidr), "10.0.0.0/%d", 16 + i % 9);
		rule(acl, 100 + i, (uint16_t)i, XTAP_ACL_DENY, cidr, IPPROTO_UDP,
		     (uint16_t)(1000 + i), (uint16_t)(1000 + i));
	}
}

static void test_acl_256_rules_last_ranked_matches(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	udp_filler_rules(acl, XTAP_MAX_ACL_RULES - 1);
	rule(acl, 1, 1000, XTAP_ACL_DENY, "10.0.0.20/32", IPPROTO_TCP, 80, 80);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	len = check4("10.0.0.20", IPPROTO_TCP, 80, false);
	check4("10.0.0.21", IPPROTO_TCP, 80, true);
	check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_MAX_ACL_RULES - 2, false);
	expect_hits(PA, 1, h, 1, len);
}

/* The first candidates come with the LPM match, the rest from the rule set: no rule lost or seen twice at the seam. */
static void test_acl_candidates_past_the_inline_ones(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h3, h4, h5;
	size_t len;

	(void)s;
	udp_filler_rules(acl, XTAP_ACL_INLINE + 2);
	fx_apply(PA);
	h3 = fx_acl_hits(PA, 100 + XTAP_ACL_INLINE - 1);
	h4 = fx_acl_hits(PA, 100 + XTAP_ACL_INLINE);
	h5 = fx_acl_hits(PA, 100 + XTAP_ACL_INLINE + 1);

	len = check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_ACL_INLINE - 1, false);
	check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_ACL_INLINE, false);
	check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_ACL_INLINE, false);
	check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_ACL_INLINE + 1, false);
	check4("10.0.0.20", IPPROTO_UDP, 1000 + XTAP_ACL_INLINE + 2, true);
	expect_hits(PA, 100 + XTAP_ACL_INLINE - 1, h3, 1, len);
	expect_hits(PA, 100 + XTAP_ACL_INLINE, h4, 2, 2 * len);
	expect_hits(PA, 100 + XTAP_ACL_INLINE + 1, h5, 1, len);
}

static void test_acl_257_rules_rejected_old_policy_stays(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.20/32", IPPROTO_TCP, 80, 80);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);
	len = check4("10.0.0.20", IPPROTO_TCP, 80, false);

	acl->n_rules = 0;
	udp_filler_rules(acl, XTAP_MAX_ACL_RULES);
	acl->n_rules = XTAP_MAX_ACL_RULES + 1;
	expect_write_rejected(PA);

	check4("10.0.0.20", IPPROTO_TCP, 80, false);
	check4("10.0.0.20", IPPROTO_UDP, 1000, true);
	expect_hits(PA, 1, h, 2, 2 * len);
}

static void test_acl_reversed_port_range_rejected(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h;
	size_t len;

	(void)s;
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.20/32", IPPROTO_TCP, 80, 80);
	fx_apply(PA);
	h = fx_acl_hits(PA, 1);

	acl->n_rules = 0;
	rule(acl, 2, 1, XTAP_ACL_DENY, "10.0.0.21/32", IPPROTO_TCP, 90, 80);
	expect_write_rejected(PA);

	len = check4("10.0.0.20", IPPROTO_TCP, 80, false);
	check4("10.0.0.21", IPPROTO_TCP, 85, true);
	expect_hits(PA, 1, h, 1, len);
	assert_false(hit_counter_exists(PA, 2));
}

/* A hit counter follows its rule id, so an id may serve one direction only. */
static void test_acl_rule_id_reused_across_directions_rejected(void **s)
{
	(void)s;
	rule(&PA->spec.acl[FROM_VM], 1, 1, XTAP_ACL_DENY, "10.0.0.20/32", 0, ALL_PORTS);
	rule(&PA->spec.acl[TO_VM], 1, 1, XTAP_ACL_DENY, "10.0.0.11/32", 0, ALL_PORTS);
	expect_write_rejected(PA);
	check4("10.0.0.20", IPPROTO_UDP, 53, true);
}

static void test_acl_replace_keeps_hits_of_kept_rule_ids(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_counter h1, kept;
	size_t len;

	(void)s;
	rule(acl, 1, 1, XTAP_ACL_DENY, "10.0.0.20/32", 0, ALL_PORTS);
	rule(acl, 2, 2, XTAP_ACL_DENY, "10.0.0.21/32", 0, ALL_PORTS);
	fx_apply(PA);
	h1 = fx_acl_hits(PA, 1);
	len = check4("10.0.0.20", IPPROTO_UDP, 53, false);
	check4("10.0.0.21", IPPROTO_UDP, 53, false);
	expect_hits(PA, 1, h1, 1, len);
	kept = fx_acl_hits(PA, 1);

	/* Rule 1 moves to another rank and priority; rule 2 goes; rule 3 is new. */
	acl->n_rules = 0;
	rule(acl, 3, 1, XTAP_ACL_DENY, "10.0.0.22/32", 0, ALL_PORTS);
	rule(acl, 1, 9, XTAP_ACL_DENY, "10.0.0.20/32", 0, ALL_PORTS);
	fx_apply(PA);
	expect_hits(PA, 1, kept, 0, 0);
	assert_false(hit_counter_exists(PA, 2));
	assert_int_equal(fx_acl_hits(PA, 3).packets, 0);

	check4("10.0.0.20", IPPROTO_UDP, 53, false);
	check4("10.0.0.21", IPPROTO_UDP, 53, true);
	expect_hits(PA, 1, kept, 1, len);
}

/* Trie entries of ACL set `set` in the IPv4 (fam 4) or IPv6 trie, counted by walking its keys as bpftool does. */
static int acl_entries(int fam, uint32_t set)
{
	int fd = xtap_map_fd(&fx_dp, fam == 4 ? XTAP_MAP_ACL4 : XTAP_MAP_ACL6), n = 0;
	struct xtap_ip6_key k6, next6;
	struct xtap_ip4_key k4, next4;
	void *cur = NULL, *next = fam == 4 ? (void *)&next4 : (void *)&next6;

	while (!bpf_map_get_next_key(fd, cur, next)) {
		n += (fam == 4 ? next4.set : next6.set) == set;
		if (fam == 4)
			k4 = next4;
		else
			k6 = next6;
		cur = fam == 4 ? (void *)&k4 : (void *)&k6;
	}
	return n;
}

/* 198.18.0.0/15 holds 512 /24s: the i-th one, as text, and an address in it. */
static const char *net24(int i, char *buf, size_t len)
{
	snprintf(buf, len, "198.%d.%d.0/24", 18 + (i >> 8 & 1), i & 0xff);
	return buf;
}

static const char *host24(int i, char *buf, size_t len)
{
	snprintf(buf, len, "198.%d.%d.5", 18 + (i >> 8 & 1), i & 0xff);
	return buf;
}

/* The dedicated deny of /24 number i (rule id 1000 + i), at equal priority: appended. */
static void churn_rule(struct xtap_acl_spec *acl, int i)
{
	char cidr[32];

	rule(acl, 1000 + i, 1000, XTAP_ACL_DENY, net24(i, cidr, sizeof(cidr)), IPPROTO_TCP, ALL_PORTS);
}

static void del_rule(struct xtap_acl_spec *acl, uint32_t id)
{
	int i;

	for (i = 0; i < acl->n_rules && acl->rules[i].rule_id != id; i++)
		;
	assert_true(i < acl->n_rules);
	memmove(&acl->rules[i], &acl->rules[i + 1], (acl->n_rules - i - 1) * sizeof(acl->rules[0]));
	acl->n_rules--;
}

/*
 * 256 rules (a UDP /16 deny first, 254 TCP /24 denies, allow-any last), then
 * 300 rounds of deleting the oldest /24 and adding a new one, one write each
 * (as acl.del and acl.add do) and, every 10th round, both in one write: the
 * trie holds exactly one entry per distinct live prefix, none of the other
 * generation, frames meet the right rules, and the allow rule's hits and
 * set survive the churn and an unrelated (rate) update.
 */
static void test_acl_256_rules_churn_leaves_exact_entries(void **s)
{
	struct xtap_acl_spec *acl = &PA->spec.acl[FROM_VM];
	struct xtap_port before, after;
	struct xtap_counter allow_hits;
	int oldest = 0, next = 0, r, gen, n_live = 0;
	char dst[32];
	size_t len;

	(void)s;
	rule(acl, 1, 500, XTAP_ACL_DENY, "198.18.0.0/16", IPPROTO_UDP, ALL_PORTS);
	while (next < XTAP_MAX_ACL_RULES - 2)
		churn_rule(acl, next++);
	rule(acl, 2, 2000, XTAP_ACL_ALLOW, NULL, 0, ALL_PORTS);
	fx_apply(PA);
	allow_hits = fx_acl_hits(PA, 2);
	len = check4("192.0.2.1", IPPROTO_TCP, 80, true);

	for (r = 0; r < 300; r++) {
		del_rule(acl, 1000 + oldest++);
		if (r % 10)
			fx_apply(PA);
		churn_rule(acl, next++ % 512);
		fx_apply(PA);
	}
	assert_int_equal(acl->n_rules, XTAP_MAX_ACL_RULES);

	port_value(PA, &before);
	assert_int_equal(before.acl[FROM_VM].rule_count, XTAP_MAX_ACL_RULES);
	/* IPv4: the /16, 254 /24s and /0 (allow-any); IPv6: /0. Nothing in the other generation. */
	assert_int_equal(acl_entries(4, before.acl[FROM_VM].set), 256);
	assert_int_equal(acl_entries(6, before.acl[FROM_VM].set), 1);
	for (gen = 0; gen < XTAP_POLICY_GENS; gen++) {
		uint32_t set = (PA->spec.port_id * XTAP_POLICY_GENS + gen) * XTAP_DIRS + FROM_VM;

		if (set != before.acl[FROM_VM].set) {
			assert_int_equal(acl_entries(4, set), 0);
			assert_int_equal(acl_entries(6, set), 0);
		}
	}
	{
		struct xtap_acl_set *rs = malloc(sizeof(*rs));
		uint32_t i;

		assert_non_null(rs);
		assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_ACL_RULES),
						     &before.acl[FROM_VM].set, rs), 0);
		for (i = 0; i < rs->count; i++)
			n_live += rs->rules[i].rank != XTAP_ACL_RANK_FREE;
		free(rs);
		assert_int_equal(n_live, XTAP_MAX_ACL_RULES);
	}

	/* A live /24 denies TCP, a deleted one lets it through to allow-any, the /16 denies UDP. */
	check4(host24((next - 1) % 512, dst, sizeof(dst)), IPPROTO_TCP, 80, false);
	check4(host24(oldest - 1, dst, sizeof(dst)), IPPROTO_TCP, 80, true);
	check4(host24((next - 1) % 512, dst, sizeof(dst)), IPPROTO_UDP, 53, false);
	expect_hits(PA, 2, allow_hits, 2, 2 * len);

	/* An unrelated update keeps the ACL set and its counters. */
	allow_hits = fx_acl_hits(PA, 2);
	PA->spec.rate[FROM_VM].packets_per_sec = 1000000;
	PA->spec.rate[FROM_VM].burst_packets = 1000;
	fx_apply(PA);
	port_value(PA, &after);
	assert_int_equal(after.acl[FROM_VM].set, before.acl[FROM_VM].set);
	assert_int_equal(after.addr_set, before.addr_set);
	expect_hits(PA, 2, allow_hits, 0, 0);
	check4("192.0.2.1", IPPROTO_TCP, 80, true);
	expect_hits(PA, 2, allow_hits, 1, len);
}

XTAP_TEST_LIST(acl,
	T(test_acl_cidr_proto_port_range),
	T(test_acl_lower_priority_value_wins),
	T(test_acl_equal_priority_keeps_insertion_order),
	T(test_acl_default_deny_with_one_allow),
	T(test_acl_ipv6_prefix_edges),
	T(test_acl_any_family_rule_matches_ipv4_and_ipv6),
	T(test_acl_port_rule_ignores_icmp),
	T(test_acl_later_fragment_matches_protocol_not_ports),
	T(test_acl_arp_passes_default_deny),
	T(test_acl_to_vm_matches_source),
	T(test_acl_256_rules_last_ranked_matches),
	T(test_acl_candidates_past_the_inline_ones),
	T(test_acl_257_rules_rejected_old_policy_stays),
	T(test_acl_reversed_port_range_rejected),
	T(test_acl_rule_id_reused_across_directions_rejected),
	T(test_acl_replace_keeps_hits_of_kept_rule_ids),
	T(test_acl_256_rules_churn_leaves_exact_entries),
);
