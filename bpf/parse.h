/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing shared by every program: Ethernet (+ one 802.1Q tag), ARP,
 * IPv4 (options walked), IPv6 (extension headers walked to L4), TCP, UDP,
 * SCTP, ICMP, ICMPv6. Never reads past data_end, and every header after L3
 * must lie inside the IP packet, not merely inside the frame. The rules and
 * their drop reasons are docs/packet-rules.md: truncated or contradictory
 * headers are MALFORMED; bytes after the IP packet beyond Ethernet padding
 * TRAILING; fragments that hide or overlap an L4 header, or carry ND, FRAGMENT;
 * IPv4 source routes IP_OPTION.
 */
#ifndef XTAP_PARSE_H
#define XTAP_PARSE_H

#include "xtap_common.h"

#define XTAP_IPV6_MAX_EXT_HDRS 8
/* The shortest Ethernet frame without FCS: shorter IP packets arrive padded to it. */
#define XTAP_ETH_MIN_FRAME 60

struct xtap_flow {
	__u16 eth_proto;     /* host order, after the VLAN tag */
	__u16 vlan_id;       /* 0 when untagged */
	__u8  has_vlan;
	__u8  l3_family;     /* 4, 6 or 0 */
	__u8  l4_proto;      /* IPPROTO_* of the innermost header (59: IPv6 No Next Header) */
	__u8  l4_ports;      /* sport/dport are valid (TCP/UDP/SCTP, first fragment) */
	__u8  fragment;      /* part of a fragmented datagram */
	__u8  icmp_type;     /* ICMP/ICMPv6 type when l4_proto is ICMP/ICMPv6 */
	__u16 sport;         /* host order */
	__u16 dport;
	__u16 l3_off;        /* from the start of the frame */
	__u16 l4_off;        /* 0 when there is no L4 header in this frame */
	__u16 l4_len;        /* L4 header + payload, per the L3 length fields */
	union {
		__be32 v4;
		__u8   v6[16];
		__u64  v6w[2];   /* 8-aligned: read as two words off the stack */
	} saddr, daddr;
};

/*
 * The shortest header of an upper-layer protocol: what a first fragment must
 * hold and what a later fragment's offset must not reach into (RFC 1858
 * generalised). ICMP is IPv4's (1), ICMPv6 IPv6's (58); in the other family
 * they are protocols we do not read. 0: no header we read.
 */
static __always_inline __u32 xtap_l4_min(__u8 proto, __u8 family)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 20;
	case IPPROTO_UDP:
		return 8;
	case IPPROTO_ICMP:
		return family == 4 ? 8 : 0;
	case IPPROTO_ICMPV6:
		return family == 6 ? 8 : 0;
	case IPPROTO_SCTP:
		return 12;
	default:
		return 0;
	}
}

/*
 * The L4 header at frame offset off, inside the IP packet that ends at frame
 * offset pend: one that does not fit the packet is `short_reason` (MALFORMED,
 * or FRAGMENT in a first fragment); one that does not fit the bytes the
 * program can read (data_end) is MALFORMED.
 */
static __always_inline int xtap_parse_l4(void *data, void *data_end, __u32 off, __u32 pend,
					 struct xtap_flow *f, int short_reason)
{
	__u32 need = xtap_l4_min(f->l4_proto, f->l3_family);
	__u8 *l4;

	if (off > XTAP_HDR_OFF_MAX)
		return XTAP_DROP_MALFORMED;
	f->l4_off = off;
	if (!need)
		return XTAP_DROP_NONE;
	if (off + need > pend)
		return short_reason;
	l4 = xtap_at(data, off);
	switch (f->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = (void *)l4;

		if ((void *)(th + 1) > data_end || th->doff < 5)
			return XTAP_DROP_MALFORMED;
		if (off + th->doff * 4 > pend)
			return short_reason;
		f->sport = bpf_ntohs(th->source);
		f->dport = bpf_ntohs(th->dest);
		f->l4_ports = 1;
		break;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		/* Both start with the ports; SCTP's common header is 12 bytes, UDP's 8. */
		__be16 *ports = (void *)l4;

		if ((void *)(l4 + 8) > data_end)
			return XTAP_DROP_MALFORMED;
		if (f->l4_proto == IPPROTO_SCTP && (void *)(l4 + 12) > data_end)
			return XTAP_DROP_MALFORMED;
		f->sport = bpf_ntohs(ports[0]);
		f->dport = bpf_ntohs(ports[1]);
		f->l4_ports = 1;
		break;
	}
	default:
		/* ICMP, ICMPv6: type, code, checksum and 4 more bytes. */
		if ((void *)(l4 + 8) > data_end)
			return XTAP_DROP_MALFORMED;
		f->icmp_type = l4[0];
		break;
	}
	return XTAP_DROP_NONE;
}

