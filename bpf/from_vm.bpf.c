// SPDX-License-Identifier: GPL-2.0
/*
 * "from VM": every frame a guest transmits. XDP on the VM's tap decides
 * (anti-spoof, ACL, rate limit, steer) and redirects; frames it must not
 * redirect itself go up with the decision in metadata to the tc ingress
 * program below, which carries it out on the skb path.
 */
#include "xtap_common.h"
#include "policy.h"
#include "csum.h"
#include "meta.h"
#include "flood_tc.h"
#include "vxlan.h"
#include "observe.h"
#include "deliver.h"

/*
 * Longer than the MTU allows: a GSO frame (which XDP redirect would drop, or
 * hand on unsegmented) or one to drop MTU; XDP cannot tell which, so the skb
 * path decides, and counts. Frames too big for a native XDP buffer go there too.
 */
static __always_inline int xtap_needs_skb_path(const struct xtap_port *port, __u32 len)
{
	return len > xtap_max_frame(port) || len > XTAP_XDP_FRAME_MAX;
}

/* XDP_PASS with the decision for tc; large frames are counted there (max_len != 0). */
static __always_inline int xtap_defer_to_tc(struct xdp_md *ctx, const struct xtap_port *port,
					    const struct xtap_decision *d, __u32 action,
					    __u32 target, __u32 vlan, int large)
{
	return xtap_xdp_meta_set(ctx, action, target, vlan, port->port_id, d->verdict,
				 large ? xtap_max_frame(port) : 0) ? XDP_DROP : XDP_PASS;
}

/* A remote VM's frame: encapsulated to its VTEP and redirected to the underlay. */
static __always_inline int xtap_from_vm_encap(struct xdp_md *ctx, const struct xtap_port *port,
					      const struct xtap_flow *f,
					      const struct xtap_decision *d, int large)
{
	const struct xtap_segment *seg = bpf_map_lookup_elem(&xtap_segments, &port->segment_id);
	const struct xtap_underlay *u = xtap_underlay_get();
	void *data, *data_end;
	__u16 sport;

	if (!seg || !seg->vni || !u)
		return XDP_DROP;
	/* GSO frames: the skb path encapsulates them as a UDP tunnel's. */
	if (large)
		return xtap_defer_to_tc(ctx, port, d, XTAP_META_VXLAN, d->vtep, 0, large);
	if (xtap_xdp_complete_csum(ctx, f))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ethhdr) > data_end)
		return XDP_DROP;
	sport = xtap_vxlan_sport(f, data);
	if (xtap_xdp_vxlan_encap(ctx, u, d->vtep, seg->vni, sport)) {
		xtap_overlay_count(XTAP_OVL_ENCAP_NO_ROUTE, data_end - data);
		return XDP_DROP;
	}
	xtap_overlay_count(XTAP_OVL_ENCAP, data_end - data);
	return bpf_redirect_map(&xtap_redirect, u->ifindex, XDP_DROP);
}

