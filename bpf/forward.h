/* SPDX-License-Identifier: GPL-2.0 */
/*
 * L2 forwarding state: segments, the static FDB of local VM MACs, the devmap
 * of redirect targets, per-segment flood devmaps, uplink VLAN -> segment.
 * And the steering decision for a frame leaving a VM.
 */
#ifndef XTAP_FORWARD_H
#define XTAP_FORWARD_H

#include "xtap_common.h"
#include "overlay.h"

struct xtap_decision {
	__u32 verdict;   /* enum xtap_verdict */
	__u32 reason;    /* enum xtap_drop_reason when verdict is DROP */
	__u32 target;    /* ifindex (TO_PORT, TO_UPLINK) or segment id (FLOOD) */
	__u32 target_max;/* TO_PORT: the longest frame the target port's MTU allows */
	__be32 vtep;     /* TO_UPLINK through the overlay: the remote VTEP (target: the underlay) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_SEGMENTS);
	__type(key, __u32);                   /* segment id */
	__type(value, struct xtap_segment);
} xtap_segments SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_FDB);
	__type(key, struct xtap_fdb_key);
	__type(value, struct xtap_fdb_entry);
} xtap_fdb SEC(".maps");

/* Redirect targets that are not VM taps (uplinks, the underlay), with their egress program. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XTAP_MAX_PORTS + 64);
	__type(key, __u32);                   /* ifindex */
	__type(value, struct bpf_devmap_val);
} xtap_redirect SEC(".maps");

struct xtap_flood_ports {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XTAP_MAX_SEGMENT_PORTS + 1);   /* + the uplink */
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
};

/* Per segment, the devmap an XDP broadcast floods: its VM taps and uplink. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, XTAP_MAX_SEGMENTS);
	__type(key, __u32);                   /* segment id */
	__array(values, struct xtap_flood_ports);
} xtap_flood SEC(".maps");

/* The same membership as a list, for floods on the skb path (bpf_clone_redirect). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_SEGMENTS);
	__type(key, __u32);                   /* segment id */
	__type(value, struct xtap_segment_ports);
} xtap_seg_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_UPLINK_VLANS);
	__type(key, struct xtap_uplink_vlan_key);
	__type(value, __u32);                 /* segment id */
} xtap_uplinks SEC(".maps");

static __always_inline const struct xtap_fdb_entry *xtap_fdb_lookup(__u32 segment_id,
								     const __u8 *mac)
{
	struct xtap_fdb_key key = { .segment_id = segment_id };

	__builtin_memcpy(key.mac, mac, ETH_ALEN);
	return bpf_map_lookup_elem(&xtap_fdb, &key);
}

/*
 * Where a frame from a VM goes: broadcast/multicast floods the segment; a
 * known MAC goes to its port (or the host), a remote VM's MAC to its VTEP
 * over the underlay; anything else to the segment's uplink, or the host
 * when it has none. Never to another segment.
 */
static __always_inline void xtap_steer(const struct xtap_port *port, const __u8 *dst,
				       struct xtap_decision *d)
{
	const struct xtap_fdb_entry *e;
	const struct xtap_segment *seg;
	__u32 segment_id = port->segment_id;

	if (xtap_mac_is_multicast(dst)) {
		d->verdict = XTAP_VERDICT_FLOOD;
		d->target = segment_id;
		return;
	}
	e = xtap_fdb_lookup(segment_id, dst);
	if (e) {
		if (e->ifindex == XTAP_FDB_HOST) {
			d->verdict = XTAP_VERDICT_TO_HOST;
		} else if (e->ifindex == port->ifindex) {
			d->verdict = XTAP_VERDICT_DROP;
			d->reason = XTAP_DROP_HAIRPIN;
		} else {
			d->verdict = XTAP_VERDICT_TO_PORT;
			d->target = e->ifindex;
			d->target_max = (__u32)e->mtu + ETH_HLEN;
		}
		return;
	}
	d->vtep = xtap_remote_vtep(segment_id, dst);
	if (d->vtep) {
		const struct xtap_underlay *u = xtap_underlay_get();

		if (u) {
			d->verdict = XTAP_VERDICT_TO_UPLINK;
			d->target = u->ifindex;
			return;
		}
		d->vtep = 0;
	}
	seg = bpf_map_lookup_elem(&xtap_segments, &segment_id);
	if (seg && seg->uplink_ifindex) {
		d->verdict = XTAP_VERDICT_TO_UPLINK;
		d->target = seg->uplink_ifindex;
	} else {
		d->verdict = XTAP_VERDICT_TO_HOST;
	}
}

#endif /* XTAP_FORWARD_H */