/*
 * A 16-bit network-order field as a bounded number. The 6.1 verifier does not
 * track a byte swap's result (it is "unknown"), and packet-pointer arithmetic with
 * it is refused; the mask in asm, which clang cannot drop, bounds it to 0..65535.
 */
static __always_inline __u64 xtap_be16_len(__be16 v)
{
	__u64 r = bpf_ntohs(v);

	asm volatile("%0 &= 0xffff" : "+r"(r));
	return r;
}

/* Bytes after the IP packet are Ethernet padding only in a minimum-size frame. */
static __always_inline int xtap_trailing(const struct xtap_flow *f, __u32 pend, __u32 len)
{
	return pend < len && len > XTAP_ETH_MIN_FRAME + (f->has_vlan ? VLAN_HLEN : 0);
}

#define XTAP_IPOPT_EOL  0
#define XTAP_IPOPT_NOP  1
#define XTAP_IPOPT_LSRR 131
#define XTAP_IPOPT_SSRR 137

/*
 * Byte position k of the options (k a constant): acts if an option starts
 * there. The header lies inside the frame (checked before); the checks
 * against data_end are for the verifier and never fail for k < optlen.
 */
static __always_inline int xtap_ipv4_opt_at(const __u8 *opt, void *data_end, __u32 k,
					    __u32 optlen, __u32 *next)
{
	__u32 type, olen;

	if (k >= optlen)
		return XTAP_DROP_NONE;
	if (k != *next)
		return -1;
	if ((void *)(opt + k + 1) > data_end)
		return XTAP_DROP_MALFORMED;
	type = opt[k];
	if (type == XTAP_IPOPT_EOL)
		return XTAP_DROP_NONE;
	if (type == XTAP_IPOPT_NOP) {
		*next = k + 1;
		return -1;
	}
	if (k + 1 >= optlen || (void *)(opt + k + 2) > data_end)
		return XTAP_DROP_MALFORMED;
	olen = opt[k + 1];
	if (olen < 2 || k + olen > optlen)
		return XTAP_DROP_MALFORMED;
	if (type == XTAP_IPOPT_LSRR || type == XTAP_IPOPT_SSRR)
		return XTAP_DROP_IP_OPTION;
	*next = k + olen;
	return -1;
}

/* -1: go on to the next position; anything else is the walk's result. */
#define XTAP_OPT_AT(k) {                                                         \
		int __r = xtap_ipv4_opt_at(opt, data_end, k, optlen, &next);     \
		if (__r >= 0)                                                    \
			return __r;                                              \
	}

/*
 * IPv4 options (optlen bytes, 4..40, at opt): EOL ends them, NOP is one
 * byte, every other option has a length byte >= 2 that keeps it inside the
 * header. Source routes (LSRR, SSRR) are refused; the first problem in the
 * walk decides. Built for the verifier: every byte position is visited, in
 * an unrolled walk that reads only constant offsets and acts where the next
 * option starts. A loop reading at a variable offset cost it 200 000
 * instructions per program (every offset range at every iteration); this
 * costs a few thousand. It runs only for IHL > 5.
 */
static __always_inline int xtap_parse_ipv4_opts(__u8 *opt, void *data_end, __u32 optlen)
{
	__u32 next = 0;

	XTAP_OPT_AT(0) XTAP_OPT_AT(1) XTAP_OPT_AT(2) XTAP_OPT_AT(3) XTAP_OPT_AT(4)
	XTAP_OPT_AT(5) XTAP_OPT_AT(6) XTAP_OPT_AT(7) XTAP_OPT_AT(8) XTAP_OPT_AT(9)
	XTAP_OPT_AT(10) XTAP_OPT_AT(11) XTAP_OPT_AT(12) XTAP_OPT_AT(13) XTAP_OPT_AT(14)
	XTAP_OPT_AT(15) XTAP_OPT_AT(16) XTAP_OPT_AT(17) XTAP_OPT_AT(18) XTAP_OPT_AT(19)
	XTAP_OPT_AT(20) XTAP_OPT_AT(21) XTAP_OPT_AT(22) XTAP_OPT_AT(23) XTAP_OPT_AT(24)
	XTAP_OPT_AT(25) XTAP_OPT_AT(26) XTAP_OPT_AT(27) XTAP_OPT_AT(28) XTAP_OPT_AT(29)
	XTAP_OPT_AT(30) XTAP_OPT_AT(31) XTAP_OPT_AT(32) XTAP_OPT_AT(33) XTAP_OPT_AT(34)
	XTAP_OPT_AT(35) XTAP_OPT_AT(36) XTAP_OPT_AT(37) XTAP_OPT_AT(38) XTAP_OPT_AT(39)
	return XTAP_DROP_NONE;
}

