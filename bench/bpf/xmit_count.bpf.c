// SPDX-License-Identifier: GPL-2.0
/*
 * Arrivals of redirected frames at their target: the xdp_devmap_xmit
 * tracepoint fires once per bulk handed to the target's ndo_xdp_xmit, with
 * how many it took (sent) and how many it refused or the devmap egress
 * program dropped (drops). tun's own tx_dropped counts one per bulk there.
 * A BTF tracepoint: it needs no tracefs, and reads the device directly
 * (no probe reads: it runs once per bulk in every redirect row). It sees every namespace's devmaps:
 * keyed by the target's namespace and ifindex.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "xmit_count.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);   /* every engineer's targets on a shared machine */
	__type(key, struct xmit_key);
	__type(value, struct xmit_count);
} xmit_counts SEC(".maps");

SEC("tp_btf/xdp_devmap_xmit")
int BPF_PROG(count_xmit, const struct net_device *from, const struct net_device *to, int sent, int drops,
	     int err)
{
	struct xmit_key key = { to->nd_net.net->ns.inum, to->ifindex };
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
