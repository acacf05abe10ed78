// SPDX-License-Identifier: GPL-2.0
/*
 * The uplink: frames from the outside for a local VM (its MAC, in a segment
 * the uplink VLAN maps to) go straight to the VM's tap; broadcast/multicast
 * of a segment go to the host and, through tc ingress, to every VM of the
 * segment; everything else goes to the host stack. Frames VMs send out get
 * the segment's VLAN tag in the devmap egress program. On the overlay's
 * underlay, VXLAN to this host's VTEP from a VTEP of the VNI's segment is
 * decapsulated and delivered the same way (bpf/vxlan.h); from any other
 * VTEP or for an unknown VNI it is dropped.
 */
#include "xtap_common.h"
#include "port.h"
#include "forward.h"
#include "vlan.h"
#include "parse.h"
#include "csum.h"
#include "flood_tc.h"
#include "meta.h"
#include "vxlan.h"
#include "deliver.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_uplink_stats);
} xtap_upl_stats SEC(".maps");

static __always_inline void xtap_uplink_count(__u32 verdict, __u32 len)
{
	struct xtap_uplink_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&xtap_upl_stats, &zero);
	if (st && verdict < XTAP_UPLINK_VERDICTS) {
		st->verdict[verdict].packets++;
		st->verdict[verdict].bytes += len;
	}
}

static __always_inline const __u32 *xtap_uplink_segment(__u32 ifindex, __u16 vlan)
{
	struct xtap_uplink_vlan_key key = { .ifindex = ifindex, .vlan = vlan };

	return bpf_map_lookup_elem(&xtap_uplinks, &key);
}

/*
 * A frame (now untagged, frame_len bytes; len as it arrived) to the local
 * VM's port e, under that port's to-VM policy (bpf/deliver.h); the
 * redirect's fallback when the port is gone from the devmap.
 */
static __always_inline int xtap_uplink_deliver(struct xdp_md *ctx, const struct xtap_fdb_entry *e,
					       __u32 len, __u32 frame_len, __u32 fallback)
{
	struct xtap_flow f = {};
	__u64 now = 0;
	int ret, r;

	/*
	 * Longer than the VM's port allows: an XDP redirect would be refused
	 * (EMSGSIZE), uncounted. tc ingress redirects it instead, to the port's
	 * tc egress: MTU drop there, or, for a GSO frame from a veth peer,
	 * delivery with its GSO state.
	 */
	if (frame_len > (__u32)e->mtu + ETH_HLEN) {
		if (xtap_xdp_meta_set(ctx, XTAP_META_REDIRECT, e->ifindex, 0, e->port_id, 0, 0))
			return XDP_DROP;
		xtap_uplink_count(XTAP_UPLINK_TO_PORT, len);
		return XDP_PASS;
	}
	/*
	 * A sender on the host's side of a veth uplink offloads checksums just as
	 * a guest does; the redirect into the tap would lose "needs checksum". A
	 * frame that does not parse is left as it is: the to-VM policy drops it.
	 */
	r = xtap_parse_xdp(ctx, &f);
	if (r == XTAP_DROP_NONE && xtap_xdp_complete_csum(ctx, &f))
		return XDP_DROP;
	ret = xtap_deliver_redirect(e->ifindex, fallback);
	if (ret == XDP_REDIRECT || ret == XDP_PASS)
		xtap_uplink_count(ret == XDP_REDIRECT ? XTAP_UPLINK_TO_PORT : XTAP_UPLINK_TO_HOST, len);
	if (ret == XDP_REDIRECT)
		ret = xtap_deliver_policy(ctx, e->ifindex, &f, r, &now);
	return ret;
}

/*
 * A frame decapsulated from a VTEP of the segment: to a local VM of the
 * segment by MAC (under its to-VM policy), broadcast and
 * multicast to the segment's VMs through tc ingress, anything else dropped.
 */
static __always_inline int xtap_from_underlay(struct xdp_md *ctx, __u32 segment_id)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	struct ethhdr *eth = data;
	const struct xtap_fdb_entry *e;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (xtap_mac_is_multicast(eth->h_dest)) {
		if (xtap_xdp_meta_set(ctx, XTAP_META_FLOOD, segment_id, 0, 0, 0, 0))
			return XDP_DROP;
		xtap_uplink_count(XTAP_UPLINK_FLOOD, len);
		return XDP_PASS;
	}
	e = xtap_fdb_lookup(segment_id, eth->h_dest);
	if (!e || e->ifindex == XTAP_FDB_HOST) {
		xtap_overlay_count(XTAP_OVL_DECAP_NO_PORT, len);
		return XDP_DROP;
	}
	/* A segment's frame is never the host's: dropped if its port vanished. */
	return xtap_uplink_deliver(ctx, e, len, len, XDP_DROP);
}

