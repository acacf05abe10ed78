/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing shared by every program: Ethernet (+ one 802.1Q tag), ARP,
 * IPv4 (with options), IPv6 (extension headers walked to L4), TCP, UDP,
 * ICMP, ICMPv6. Never reads past data_end; a frame that is truncated or whose
 * headers contradict each other yields XTAP_DROP_MALFORMED.
 */
#ifndef XTAP_PARSE_H
#define XTAP_PARSE_H

#include "xtap_common.h"

#define XTAP_IPV6_MAX_EXT_HDRS 8

struct xtap_flow {
	__u16 eth_proto;     /* host order, after the VLAN tag */
	__u16 vlan_id;       /* 0 when untagged */
	__u8  has_vlan;
	__u8  l3_family;     /* 4, 6 or 0 */
	__u8  l4_proto;      /* IPPROTO_* of the innermost header, 0 if none */
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
	} saddr, daddr;
};

static __always_inline int xtap_parse_l4(void *data, void *data_end, void *l4,
					 struct xtap_flow *f)
{
	if (l4 - data > XTAP_HDR_OFF_MAX)
		return XTAP_DROP_MALFORMED;
	f->l4_off = l4 - data;
	switch (f->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || th->doff < 5)
			return XTAP_DROP_MALFORMED;
		f->sport = bpf_ntohs(th->source);
		f->dport = bpf_ntohs(th->dest);
		f->l4_ports = 1;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return XTAP_DROP_MALFORMED;
		f->sport = bpf_ntohs(uh->source);
		f->dport = bpf_ntohs(uh->dest);
		f->l4_ports = 1;
		break;
	}
	case IPPROTO_SCTP: {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return XTAP_DROP_MALFORMED;
		f->sport = bpf_ntohs(ports[0]);
		f->dport = bpf_ntohs(ports[1]);
		f->l4_ports = 1;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *icmp = l4;

		if ((void *)(icmp + 4) > data_end)
			return XTAP_DROP_MALFORMED;
		f->icmp_type = icmp[0];
		break;
	}
	default:
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

static __always_inline int xtap_parse_ipv4(void *data, void *data_end, void *l3,
					   struct xtap_flow *f)
{
	struct iphdr *iph = l3;
	__u32 hlen, tot_len;

	if ((void *)(iph + 1) > data_end || iph->version != 4 || iph->ihl < 5)
		return XTAP_DROP_MALFORMED;
	hlen = iph->ihl * 4;
	tot_len = xtap_be16_len(iph->tot_len);
	if (tot_len < hlen || l3 + tot_len > data_end)
		return XTAP_DROP_MALFORMED;
	if (l3 + hlen > data_end)
		return XTAP_DROP_MALFORMED;
	f->l3_family = 4;
	f->saddr.v4 = iph->saddr;
	f->daddr.v4 = iph->daddr;
	f->l4_proto = iph->protocol;
	f->l4_len = tot_len - hlen;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)) {
		f->fragment = 1;
		/* Only the first fragment carries the L4 header. */
		if (iph->frag_off & bpf_htons(IP_OFFSET))
			return XTAP_DROP_NONE;
	}
	return xtap_parse_l4(data, data_end, l3 + hlen, f);
}

static __always_inline int xtap_parse_ipv6(void *data, void *data_end, void *l3,
					   struct xtap_flow *f)
{
	struct ipv6hdr *ip6h = l3;
	void *cur = ip6h + 1, *end;
	__u8 nexthdr;
	int i;

	if (cur > data_end || ip6h->version != 6)
		return XTAP_DROP_MALFORMED;
	end = cur + xtap_be16_len(ip6h->payload_len);
	if (end > data_end)
		return XTAP_DROP_MALFORMED;
	f->l3_family = 6;
	__builtin_memcpy(f->saddr.v6, &ip6h->saddr, 16);
	__builtin_memcpy(f->daddr.v6, &ip6h->daddr, 16);
	nexthdr = ip6h->nexthdr;

#pragma unroll
	for (i = 0; i < XTAP_IPV6_MAX_EXT_HDRS; i++) {
		__u8 *eh = cur;
		__u32 len;

		switch (nexthdr) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if ((void *)(eh + 2) > data_end)
				return XTAP_DROP_MALFORMED;
			len = (eh[1] + 1) * 8;
			break;
		case NEXTHDR_AUTH:
			if ((void *)(eh + 2) > data_end)
				return XTAP_DROP_MALFORMED;
			len = (eh[1] + 2) * 4;
			break;
		case NEXTHDR_FRAGMENT: {
			struct frag_hdr *fh = cur;

			if ((void *)(fh + 1) > data_end)
				return XTAP_DROP_MALFORMED;
			f->fragment = 1;
			if (fh->frag_off & bpf_htons(0xFFF8)) {
				/* A later fragment: no L4 header here. */
				f->l4_proto = fh->nexthdr;
				return XTAP_DROP_NONE;
			}
			len = sizeof(*fh);
			break;
		}
		default:
			goto l4;
		}
		nexthdr = eh[0];
		cur += len;
		if (cur > end)
			return XTAP_DROP_MALFORMED;
	}
	/* More extension headers than we walk: refuse rather than guess. */
	if (nexthdr == NEXTHDR_HOP || nexthdr == NEXTHDR_ROUTING || nexthdr == NEXTHDR_DEST ||
	    nexthdr == NEXTHDR_AUTH || nexthdr == NEXTHDR_FRAGMENT)
		return XTAP_DROP_MALFORMED;
l4:
	f->l4_proto = nexthdr;
	f->l4_len = end - cur;
	if (nexthdr == NEXTHDR_NONE) {
		f->l4_proto = 0;
		return XTAP_DROP_NONE;
	}
	return xtap_parse_l4(data, data_end, cur, f);
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

/* Parses the frame into *f. Returns XTAP_DROP_NONE or XTAP_DROP_MALFORMED. */
static __always_inline int xtap_parse(void *data, void *data_end, struct xtap_flow *f)
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
		return xtap_parse_ipv4(data, data_end, l3, f);
	case ETH_P_IPV6:
		return xtap_parse_ipv6(data, data_end, l3, f);
	case ETH_P_ARP:
		return xtap_parse_arp(data_end, l3);
	default:
		return XTAP_DROP_NONE;
	}
}

#endif /* XTAP_PARSE_H */
