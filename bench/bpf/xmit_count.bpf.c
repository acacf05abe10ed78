// SPDX-License-Identifier: GPL-2.0
/*
 * Arrivals of redirected frames at their target: the xdp_devmap_xmit
 * tracepoint fires once per bulk handed to the target's ndo_xdp_xmit, with
 * how many it took (sent) and how many it refused or the devmap egress
 * program dropped (drops). tun's own tx_dropped counts one per bulk there.
 * A raw tracepoint: it needs no tracefs. It sees every namespace's devmaps:
 * keyed by the target's namespace and ifindex.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "xmit_count.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);   /* every engineer's targets on a shared machine */
	__type(key, struct xmit_key);
	__type(value, struct xmit_count);
} xmit_counts SEC(".maps");

SEC("raw_tp/xdp_devmap_xmit")
int BPF_PROG(count_xmit, const struct net_device *from, const struct net_device *to, int sent, int drops,
	     int err)
{
	struct xmit_key key = { BPF_CORE_READ(to, nd_net.net, ns.inum), BPF_CORE_READ(to, ifindex) };
	struct xmit_count *c = bpf_map_lookup_elem(&xmit_counts, &key), zero = {};

	if (!c) {
		bpf_map_update_elem(&xmit_counts, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&xmit_counts, &key);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->sent, sent);
	__sync_fetch_and_add(&c->drops, drops);
	__sync_fetch_and_add(&c->bulks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
