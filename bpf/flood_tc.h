/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Floods on the skb path: one clone per VM tap of the segment. Each clone
 * enters the tap's egress, so the "to VM" tc program applies its policy.
 */
#ifndef XTAP_FLOOD_TC_H
#define XTAP_FLOOD_TC_H

#include "xtap_common.h"
#include "forward.h"

static __always_inline void xtap_tc_flood_ports(struct __sk_buff *skb, __u32 segment_id,
						__u32 exclude_ifindex)
{
	struct xtap_segment_ports *sp = bpf_map_lookup_elem(&xtap_seg_ports, &segment_id);
	__u32 i, n;

	if (!sp)
		return;
	n = sp->count;
	for (i = 0; i < XTAP_MAX_SEGMENT_PORTS; i++) {
		__u32 ifindex;

		if (i >= n)
			break;
		ifindex = sp->ifindex[i];
		if (ifindex && ifindex != exclude_ifindex)
			bpf_clone_redirect(skb, ifindex, 0);
	}
}

/* Clones the skb to an uplink, tagged when the segment has a VLAN there. */
static __always_inline void xtap_tc_clone_to_uplink(struct __sk_buff *skb,
						    const struct xtap_segment *seg)
{
	if (!seg->vlan) {
		bpf_clone_redirect(skb, seg->uplink_ifindex, 0);
		return;
	}
	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), seg->vlan))
		return;
	bpf_clone_redirect(skb, seg->uplink_ifindex, 0);
	bpf_skb_vlan_pop(skb);
}

#endif /* XTAP_FLOOD_TC_H */