static __always_inline int xtap_parse_ipv4(void *data, void *data_end, __u32 len, void *l3,
					   struct xtap_flow *f)
{
	struct iphdr *iph = l3;
	__u32 hlen, tot_len, pend, frag, l4_off;
	int r;

	if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
		return XTAP_DROP_MALFORMED;
	hlen = iph->ihl * 4;
	tot_len = xtap_be16_len(iph->tot_len);
	pend = f->l3_off + tot_len;
	if (tot_len < hlen || pend > len)
		return XTAP_DROP_MALFORMED;
	if (l3 + hlen > data_end)
		return XTAP_DROP_MALFORMED;
	if (xtap_trailing(f, pend, len))
		return XTAP_DROP_TRAILING;
	f->l3_family = 4;
	f->saddr.v4 = iph->saddr;
	f->daddr.v4 = iph->daddr;
	f->l4_proto = iph->protocol;
	f->l4_len = tot_len - hlen;
	if (unlikely(hlen > sizeof(*iph))) {
		r = xtap_parse_ipv4_opts((__u8 *)(iph + 1), data_end, hlen - sizeof(*iph));
		if (r)
			return r;
	}
	l4_off = f->l3_off + hlen;
	frag = bpf_ntohs(iph->frag_off) & (IP_MF | IP_OFFSET);
	if (!frag)
		return xtap_parse_l4(data, data_end, l4_off, pend, f, XTAP_DROP_MALFORMED);
	f->fragment = 1;
	if (frag & IP_OFFSET) {
		/* A later fragment: protocol only, and it must not overlap the L4 header. */
		if ((frag & IP_OFFSET) * 8 < xtap_l4_min(f->l4_proto, 4))
			return XTAP_DROP_FRAGMENT;
		return XTAP_DROP_NONE;
	}
	return xtap_parse_l4(data, data_end, l4_off, pend, f, XTAP_DROP_FRAGMENT);
}

static __always_inline int xtap_ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING ||
	       nexthdr == NEXTHDR_DEST || nexthdr == NEXTHDR_AUTH ||
	       nexthdr == NEXTHDR_FRAGMENT;
}

static __always_inline int xtap_parse_ipv6(void *data, void *data_end, __u32 len, void *l3,
					   struct xtap_flow *f)
{
	struct ipv6hdr *ip6h = l3;
	/* Headers past a Fragment header that do not fit the packet break RFC 8200 4.5. */
	int short_reason = XTAP_DROP_MALFORMED;
	__u32 off, pend;
	__u8 nexthdr;
	int i, r;

	if ((void *)(ip6h + 1) > data_end || ip6h->version != 6)
		return XTAP_DROP_MALFORMED;
	off = f->l3_off + sizeof(*ip6h);
	pend = off + xtap_be16_len(ip6h->payload_len);
	if (pend > len)
		return XTAP_DROP_MALFORMED;
	if (xtap_trailing(f, pend, len))
		return XTAP_DROP_TRAILING;
	f->l3_family = 6;
	__builtin_memcpy(f->saddr.v6, &ip6h->saddr, 16);
	__builtin_memcpy(f->daddr.v6, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < XTAP_IPV6_MAX_EXT_HDRS; i++) {
		__u8 *eh;
		__u32 hlen;

		switch (nexthdr) {
		case NEXTHDR_HOP:
			if (i != 0)
				return XTAP_DROP_MALFORMED;
			/* fall through */
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
		case NEXTHDR_AUTH:
			if (off + 2 > pend)
				return short_reason;
			if (off > XTAP_HDR_OFF_MAX)
				return XTAP_DROP_MALFORMED;
			eh = xtap_at(data, off);
			if ((void *)(eh + 2) > data_end)
				return XTAP_DROP_MALFORMED;
			hlen = nexthdr == NEXTHDR_AUTH ? (eh[1] + 2) * 4 : (eh[1] + 1) * 8;
			break;
		case NEXTHDR_FRAGMENT: {
			struct frag_hdr *fh;
			__u32 foff;

			if (f->fragment)
				return XTAP_DROP_FRAGMENT;
			if (off + sizeof(*fh) > pend || off > XTAP_HDR_OFF_MAX)
				return XTAP_DROP_MALFORMED;
			fh = xtap_at(data, off);
			if ((void *)(fh + 1) > data_end)
				return XTAP_DROP_MALFORMED;
			f->fragment = 1;
			foff = bpf_ntohs(fh->frag_off) & 0xFFF8;
			if (foff) {
				/* A later fragment: the protocol, never another header. */
				nexthdr = fh->nexthdr;
				if (xtap_ipv6_is_ext(nexthdr) || foff < xtap_l4_min(nexthdr, 6))
					return XTAP_DROP_FRAGMENT;
				f->l4_proto = nexthdr;
				return XTAP_DROP_NONE;
			}
			short_reason = XTAP_DROP_FRAGMENT;
			eh = (__u8 *)fh;
			hlen = sizeof(*fh);
			break;
		}
		default:
			goto l4;
		}
		nexthdr = eh[0];
		off += hlen;
		if (off > pend)
			return short_reason;
	}
	/* More extension headers than we walk: refuse rather than guess. */
	if (xtap_ipv6_is_ext(nexthdr))
		return XTAP_DROP_MALFORMED;
l4:
	f->l4_proto = nexthdr;
	f->l4_len = pend - off;
	if (nexthdr == NEXTHDR_NONE)
		return XTAP_DROP_NONE;
	r = xtap_parse_l4(data, data_end, off, pend, f, short_reason);
	/* Neighbour Discovery never uses fragmentation (RFC 6980). */
	if (!r && f->fragment && nexthdr == IPPROTO_ICMPV6 &&
	    f->icmp_type >= ICMPV6_ROUTER_SOLICIT && f->icmp_type <= ICMPV6_REDIRECT)
		return XTAP_DROP_FRAGMENT;
	return r;
}