SEC("xdp")
int xtap_from_uplink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	struct ethhdr *eth = data;
	const struct xtap_fdb_entry *e;
	const __u32 *segment;
	__u32 overlay_segment;
	__u16 vlan = 0;
	int ret;

	/* Runts are the host's to drop; counted like every frame seen. */
	if ((void *)(eth + 1) > data_end)
		goto host;
	ret = xtap_xdp_vxlan_decap(ctx, &overlay_segment);
	if (ret < 0)
		return XDP_DROP;
	if (ret > 0)
		return xtap_from_underlay(ctx, overlay_segment);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		goto host;
	/* An 802.1ad (outer) tag is not a segment's VLAN: the host's, as in tc. */
	if (eth->h_proto == bpf_htons(ETH_P_8021AD))
		goto host;
	if (eth->h_proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			goto host;
		vlan = bpf_ntohs(vh->h_vlan_TCI) & 0x0FFF;
	}
	segment = xtap_uplink_segment(ctx->ingress_ifindex, vlan);
	if (!segment)
		goto host;
	if (xtap_mac_is_multicast(eth->h_dest)) {
		/* The host needs these too (ARP for its own addresses): tc ingress clones. */
		xtap_uplink_count(XTAP_UPLINK_FLOOD, len);
		return XDP_PASS;
	}
	e = xtap_fdb_lookup(*segment, eth->h_dest);
	if (!e || e->ifindex == XTAP_FDB_HOST)
		goto host;
	if (vlan && xtap_xdp_vlan_pop(ctx))
		return XDP_DROP;
	return xtap_uplink_deliver(ctx, e, len, len - (vlan ? VLAN_HLEN : 0), XDP_PASS);
host:
	xtap_uplink_count(XTAP_UPLINK_TO_HOST, len);
	return XDP_PASS;
}

/*
 * Floods a segment's broadcast/multicast from the uplink to its VMs; the host
 * keeps it. And carries out the redirects XDP handed over (frames longer than
 * their port allows).
 */
SEC("tc")
int xtap_from_uplink_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	const __u32 *segment;
	__u16 vlan = 0, vlan_proto = 0, vlan_tci = 0;
	struct xtap_meta m;
	__u32 segment_id;

	if (!xtap_skb_meta_get(skb, &m)) {
		/* A unicast frame XDP could not redirect (longer than its port allows). */
		if (m.action == XTAP_META_REDIRECT)
			return bpf_redirect(m.target, 0);
		/* A broadcast decapsulated from the overlay: the segment's VMs only. */
		if (m.action == XTAP_META_FLOOD) {
			xtap_tc_flood_ports(skb, m.target, 0);
			return TC_ACT_SHOT;
		}
	}
	if ((void *)(eth + 1) > data_end || !xtap_mac_is_multicast(eth->h_dest))
		return TC_ACT_OK;
	/* The stack moved an 802.1Q tag out of the frame before tc ingress. */
	if (skb->vlan_present) {
		/* Only 802.1Q, as in XDP: an 802.1ad tag is not a segment's VLAN. */
		if (skb->vlan_proto != bpf_htons(ETH_P_8021Q))
			return TC_ACT_OK;
		vlan_tci = skb->vlan_tci;
		vlan = vlan_tci & 0x0FFF;
		vlan_proto = skb->vlan_proto;
	}
	segment = xtap_uplink_segment(skb->ifindex, vlan);
	if (!segment)
		return TC_ACT_OK;
	segment_id = *segment;
	if (vlan && bpf_skb_vlan_pop(skb))
		return TC_ACT_OK;
	xtap_tc_flood_ports(skb, segment_id, 0);
	if (vlan)
		bpf_skb_vlan_push(skb, vlan_proto, vlan_tci);
	return TC_ACT_OK;
}

SEC("xdp/devmap")
int xtap_to_uplink(struct xdp_md *ctx)
{
	const struct xtap_port *port = xtap_port_lookup(ctx->ingress_ifindex);
	const struct xtap_segment *seg;

	if (!port)
		return XDP_PASS;
	seg = bpf_map_lookup_elem(&xtap_segments, &port->segment_id);
	/* Encapsulated for the underlay: the outer frame carries no segment's tag. */
	if (seg && seg->vni) {
		const struct xtap_underlay *u = xtap_underlay_get();

		if (u && u->ifindex == ctx->egress_ifindex)
			return XDP_PASS;
	}
	if (seg && seg->vlan && xtap_xdp_vlan_push(ctx, seg->vlan))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
