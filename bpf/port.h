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

static __always_inline const struct xtap_port *xtap_port_lookup(__u32 ifindex)
{
	return bpf_map_lookup_elem(&xtap_ports, &ifindex);
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
