/* SPDX-License-Identifier: GPL-2.0 */
/* The value of xmit_count.bpf.c's map, shared with kernel_path.c (__u64 from vmlinux.h or linux/types.h). */
#ifndef XTAP_BENCH_XMIT_COUNT_H
#define XTAP_BENCH_XMIT_COUNT_H

/* ifindex numbers are per namespace, the tracepoint is not: the target's namespace (its inode) too. */
struct xmit_key {
	__u32 netns_ino, ifindex;
};

struct xmit_count {
	__u64 sent, drops, bulks;   /* frames the target took, frames refused or dropped, bulks */
};

#endif
