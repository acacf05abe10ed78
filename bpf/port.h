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
 * The same entries in slots, port_id * 2 + generation: a changed entry is
 * written whole into the port's other slot, then switched to (xtap_ports'
 * entry names its slot, then xtap_port_hint), so a frame reads the old
 * entry or the new one, never half of each. An array lookup, which the
 * verifier inlines.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XTAP_PORT_SLOTS);
	__type(key, __u32);                 /* slot */
	__type(value, struct xtap_port);
} xtap_port_by_id SEC(".maps");

/*
 * ifindex % XTAP_PORT_HINTS -> slot + 1 (0: none): a port found with two
 * inlined array lookups instead of a hash lookup (~10 ns a frame:
 * bench/README.md). A hint is checked against the slot's ifindex; two taps
 * sharing a hint, or none, go by xtap_ports.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XTAP_PORT_HINTS);
	__type(key, __u32);
	__type(value, __u32);
} xtap_port_hint SEC(".maps");

/* The agent indexes it the same way (xtap_port_hint_of). */
_Static_assert((XTAP_PORT_HINTS & (XTAP_PORT_HINTS - 1)) == 0, "XTAP_PORT_HINTS: a power of two");

/* The port on tap ifindex, read from its current slot. */
static __always_inline const struct xtap_port *xtap_port_lookup(__u32 ifindex)
{
	__u32 h = ifindex & (XTAP_PORT_HINTS - 1), slot;
	const struct xtap_port *p, *e;
	const __u32 *hint;

	hint = bpf_map_lookup_elem(&xtap_port_hint, &h);
	slot = hint ? *hint : 0;
	if (slot) {
		slot--;
		p = bpf_map_lookup_elem(&xtap_port_by_id, &slot);
		if (likely(p && p->ifindex == ifindex))
			return p;
	}
	e = bpf_map_lookup_elem(&xtap_ports, &ifindex);
	if (!e)
		return NULL;
	slot = e->slot;
	p = bpf_map_lookup_elem(&xtap_port_by_id, &slot);
	return p && p->ifindex == ifindex ? p : NULL;
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
