// SPDX-License-Identifier: GPL-2.0
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

static const uint8_t outside_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

uint64_t rule_all_drops(const struct fx_port *p, int dir)
{
	uint64_t sum = 0;
	int i;

	for (i = 1; i < XTAP_DROP_REASONS; i++)
		sum += fx_drops(p, dir, i);
	return sum;
}

void rule_ipv4(struct pkt *p, const struct rule_ends *e, uint8_t proto)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_IP);
	pkt_ipv4(p, e->s4, e->d4, proto);
}

void rule_ipv4_ex(struct pkt *p, const struct rule_ends *e, uint8_t proto,
		  const struct pkt_ip4_opts *o)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_IP);
	pkt_ipv4_ex(p, e->s4, e->d4, proto, o);
}

void rule_ipv6(struct pkt *p, const struct rule_ends *e, uint8_t nexthdr)
{
	pkt_init(p);
	pkt_eth(p, e->dmac, e->smac, ETH_P_IPV6);
	pkt_ipv6(p, &e->s6, &e->d6, nexthdr);
}

/* Counter deltas of one port and direction around one run. */
struct snap {
	uint64_t verdict, reason, all;
};

static void take(struct snap *s, const struct fx_port *p, int dir, int verdict, int reason)
{
	s->verdict = fx_verdicts(p, dir, verdict);
	s->reason = reason > 0 ? fx_drops(p, dir, reason) : 0;
	s->all = rule_all_drops(p, dir);
}

/* After `runs` runs: each counted once under verdict (and reason), no other drop counted. */
static void check(const char *name, const char *where, const struct fx_port *p, int dir,
		  int verdict, int reason, const struct snap *before, uint64_t runs)
{
	struct snap now;

	take(&now, p, dir, verdict, reason);
	if (now.verdict - before->verdict != runs)
		fail_msg("%s (%s): verdict %d counted %llu times, want %llu", name, where, verdict,
			 (unsigned long long)(now.verdict - before->verdict),
			 (unsigned long long)runs);
	if (reason > 0 && now.reason - before->reason != runs)
		fail_msg("%s (%s): drop reason %d counted %llu times, want %llu", name, where,
			 reason, (unsigned long long)(now.reason - before->reason),
			 (unsigned long long)runs);
	if (now.all - before->all != (reason > 0 ? runs : 0))
		fail_msg("%s (%s): %llu drops counted over all reasons, want %llu", name, where,
			 (unsigned long long)(now.all - before->all),
			 (unsigned long long)(reason > 0 ? runs : 0));
}

static void run_from_vm(const struct rule_case *c)
{
	struct rule_ends e = { .smac = PA->mac, .dmac = PB->mac, .s4 = PA->ip4, .d4 = PB->ip4,
			       .s6 = PA->ip6, .d6 = PB->ip6 };
	int verdict = c->from_vm ? XTAP_VERDICT_DROP : XTAP_VERDICT_TO_PORT;
	static struct pkt p;
	struct snap before;
	uint32_t ret;

	c->build(&p, &e);
	take(&before, PA, XTAP_DIR_FROM_VM, verdict, c->from_vm);
	ret = fx_from_vm(PA, &p);
	if (ret != (c->from_vm ? XDP_DROP : XDP_REDIRECT))
		fail_msg("%s (from VM): XDP returned %u", c->name, ret);
	check(c->name, "from VM", PA, XTAP_DIR_FROM_VM, verdict, c->from_vm, &before, 1);
}

static void run_to_vm(const struct rule_case *c)
{
	struct rule_ends e = { .smac = outside_mac, .dmac = PA->mac,
			       .s4 = pkt_ip4("192.0.2.1"), .d4 = PA->ip4,
			       .s6 = pkt_ip6("2001:db8:ffff::1"), .d6 = PA->ip6 };
	int verdict = c->to_vm ? XTAP_VERDICT_DROP : XTAP_VERDICT_DELIVER;
	static struct pkt p;
	struct fx_result r;
	struct snap before;

	c->build(&p, &e);
	/* The uplink's XDP redirects it into A's tap: the devmap egress program decides. */
	take(&before, PA, XTAP_DIR_TO_VM, verdict, c->to_vm);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &p);
	check(c->name, "to VM, devmap egress", PA, XTAP_DIR_TO_VM, verdict, c->to_vm, &before, 1);
	if (fx_tap_frames(&PA->tap) != (c->to_vm ? 0 : 1))
		fail_msg("%s (to VM): frame %s A's tap", c->name,
			 c->to_vm ? "reached" : "did not reach");
	/* The same frame from the host stack: tc egress. */
	take(&before, PA, XTAP_DIR_TO_VM, verdict, c->to_vm);
	fx_run_tc(XTAP_PROG_TO_VM_TC, PA->tap.ifindex, &p, &r);
	if (r.retval != (uint32_t)(c->to_vm ? TC_ACT_SHOT : TC_ACT_OK))
		fail_msg("%s (to VM, tc): returned %u", c->name, r.retval);
	check(c->name, "to VM, tc egress", PA, XTAP_DIR_TO_VM, verdict, c->to_vm, &before, 1);
}

void rules_run(const struct rule_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		run_from_vm(&cases[i]);
		if (cases[i].to_vm != RULE_SKIP)
			run_to_vm(&cases[i]);
	}
	fx_expect_silent();
}

static void hex_frame(struct pkt *p, const char *hex)
{
	size_t n = strlen(hex), i;

	if (n % 2 || n / 2 > PKT_MAX)
		fail_msg("bad hex frame");
	pkt_init(p);
	for (i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			fail_msg("bad hex frame at %zu", i);
		p->data[i] = b;
	}
	p->len = n / 2;
}

void hex_run(const struct hex_case *cases, size_t n)
{
	static struct pkt p;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct hex_case *c = &cases[i];
		struct fx_port *port = &fx_ports[c->port];
		int dir = c->to_vm ? XTAP_DIR_TO_VM : XTAP_DIR_FROM_VM;
		uint64_t drops = fx_verdicts(port, dir, XTAP_VERDICT_DROP);
		uint64_t all = rule_all_drops(port, dir);
		uint64_t reason = c->want > 0 ? fx_drops(port, dir, c->want) : 0;
		struct fx_result r;
		uint32_t dropped;

		hex_frame(&p, c->hex);
		if (c->to_vm) {
			fx_run_tc(XTAP_PROG_TO_VM_TC, port->tap.ifindex, &p, &r);
			dropped = r.retval == TC_ACT_SHOT;
		} else {
			fx_run_xdp(XTAP_PROG_FROM_VM_XDP, port->tap.ifindex, &p, &r);
			dropped = r.retval == XDP_DROP;
		}
		if (dropped != (c->want != RULE_PASS))
			fail_msg("%s: %s", c->id, dropped ? "dropped" : "passed");
		if (fx_verdicts(port, dir, XTAP_VERDICT_DROP) - drops != dropped ||
		    rule_all_drops(port, dir) - all != dropped)
			fail_msg("%s: drop not counted exactly once", c->id);
		if (c->want > 0 && fx_drops(port, dir, c->want) - reason != 1) {
			int k;

			for (k = 1; k < XTAP_DROP_REASONS; k++)
				if (fx_drops(port, dir, k))
					print_message("reason %d: %llu\n", k,
						      (unsigned long long)fx_drops(port, dir, k));
			fail_msg("%s: not counted under reason %d", c->id, c->want);
		}
	}
}