static __always_inline int xtap_parse_arp(void *data_end, void *l3)
{
	struct arphdr *ah = l3;

	/* Ethernet/IPv4 ARP only: hardware/protocol types and sizes fixed. */
	if ((void *)(ah + 1) + 2 * ETH_ALEN + 8 > data_end ||
	    ah->ar_hrd != bpf_htons(1) || ah->ar_pro != bpf_htons(ETH_P_IP) ||
	    ah->ar_hln != ETH_ALEN || ah->ar_pln != 4)
		return XTAP_DROP_MALFORMED;
	return XTAP_DROP_NONE;
}

/*
 * Parses the frame (len bytes; the program can read data..data_end, which on
 * the skb path may be less) into *f. Returns XTAP_DROP_NONE or the reason the
 * frame breaks the packet rules (docs/packet-rules.md): MALFORMED, TRAILING,
 * FRAGMENT, IP_OPTION.
 */
static __always_inline int xtap_parse(void *data, void *data_end, __u32 len, struct xtap_flow *f)
{
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__u16 proto;

	if (l3 > data_end)
		return XTAP_DROP_MALFORMED;
	proto = bpf_ntohs(eth->h_proto);
	if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
		struct vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return XTAP_DROP_MALFORMED;
		f->has_vlan = 1;
		f->vlan_id = bpf_ntohs(vh->h_vlan_TCI) & 0x0FFF;
		proto = bpf_ntohs(vh->h_vlan_encapsulated_proto);
		l3 = vh + 1;
		/* One tag only: a second one is not a frame we steer. */
		if (proto == ETH_P_8021Q || proto == ETH_P_8021AD)
			return XTAP_DROP_MALFORMED;
	}
	f->eth_proto = proto;
	f->l3_off = l3 - data;

	switch (proto) {
	case ETH_P_IP:
		return xtap_parse_ipv4(data, data_end, len, l3, f);
	case ETH_P_IPV6:
		return xtap_parse_ipv6(data, data_end, len, l3, f);
	case ETH_P_ARP:
		return xtap_parse_arp(data_end, l3);
	default:
		return XTAP_DROP_NONE;
	}
}

/*
 * The parser as global (BPF-to-BPF) functions, one per context type. The
 * verifier checks a global function once, on its own, and the caller gets back
 * a number and a struct it knows nothing about; inlined, every path through
 * the header walk multiplied the paths through the policy behind it and the
 * from-VM program passed the verifier's 1M-instruction limit. Callers mask
 * every offset they take from *f (xtap_at), so they need not know it.
 */
__noinline int xtap_parse_xdp(struct xdp_md *ctx, struct xtap_flow *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (!f)
		return XTAP_DROP_MALFORMED;
	return xtap_parse(data, data_end, data_end - data, f);
}

/* The whole frame is skb->len bytes; only data..data_end are readable. */
__noinline int xtap_parse_skb(struct __sk_buff *skb, struct xtap_flow *f)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (!f)
		return XTAP_DROP_MALFORMED;
	return xtap_parse(data, data_end, skb->len, f);
}

#endif /* XTAP_PARSE_H */
