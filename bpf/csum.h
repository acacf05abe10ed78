/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Completing checksums a guest left to "the NIC". A guest with checksum
 * offload sends TCP/UDP with only the pseudo-header sum in the checksum field
 * and VIRTIO_NET_HDR_F_NEEDS_CSUM in the vnet header. tun runs native XDP
 * before it applies that header, and a frame XDP redirects arrives at the
 * other tap (or veth) with the mark gone: the receiver would see a bad
 * checksum. So before an XDP redirect the L4 checksum is completed here
 * when the field holds exactly the pseudo-header sum.
 */
#ifndef XTAP_CSUM_H
#define XTAP_CSUM_H

#include "xtap_common.h"
#include "parse.h"

#define XTAP_CSUM_CHUNK 512   /* most bpf_csum_diff sums at once */

struct xtap_scratch {
	__u8 buf[XTAP_CSUM_CHUNK + 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_scratch);
} xtap_scratch SEC(".maps");

static __always_inline __u16 xtap_csum_fold(__u32 sum)
{
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return sum;
}

/*
 * One's-complement sums are byte-order independent: words are added as they
 * sit in memory and the result is stored the same way.
 */
static __always_inline __u16 xtap_pseudo_sum(const struct xtap_flow *f)
{
	const __u16 *s = (const __u16 *)f->saddr.v6, *d = (const __u16 *)f->daddr.v6;
	__u32 sum = bpf_htons(f->l4_proto) + bpf_htons(f->l4_len);
	int i;

	if (f->l3_family == 4)
		return xtap_csum_fold(sum + s[0] + s[1] + d[0] + d[1]);
#pragma unroll
	for (i = 0; i < 8; i++)
		sum += s[i] + d[i];
	return xtap_csum_fold(sum);
}

/* Returns 0 when the frame is fine to redirect as is or was completed, -1 on error. */
static __always_inline int xtap_xdp_complete_csum(struct xdp_md *ctx, const struct xtap_flow *f)
{
	struct xtap_scratch *scratch;
	void *data, *data_end;
	__u32 csum_off, off, left, acc = 0, zero = 0;
	__u16 *field, want;
	int i;

	if (f->fragment || !f->l4_off)
		return 0;
	if (f->l4_proto == IPPROTO_TCP)
		csum_off = f->l4_off + 16;
	else if (f->l4_proto == IPPROTO_UDP)
		csum_off = f->l4_off + 6;
	else
		return 0;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	field = xtap_at(data, csum_off);
	if ((void *)(field + 1) > data_end)
		return -1;
	want = xtap_pseudo_sum(f);
	/* A UDP/IPv4 field of 0 means "no checksum". */
	if (*field != want || *field == 0)
		return 0;

	scratch = bpf_map_lookup_elem(&xtap_scratch, &zero);
	if (!scratch)
		return -1;
	off = f->l4_off;
	left = f->l4_len;
	for (i = 0; i < XTAP_XDP_FRAME_MAX / XTAP_CSUM_CHUNK + 1; i++) {
		__u32 n = left > XTAP_CSUM_CHUNK ? XTAP_CSUM_CHUNK : left;
		__s64 s;

		/*
		 * The 6.1 verifier bounds n (1..CHUNK, the helper's size) only from range
		 * checks on n's own register: the barriers keep clang from checking a copy,
		 * merging the two checks, or turning the lower one into "== 0".
		 */
		asm volatile("" : "+r"(n));
		if (n > XTAP_CSUM_CHUNK)
			break;
		asm volatile("" : "+r"(n));
		if ((__s32)n < 1)
			break;
		/* Zero-pad the tail so an odd length sums as RFC 1071 says. */
		*(__u32 *)&scratch->buf[n & (XTAP_CSUM_CHUNK - 4)] = 0;
		if (bpf_xdp_load_bytes(ctx, off, scratch->buf, n))
			return -1;
		s = bpf_csum_diff(NULL, 0, (void *)scratch->buf, (n + 3) & ~3U, acc);
		if (s < 0)
			return -1;
		acc = s;
		off += n;
		left -= n;
	}
	if (left)
		return -1;

	want = ~xtap_csum_fold(acc);
	if (f->l4_proto == IPPROTO_UDP && want == 0)
		want = 0xFFFF;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	field = xtap_at(data, csum_off);
	if ((void *)(field + 1) > data_end)
		return -1;
	*field = want;
	return 0;
}

#endif /* XTAP_CSUM_H */
