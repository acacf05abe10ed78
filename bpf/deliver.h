/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unicast delivery to a local VM, decided in the program that redirects
 * (xtap_from_vm, xtap_from_uplink): the target port's to-VM policy
 * (xtap_to_vm_decide, the code tc egress and the flood's devmap egress
 * program run too) is applied there, on the parse that program made and
 * with its clock read, and the frame goes out through xtap_deliver, a
 * devmap whose entries have no egress program. The frame is read once,
 * both ports' policy is applied in one program run, and the kernel does not
 * turn each frame back into an xdp_buff for a second program. Floods keep
 * the devmap egress program xtap_to_vm (one frame, many targets).
 *
 * The order of things is the old path's: the redirect is set up first (a
 * port missing from the devmap is the sender's no_target drop, and the
 * target's policy never sees the frame), then the sender counts and
 * reports its verdict, then the target's policy decides, counts and reports,
 * under the hook XTAP_OBS_HOOK_TO_VM_DEVMAP as before ("devmap" in
 * monitor and capture: the XDP path's to-VM decision).
 */
#ifndef XTAP_DELIVER_H
#define XTAP_DELIVER_H

#include "xtap_common.h"
#include "policy.h"
#include "observe.h"

/* VM taps, for unicast redirects whose to-VM policy the redirecting program applied. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XTAP_MAX_PORTS);
	__type(key, __u32);                   /* ifindex */
	__type(value, __u32);                 /* ifindex: no room for an egress program */
} xtap_deliver SEC(".maps");

/* XDP_REDIRECT to the VM's tap, or fallback when it is not in xtap_deliver. */
static __always_inline int xtap_deliver_redirect(__u32 ifindex, __u64 fallback)
{
	return bpf_redirect_map(&xtap_deliver, ifindex, fallback);
}

/*
 * The to-VM policy of the port on tap ifindex for the frame in ctx, which
 * the caller parsed into *f with result r (its bytes as they will be
 * delivered): counted and reported like xtap_to_vm does. XDP_REDIRECT (the
 * redirect xtap_deliver_redirect set up goes ahead) or XDP_DROP. A trace
 * (XTAP_TRACE_BUILD) stops before it, as a trace of the sender's program
 * always did: what it shows is the sender's decision.
 */
static __always_inline int xtap_deliver_policy(struct xdp_md *ctx, __u32 ifindex,
					       const struct xtap_flow *f, int r, __u64 *now)
{
	const struct xtap_port *port;
	struct xtap_decision d = {};
	void *data, *data_end;
	__u32 len;

	if (xtap_tracing())
		return XDP_REDIRECT;
	port = xtap_port_lookup(ifindex);
	if (!port)
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	len = data_end - data;
	xtap_to_vm_decide(data, data_end, len, 0, port, f, r, &d, now);
	xtap_port_count(port, XTAP_DIR_TO_VM, d.verdict, d.reason, len);
	xtap_obs_xdp(ctx, port->port_id, XTAP_DIR_TO_VM, d.verdict, d.reason,
		     XTAP_OBS_HOOK_TO_VM_DEVMAP, ifindex, len);
	return d.verdict == XTAP_VERDICT_DELIVER ? XDP_REDIRECT : XDP_DROP;
}

#endif /* XTAP_DELIVER_H */