static __always_inline int xtap_from_vm_act(struct xdp_md *ctx, const struct xtap_port *port,
					    const struct xtap_flow *f, struct xtap_decision *d,
					    __u32 len, __u64 *now)
{
	const struct xtap_segment *seg;
	int large = xtap_needs_skb_path(port, len);
	int ret = XDP_DROP, deliver = 0;
	void *flood;

	switch (d->verdict) {
	case XTAP_VERDICT_TO_HOST:
		if (large) {
			ret = xtap_defer_to_tc(ctx, port, d, XTAP_META_HOST, 0, 0, large);
			break;
		}
		ret = XDP_PASS;
		break;
	case XTAP_VERDICT_FLOOD:
		seg = bpf_map_lookup_elem(&xtap_segments, &d->target);
		/* Overlay segments replicate to remote VTEPs on the skb path. */
		if (seg && ((seg->flags & XTAP_SEGMENT_F_FLOOD_HOST) || seg->vni)) {
			__u32 action = (seg->flags & XTAP_SEGMENT_F_FLOOD_HOST) ?
				       XTAP_META_FLOOD_HOST : XTAP_META_FLOOD;

			ret = xtap_defer_to_tc(ctx, port, d, action, d->target, 0, large);
			break;
		}
		if (large) {
			ret = xtap_defer_to_tc(ctx, port, d, XTAP_META_FLOOD, d->target, 0, large);
			break;
		}
		flood = bpf_map_lookup_elem(&xtap_flood, &d->target);
		if (flood && !xtap_xdp_complete_csum(ctx, f))
			ret = bpf_redirect_map(flood, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
		break;
	case XTAP_VERDICT_TO_PORT:
	case XTAP_VERDICT_TO_UPLINK:
		if (d->vtep) {
			ret = xtap_from_vm_encap(ctx, port, f, d, large);
			break;
		}
		/*
		 * Longer than the target port allows: an XDP redirect would be refused
		 * (EMSGSIZE) by the kernel, uncounted. By
		 * tc it meets the target's tc egress, which drops it MTU (or, GSO,
		 * passes it).
		 */
		if (large || (d->verdict == XTAP_VERDICT_TO_PORT && len > d->target_max)) {
			__u32 vlan = 0;

			if (d->verdict == XTAP_VERDICT_TO_UPLINK) {
				seg = bpf_map_lookup_elem(&xtap_segments, &port->segment_id);
				vlan = seg ? seg->vlan : 0;
			}
			ret = xtap_defer_to_tc(ctx, port, d, XTAP_META_REDIRECT, d->target, vlan,
					       large);
			break;
		}
		if (xtap_xdp_complete_csum(ctx, f))
			break;
		/* A local VM: its to-VM policy is applied below (bpf/deliver.h). */
		if (d->verdict == XTAP_VERDICT_TO_PORT) {
			ret = xtap_deliver_redirect(d->target, XDP_DROP);
			deliver = ret == XDP_REDIRECT;
		} else {
			ret = bpf_redirect_map(&xtap_redirect, d->target, XDP_DROP);
		}
		break;
	default:
		break;
	}
	if (d->verdict != XTAP_VERDICT_DROP && ret == XDP_DROP)
		xtap_drop(d, XTAP_DROP_NO_TARGET);
	/* A large frame handed to tc is counted there, once, MTU or not. */
	if (!(large && ret == XDP_PASS)) {
		xtap_port_count(port, XTAP_DIR_FROM_VM, d->verdict, d->reason, len);
		xtap_obs_xdp(ctx, port->port_id, XTAP_DIR_FROM_VM, d->verdict, d->reason,
			     XTAP_OBS_HOOK_FROM_VM_XDP, ctx->ingress_ifindex, len);
	}
	/* Only a frame that passed the from-VM policy whole (parse result 0) gets here. */
	if (deliver)
		ret = xtap_deliver_policy(ctx, d->target, f, XTAP_DROP_NONE, now);
	return ret;
}

SEC("xdp")
int xtap_from_vm(struct xdp_md *ctx)
{
	const struct xtap_port *port = xtap_port_lookup(ctx->ingress_ifindex);
	struct xtap_decision d = {};
	struct xtap_flow f = {};
	void *data, *data_end;
	__u64 now = 0;
	__u32 len;
	int r;

	/* Our program on a tap the agent has no port for: fail closed. */
	if (!port)
		return XDP_DROP;
	r = xtap_parse_xdp(ctx, &f);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	len = data_end - data;
	xtap_from_vm_decide(data, data_end, len, port, &f, r, &d, &now);
	return xtap_from_vm_act(ctx, port, &f, &d, len, &now);
}

/* A GSO frame to a remote VM: encapsulated as a UDP tunnel's, redirected to the underlay. */
static __always_inline int xtap_from_vm_tc_encap(struct __sk_buff *skb, __be32 vtep)
{
	const struct xtap_port *port = xtap_port_lookup(skb->ifindex);
	const struct xtap_underlay *u = xtap_underlay_get();
	const struct xtap_segment *seg;
	__u16 sport;

	if (!port || !u)
		return TC_ACT_SHOT;
	seg = bpf_map_lookup_elem(&xtap_segments, &port->segment_id);
	if (!seg || !seg->vni)
		return TC_ACT_SHOT;
	sport = xtap_skb_vxlan_sport(skb);
	if (xtap_skb_vxlan_push(skb) || xtap_skb_vxlan_write(skb, u, vtep, seg->vni, sport)) {
		xtap_overlay_count(XTAP_OVL_ENCAP_NO_ROUTE, skb->len);
		return TC_ACT_SHOT;
	}
	xtap_overlay_count(XTAP_OVL_ENCAP, skb->len);
	return bpf_redirect(u->ifindex, 0);
}

SEC("tc")
int xtap_from_vm_tc(struct __sk_buff *skb)
{
	const struct xtap_segment *seg;
	struct xtap_meta m;

	if (xtap_skb_meta_get(skb, &m))
		return TC_ACT_OK;
	if (m.max_len) {
		/* XDP left counting to us: only here is a GSO frame known from a long one. */
		if (!skb->gso_size && skb->len > m.max_len) {
			xtap_port_count_id(m.port_id, XTAP_DIR_FROM_VM, XTAP_VERDICT_DROP,
					   XTAP_DROP_MTU, skb->len);
			xtap_obs_skb(skb, m.port_id, XTAP_DIR_FROM_VM, XTAP_VERDICT_DROP, XTAP_DROP_MTU,
				     XTAP_OBS_HOOK_FROM_VM_TC);
			return TC_ACT_SHOT;
		}
		xtap_port_count_id(m.port_id, XTAP_DIR_FROM_VM, m.verdict, 0, skb->len);
		xtap_obs_skb(skb, m.port_id, XTAP_DIR_FROM_VM, m.verdict, 0, XTAP_OBS_HOOK_FROM_VM_TC);
	}
	switch (m.action) {
	case XTAP_META_REDIRECT:
		if (m.vlan && bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), m.vlan))
			return TC_ACT_SHOT;
		return bpf_redirect(m.target, 0);
	case XTAP_META_VXLAN:
		return xtap_from_vm_tc_encap(skb, m.target);
	case XTAP_META_FLOOD:
	case XTAP_META_FLOOD_HOST:
		xtap_tc_flood_ports(skb, m.target, skb->ifindex);
		seg = bpf_map_lookup_elem(&xtap_segments, &m.target);
		if (seg && seg->uplink_ifindex)
			xtap_tc_clone_to_uplink(skb, seg);
		/* Last: it leaves the skb encapsulated (overlay segments never flood the host). */
		if (seg && seg->vni) {
			xtap_tc_vxlan_replicate(skb, m.target, seg->vni);
			return TC_ACT_SHOT;
		}
		return m.action == XTAP_META_FLOOD_HOST ? TC_ACT_OK : TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

char LICENSE[] SEC("license") = "GPL";
