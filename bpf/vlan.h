/* SPDX-License-Identifier: GPL-2.0 */
/* 802.1Q tags on the XDP path: VM ports are untagged, a segment's uplink may be tagged. */
#ifndef XTAP_VLAN_H
#define XTAP_VLAN_H

#include "xtap_common.h"

struct xtap_eth_addrs {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
};

static __always_inline int xtap_xdp_vlan_push(struct xdp_md *ctx, __u16 vid)
{
	struct xtap_eth_addrs addrs;
	__be16 *tag;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	if (data + sizeof(addrs) > data_end)
		return -1;
	__builtin_memcpy(&addrs, data, sizeof(addrs));
	if (bpf_xdp_adjust_head(ctx, -VLAN_HLEN))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	tag = data + sizeof(addrs);
	if ((void *)(tag + 2) > data_end)
		return -1;
	__builtin_memcpy(data, &addrs, sizeof(addrs));
	/* TPID and TCI go between the MACs and the original ethertype. */
	tag[0] = bpf_htons(ETH_P_8021Q);
	tag[1] = bpf_htons(vid & 0x0FFF);
	return 0;
}

static __always_inline int xtap_xdp_vlan_pop(struct xdp_md *ctx)
{
	struct xtap_eth_addrs addrs;
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	if (data + sizeof(addrs) + VLAN_HLEN + 2 > data_end)
		return -1;
	__builtin_memcpy(&addrs, data, sizeof(addrs));
	if (bpf_xdp_adjust_head(ctx, VLAN_HLEN))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(addrs) > data_end)
		return -1;
	__builtin_memcpy(data, &addrs, sizeof(addrs));
	return 0;
}

#endif /* XTAP_VLAN_H */
