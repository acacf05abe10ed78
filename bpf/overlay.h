/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Overlay state: this host's VTEP on its underlay, VNI -> segment, each
 * segment's remote VTEPs and the remote MACs behind them. All of it is
 * written by the agent from desired state; nothing is learnt from the wire.
 */
#ifndef XTAP_OVERLAY_H
#define XTAP_OVERLAY_H

#include "xtap_common.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_underlay);
} xtap_underlay SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_SEGMENTS);
	__type(key, __u32);                   /* VNI */
	__type(value, __u32);                 /* segment id */
} xtap_vni SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_SEGMENTS);
	__type(key, __u32);                   /* segment id */
	__type(value, struct xtap_segment_vteps);
} xtap_seg_vteps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_REMOTE_MACS);
	__type(key, struct xtap_fdb_key);
	__type(value, struct xtap_remote_mac);
} xtap_remote_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_overlay_stats);
} xtap_ovl_stats SEC(".maps");

static __always_inline const struct xtap_underlay *xtap_underlay_get(void)
{
	const struct xtap_underlay *u;
	__u32 zero = 0;

	u = bpf_map_lookup_elem(&xtap_underlay, &zero);
	return u && u->ifindex ? u : NULL;
}

static __always_inline void xtap_overlay_count(__u32 counter, __u32 len)
{
	struct xtap_overlay_stats *st;
	__u32 zero = 0;

	if (xtap_tracing())
		return;   /* a trace (xtapctl trace) writes nothing */
	st = bpf_map_lookup_elem(&xtap_ovl_stats, &zero);
	if (st && counter < XTAP_OVL_COUNTERS) {
		st->c[counter].packets++;
		st->c[counter].bytes += len;
	}
}

/* The VTEP behind a remote MAC of the segment, or 0. */
static __always_inline __be32 xtap_remote_vtep(__u32 segment_id, const __u8 *mac)
{
	struct xtap_fdb_key key = { .segment_id = segment_id };
	const struct xtap_remote_mac *r;

	__builtin_memcpy(key.mac, mac, ETH_ALEN);
	r = bpf_map_lookup_elem(&xtap_remote_fdb, &key);
	return r ? r->vtep : 0;
}

/* Is vtep one of the segment's remote VTEPs? */
static __always_inline int xtap_vtep_known(__u32 segment_id, __be32 vtep)
{
	const struct xtap_segment_vteps *v = bpf_map_lookup_elem(&xtap_seg_vteps, &segment_id);
	__u32 i;

	if (!v)
		return 0;
	for (i = 0; i < XTAP_MAX_SEGMENT_VTEPS; i++) {
		if (i >= v->count)
			break;
		if (v->vtep[i] == vtep)
			return 1;
	}
	return 0;
}

#endif /* XTAP_OVERLAY_H */
