// SPDX-License-Identifier: GPL-2.0
/*
 * "to VM": the policy for frames entering a VM, built into the hooks that
 * see them. XDP redirects skip the target tap's qdisc and tc egress: a
 * unicast one meets the policy in the program that redirects it
 * (bpf/deliver.h), an XDP flood in the devmap egress program below, once
 * per target; frames from the host stack and the skb path meet it in tc
 * egress.
 */
#include "xtap_common.h"
#include "policy.h"
#include "observe.h"

/* Enough to reach L4 ports behind IPv6 extension headers. */
#define XTAP_TC_PULL_LEN 256

SEC("xdp/devmap")
int xtap_to_vm(struct xdp_md *ctx)
{
	const struct xtap_port *port = xtap_port_lookup(ctx->egress_ifindex);
	struct xtap_decision d = {};
	struct xtap_flow f = {};
	void *data, *data_end;
	__u64 now = 0;
	__u32 len;
	int r;

	if (!port)
		return XDP_DROP;
	r = xtap_parse_xdp(ctx, &f);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	len = data_end - data;
	xtap_to_vm_decide(data, data_end, len, 0, port, &f, r, &d, &now);
	xtap_port_count(port, XTAP_DIR_TO_VM, d.verdict, d.reason, len);
	xtap_obs_xdp(ctx, port->port_id, XTAP_DIR_TO_VM, d.verdict, d.reason, XTAP_OBS_HOOK_TO_VM_DEVMAP,
		     ctx->egress_ifindex, len);
	return d.verdict == XTAP_VERDICT_DELIVER ? XDP_PASS : XDP_DROP;
}

SEC("tc")
int xtap_to_vm_tc(struct __sk_buff *skb)
{
	const struct xtap_port *port = xtap_port_lookup(skb->ifindex);
	struct xtap_decision d = {};
	struct xtap_flow f = {};
	void *data, *data_end;
	__u64 now = 0;
	int r;

	if (!port)
		return TC_ACT_SHOT;
	/* Headers of skbs from the stack may sit in fragments. */
	if (skb->data_end - skb->data < XTAP_TC_PULL_LEN && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < XTAP_TC_PULL_LEN ? skb->len : XTAP_TC_PULL_LEN);
	xtap_barrier_var(skb);
	r = xtap_parse_skb(skb, &f);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	xtap_to_vm_decide(data, data_end, skb->len, skb->gso_size != 0, port, &f, r, &d, &now);
	xtap_port_count(port, XTAP_DIR_TO_VM, d.verdict, d.reason, skb->len);
	xtap_obs_skb(skb, port->port_id, XTAP_DIR_TO_VM, d.verdict, d.reason, XTAP_OBS_HOOK_TO_VM_TC);
	return d.verdict == XTAP_VERDICT_DELIVER ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
