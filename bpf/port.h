/* SPDX-License-Identifier: GPL-2.0 */
/* Ports (one per VM tap) and their counters. */
#ifndef XTAP_PORT_H
#define XTAP_PORT_H

#include "xtap_common.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_PORTS);
	__type(key, __u32);                 /* tap ifindex */
	__type(value, struct xtap_port);
} xtap_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XTAP_MAX_PORTS);
	__type(key, __u32);                 /* port_id */
	__type(value, struct xtap_port_stats);
} xtap_port_stats SEC(".maps");

/*
 * The same entries by port id, for a port whose id the program already has
 * (a redirect's target: its FDB entry): an array lookup, which the verifier
 * inlines, instead of a hash lookup. Written by the agent after xtap_ports;
 * a deleted port's entry is zeroed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XTAP_MAX_PORTS);
	__type(key, __u32);                 /* port_id */
	__type(value, struct xtap_port);
} xtap_port_by_id SEC(".maps");

static __always_inline const struct xtap_port *xtap_port_lookup(__u32 ifindex)
{
	return bpf_map_lookup_elem(&xtap_ports, &ifindex);
}

/* The port on tap ifindex whose id is port_id; by ifindex when the id's entry is not (yet) it. */
static __always_inline const struct xtap_port *xtap_port_lookup_id(__u32 port_id, __u32 ifindex)
{
	const struct xtap_port *p = bpf_map_lookup_elem(&xtap_port_by_id, &port_id);

	if (likely(p && p->ifindex == ifindex))
		return p;
	return xtap_port_lookup(ifindex);
}

/* Counts the frame under its verdict and, for drops, its reason, in port port_id's counters. */
static __always_inline void xtap_port_count_id(__u32 id, __u32 dir, __u32 verdict, __u32 reason,
					       __u32 len)
{
	struct xtap_port_stats *st;
	struct xtap_trace *t = xtap_trace_rec();

	/* a trace records what would be counted, and counts nothing */
	if (xtap_tracing()) {
		if (t) {
			t->counted = 1;
			t->verdict = verdict;
			t->reason = verdict == XTAP_VERDICT_DROP ? reason : 0;
		}
		return;
	}
	st = bpf_map_lookup_elem(&xtap_port_stats, &id);
	if (!st || dir >= XTAP_DIRS || verdict >= XTAP_VERDICTS)
		return;
	st->verdict[dir][verdict].packets++;
	st->verdict[dir][verdict].bytes += len;
	if (verdict != XTAP_VERDICT_DROP)
		return;
	/* bounded in the register it is used from: clang may reload reason after a fused test */
	xtap_barrier_var(reason);
	if (reason < XTAP_DROP_REASONS) {
		st->drop[dir][reason].packets++;
		st->drop[dir][reason].bytes += len;
	}
}

static __always_inline void xtap_port_count(const struct xtap_port *port, __u32 dir,
					    __u32 verdict, __u32 reason, __u32 len)
{
	xtap_port_count_id(port->port_id, dir, verdict, reason, len);
}

#endif /* XTAP_PORT_H */
