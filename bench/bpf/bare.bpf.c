// SPDX-License-Identifier: GPL-2.0
/* Baselines for the program-cost benchmark: no policy at all. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} bare_target SEC(".maps");

/* The fast path with no policy: what a redirect costs by itself. */
SEC("xdp")
int bare_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&bare_target, 0, XDP_DROP);
}

/* The classic rows of kernel_path: the frame goes on into the host's stack (bridge, ebtables, htb). */
SEC("xdp")
int bare_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bare_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
