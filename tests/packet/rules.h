/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixture tables for the packet rules (docs/packet-rules.md), in the style of
 * Katran's fixtures: a frame in, the verdict and drop reason out, in both
 * directions. Each case's frame is built twice by its builder: from VM A to
 * VM B (A's from-VM XDP), and from an outside host on the uplink to VM A
 * (the uplink's XDP redirecting it, live, through A's devmap egress program,
 * and A's tc egress program). Every drop must be counted exactly once, under
 * its reason and under no other.
 */
#ifndef XTAP_TEST_RULES_H
#define XTAP_TEST_RULES_H

#include "fixture.h"

/* Who sends to whom: the builder uses these, never the ports directly. */
struct rule_ends {
	const uint8_t *smac, *dmac;
	uint32_t s4, d4;              /* network order */
	struct in6_addr s6, d6;
};

#define RULE_PASS 0      /* from VM: redirected to B; to VM: delivered */
#define RULE_SKIP (-1)   /* this direction does not apply */

struct rule_case {
	const char *name;
	void (*build)(struct pkt *p, const struct rule_ends *e);
	int from_vm;     /* RULE_PASS, or the drop reason from A */
	int to_vm;       /* RULE_PASS, the drop reason at A from the uplink, or RULE_SKIP */
};

/* Runs every case of the table; a failure names the case. */
void rules_run(const struct rule_case *cases, size_t n);
#define RULES_RUN(table) rules_run(table, sizeof(table) / sizeof(table[0]))

/*
 * A frame as hex (e.g. from the fuzz tier's findings), run from or to the
 * VM of port index `port` (FX_A..FX_D): from-VM through its XDP program, to-VM
 * through its tc egress program. want is RULE_PASS (any verdict but DROP)
 * or the drop reason.
 */
struct hex_case {
	const char *id;
	int to_vm;
	int port;
	const char *hex;
	int want;
};

void hex_run(const struct hex_case *cases, size_t n);
#define HEX_RUN(table) hex_run(table, sizeof(table) / sizeof(table[0]))

/* Frame starts for builders: Ethernet + IPv4/IPv6 header between the ends. */
void rule_ipv4(struct pkt *p, const struct rule_ends *e, uint8_t proto);
void rule_ipv4_ex(struct pkt *p, const struct rule_ends *e, uint8_t proto,
		  const struct pkt_ip4_opts *o);
void rule_ipv6(struct pkt *p, const struct rule_ends *e, uint8_t nexthdr);

/* Sum of every drop reason's counter of port p in direction dir. */
uint64_t rule_all_drops(const struct fx_port *p, int dir);

#endif
