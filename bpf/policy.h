/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-port policy, in one place, for both directions. Every hook that
 * handles a VM's frames calls these: "from VM" (XDP on the tap) and "to VM"
 * (for XDP unicast redirects the redirecting program, bpf/deliver.h; devmap
 * egress XDP for XDP floods; tc egress for the rest).
 */
#ifndef XTAP_POLICY_H
#define XTAP_POLICY_H

#include "xtap_common.h"
#include "parse.h"
#include "port.h"
#include "antispoof.h"
#include "acl.h"
#include "conntrack.h"
#include "ratelimit.h"
#include "forward.h"

/*
 * The ACL of direction dir, and conntrack on ports with a stateful rule or
 * default: XTAP_DROP_NONE or the reason to drop the frame.
 */
static __always_inline int xtap_filter(const struct xtap_port *port, __u32 dir, void *data,
				       void *data_end, const struct xtap_flow *f, __u32 len)
{
	int action;

	if (!f->l3_family)
		return XTAP_DROP_NONE;  /* ARP is not filtered: IP needs it */
	action = xtap_acl_eval(port, dir, f->l3_family, xtap_acl_remote(dir, f), f->l4_proto,
			       f->l4_ports, f->dport, len);
	if (port->flags & XTAP_PORT_F_CONNTRACK)
		return xtap_ct_check(port, dir, data, data_end, f, len, action);
	return action == XTAP_ACL_DENY ? XTAP_DROP_ACL : XTAP_DROP_NONE;
}

/* Where steering sent the frame, for a trace. */
static __always_inline void xtap_trace_steer(const struct xtap_decision *d)
{
	struct xtap_trace *t = xtap_trace_rec();

	if (t) {
		t->stages |= 1U << XTAP_TRACE_STEER;
		t->result[XTAP_TRACE_STEER] = d->verdict == XTAP_VERDICT_DROP ? d->reason : 0;
		t->verdict = d->verdict;
		t->reason = d->verdict == XTAP_VERDICT_DROP ? d->reason : 0;
		t->target = d->target;
	}
}

static __always_inline void xtap_drop(struct xtap_decision *d, __u32 reason)
{
	d->verdict = XTAP_VERDICT_DROP;
	d->reason = reason;
}

/*
 * A frame the VM transmitted, parsed into *f with result r (xtap_parse_xdp):
 * anti-spoof, ACL, rate limit, steer. *now is the frame's clock
 * (xtap_rate_now: 0 until a limiter reads it).
 */
static __always_inline void xtap_from_vm_decide(void *data, void *data_end, __u32 len,
						const struct xtap_port *port,
						const struct xtap_flow *f, int r,
						struct xtap_decision *d, __u64 *now)
{
	/* The verifier learns the frame's length here, not from the parser. */
	if ((void *)((struct ethhdr *)data + 1) > data_end) {
		xtap_drop(d, XTAP_DROP_MALFORMED);
		return;
	}
	xtap_trace_stage(XTAP_TRACE_PARSE, r);
	if (!r) {
		r = xtap_antispoof(port, data, data_end, f);
		xtap_trace_stage(XTAP_TRACE_ANTISPOOF, r);
	}
	if (!r) {
		r = xtap_filter(port, XTAP_DIR_FROM_VM, data, data_end, f, len);
		xtap_trace_stage(XTAP_TRACE_ACL, r);
	}
	if (!r) {
		r = xtap_rate_check(port, XTAP_DIR_FROM_VM, len, now);
		xtap_trace_stage(XTAP_TRACE_RATE, r);
	}
	if (r) {
		xtap_drop(d, r);
		return;
	}
	xtap_steer(port, ((struct ethhdr *)data)->h_dest, d);
	xtap_trace_steer(d);
}

/*
 * The longest frame the port's MTU allows. Frames to and from a VM are
 * untagged by the time this matters (a tagged one is dropped VLAN_TAGGED
 * first). GSO frames are exempt from it: they are segmented to the MTU on
 * their way, and only the skb path can tell them apart.
 */
static __always_inline __u32 xtap_max_frame(const struct xtap_port *port)
{
	return (__u32)port->mtu + ETH_HLEN;
}

/*
 * A frame about to be delivered to the VM, whichever path brought it, parsed
 * into *f with result r; len is the whole frame, gso whether the skb is a GSO
 * one (0 in XDP); *now the frame's clock, as for xtap_from_vm_decide. The MTU is
 * checked after the ACL and before the rate limit, so it costs no tokens.
 */
static __always_inline void xtap_to_vm_decide(void *data, void *data_end, __u32 len, int gso,
					      const struct xtap_port *port,
					      const struct xtap_flow *f, int r,
					      struct xtap_decision *d, __u64 *now)
{
	struct ethhdr *eth = data;

	/* The verifier learns the frame's length here, not from the parser. */
	if ((void *)(eth + 1) > data_end) {
		xtap_drop(d, XTAP_DROP_MALFORMED);
		return;
	}
	xtap_trace_stage(XTAP_TRACE_PARSE, r);
	if (!r) {
		if (f->has_vlan)
			r = XTAP_DROP_VLAN_TAGGED;
		else if (!xtap_mac_is_multicast(eth->h_dest) && !xtap_mac_eq(eth->h_dest, port->mac))
			r = XTAP_DROP_DST_MAC;
		xtap_trace_stage(XTAP_TRACE_L2, r);
	}
	if (!r) {
		r = xtap_filter(port, XTAP_DIR_TO_VM, data, data_end, f, len);
		xtap_trace_stage(XTAP_TRACE_ACL, r);
	}
	if (!r) {
		if (!gso && len > xtap_max_frame(port))
			r = XTAP_DROP_MTU;
		xtap_trace_stage(XTAP_TRACE_MTU, r);
	}
	if (!r) {
		r = xtap_rate_check(port, XTAP_DIR_TO_VM, len, now);
		xtap_trace_stage(XTAP_TRACE_RATE, r);
	}
	if (r)
		xtap_drop(d, r);
	else
		d->verdict = XTAP_VERDICT_DELIVER;
}

#endif /* XTAP_POLICY_H */
