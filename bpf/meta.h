/* SPDX-License-Identifier: GPL-2.0 */
/*
 * XDP -> tc hand-over. Frames XDP must not redirect itself (GSO frames, and
 * floods that must also reach the host) are passed up with the decision in
 * XDP metadata; the tc ingress program on the same device carries it out on
 * the skb path, which keeps checksum and GSO state. XDP cannot tell a GSO
 * frame from one over the MTU, so a frame longer than the port's MTU allows
 * is counted by tc (max_len != 0): dropped MTU unless it is GSO, else under
 * the verdict XDP decided. Every frame is counted once.
 */
#ifndef XTAP_META_H
#define XTAP_META_H

#include "xtap_common.h"

#define XTAP_META_MAGIC 0x78746170U   /* "xtap" */

enum xtap_meta_action {
	XTAP_META_REDIRECT   = 1,   /* target = ifindex */
	XTAP_META_FLOOD      = 2,   /* target = segment id */
	XTAP_META_FLOOD_HOST = 3,   /* flood, and the host stack gets it too */
	XTAP_META_HOST       = 4,   /* to the host stack */
	XTAP_META_VXLAN      = 5,   /* encapsulate to VTEP target (network order), to the underlay */
};

struct xtap_meta {
	__u32 magic;
	__u32 action;
	__u32 target;
	__u32 vlan;     /* tag to push when the target is a tagged uplink */
	__u32 port_id;  /* the sending port's counters */
	__u32 verdict;  /* what XDP decided (enum xtap_verdict), for tc to count */
	__u32 max_len;  /* 0: XDP counted the frame; else tc checks the MTU and counts */
};

static __always_inline int xtap_xdp_meta_set(struct xdp_md *ctx, __u32 action, __u32 target,
					     __u32 vlan, __u32 port_id, __u32 verdict,
					     __u32 max_len)
{
	struct xtap_meta *m;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return -1;
	m = (void *)(long)ctx->data_meta;
	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return -1;
	m->magic = XTAP_META_MAGIC;
	m->action = action;
	m->target = target;
	m->vlan = vlan;
	m->port_id = port_id;
	m->verdict = verdict;
	m->max_len = max_len;
	return 0;
}

/* Copies the metadata out: skb helpers called later invalidate packet pointers. */
static __always_inline int xtap_skb_meta_get(struct __sk_buff *skb, struct xtap_meta *out)
{
	struct xtap_meta *m = (void *)(long)skb->data_meta;

	if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != XTAP_META_MAGIC)
		return -1;
	*out = *m;
	return 0;
}

#endif /* XTAP_META_H */
