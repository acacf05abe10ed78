/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-port policy, in one place, for both directions. Every hook that
 * handles a VM's frames calls these: "from VM" (XDP on the tap) and "to VM"
 * (devmap egress XDP for redirected frames, tc egress for the rest).
 */
#ifndef XTAP_POLICY_H
#define XTAP_POLICY_H

#include "xtap_common.h"
#include "parse.h"
#include "port.h"
#include "antispoof.h"
#include "acl.h"
#include "ratelimit.h"
#include "forward.h"

static __always_inline void xtap_drop(struct xtap_decision *d, __u32 reason)
{
	d->verdict = XTAP_VERDICT_DROP;
	d->reason = reason;
}

/* A frame the VM transmitted: parse, anti-spoof, ACL, rate limit, steer. */
static __always_inline void xtap_from_vm_decide(void *data, void *data_end, __u32 len,
						const struct xtap_port *port,
						struct xtap_flow *f, struct xtap_decision *d)
{
	int r = xtap_parse(data, data_end, f);

	if (!r)
		r = xtap_antispoof(port, data, data_end, f);
	if (!r)
		r = xtap_acl_check(port, XTAP_DIR_FROM_VM, f, len);
	if (!r)
		r = xtap_rate_check(port, XTAP_DIR_FROM_VM, len);
	if (r) {
		xtap_drop(d, r);
		return;
	}
	xtap_steer(port, ((struct ethhdr *)data)->h_dest, d);
}

/* A frame about to be delivered to the VM, whichever path brought it. */
static __always_inline void xtap_to_vm_decide(void *data, void *data_end, __u32 len,
					      const struct xtap_port *port,
					      struct xtap_decision *d)
{
	struct xtap_flow f = {};
	struct ethhdr *eth = data;
	int r = xtap_parse(data, data_end, &f);

	if (!r && f.has_vlan)
		r = XTAP_DROP_VLAN_TAGGED;
	if (!r && !xtap_mac_is_multicast(eth->h_dest) && !xtap_mac_eq(eth->h_dest, port->mac))
		r = XTAP_DROP_DST_MAC;
	if (!r)
		r = xtap_acl_check(port, XTAP_DIR_TO_VM, &f, len);
	if (!r)
		r = xtap_rate_check(port, XTAP_DIR_TO_VM, len);
	if (r)
		xtap_drop(d, r);
	else
		d->verdict = XTAP_VERDICT_DELIVER;
}

#endif /* XTAP_POLICY_H */
