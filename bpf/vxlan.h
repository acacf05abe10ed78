/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VXLAN (RFC 7348) over an IPv4 underlay: the outer headers, encapsulation
 * in XDP (unicast to one VTEP) and on the skb path (GSO frames, and the
 * head-end replication of broadcasts to every remote VTEP of a segment),
 * and decapsulation in the underlay's XDP. Outer MACs come from the
 * kernel's FIB and neighbour table (bpf_fib_lookup); the agent keeps the
 * VTEPs as managed neighbours, so they are resolved before the first frame.
 */
#ifndef XTAP_VXLAN_H
#define XTAP_VXLAN_H

#include "xtap_common.h"
#include "parse.h"
#include "overlay.h"

#define XTAP_AF_INET        2
#define XTAP_VXLAN_FLAG_VNI bpf_htonl(0x08000000)   /* "I": the VNI is valid */
#define XTAP_VXLAN_SPORT_MIN 49152                   /* RFC 7348: the dynamic range */

#ifndef BPF_F_ADJ_ROOM_ENCAP_L2
#define BPF_F_ADJ_ROOM_ENCAP_L2(len) (((__u64)(len) & BPF_ADJ_ROOM_ENCAP_L2_MASK) \
				      << BPF_ADJ_ROOM_ENCAP_L2_SHIFT)
#endif

struct xtap_vxlan_outer {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__be32 vx_flags;
	__be32 vx_vni;     /* VNI << 8 */
} __attribute__((packed));

_Static_assert(sizeof(struct xtap_vxlan_outer) == XTAP_VXLAN_OVERHEAD, "outer headers");

static __always_inline __u32 xtap_mix(__u32 h, __u32 w)
{
	h ^= w;
	h *= 0x9E3779B1U;
	return h ^ (h >> 16);
}

/*
 * The outer UDP source port: a hash of the inner flow (addresses, protocol,
 * ports; MACs for non-IP), so that underlay ECMP keeps a flow on one path.
 */
static __always_inline __u16 xtap_vxlan_sport(const struct xtap_flow *f, const struct ethhdr *eth)
{
	__u32 h = 0;

	if (f->l3_family == 4) {
		h = xtap_mix(h, f->saddr.v4);
		h = xtap_mix(h, f->daddr.v4);
	} else if (f->l3_family == 6) {
		h = xtap_mix(h, (__u32)(f->saddr.v6w[0] ^ f->saddr.v6w[1]));
		h = xtap_mix(h, (__u32)((f->saddr.v6w[0] ^ f->saddr.v6w[1]) >> 32));
		h = xtap_mix(h, (__u32)(f->daddr.v6w[0] ^ f->daddr.v6w[1]));
		h = xtap_mix(h, (__u32)((f->daddr.v6w[0] ^ f->daddr.v6w[1]) >> 32));
	} else {
		h = xtap_mix(h, *(const __u32 *)eth->h_dest);
		h = xtap_mix(h, *(const __u32 *)eth->h_source);
	}
	h = xtap_mix(h, f->l4_ports ? ((__u32)f->sport << 16 | f->dport) : 0);
	h = xtap_mix(h, f->l4_proto);
	return XTAP_VXLAN_SPORT_MIN | (h & 0x3FFF);
}

/*
 * The outer headers for `inner_len` bytes of inner frame to vtep, MACs from
 * the FIB on the underlay. -1: no route via the underlay, its neighbour is
 * not resolved (yet), or (check_mtu) the frame is longer than the route's
 * MTU. The skb path leaves the MTU to the kernel, which lets GSO frames by.
 */
static __always_inline int xtap_vxlan_outer_build(void *ctx, const struct xtap_underlay *u,
						  __be32 vtep, __u32 vni, __u16 sport,
						  __u32 inner_len, int check_mtu,
						  struct xtap_vxlan_outer *h)
{
	__u16 tot_len = inner_len + XTAP_VXLAN_OVERHEAD - ETH_HLEN;
	struct bpf_fib_lookup p = {};
	struct iphdr ip = {};
	__u32 sum;

	p.family = XTAP_AF_INET;
	p.l4_protocol = IPPROTO_UDP;
	p.tot_len = check_mtu ? tot_len : 0;   /* the lookup overwrites it with the route's MTU */
	p.ifindex = u->ifindex;
	p.ipv4_src = u->vtep;
	p.ipv4_dst = vtep;
	if (bpf_fib_lookup(ctx, &p, sizeof(p), 0) != BPF_FIB_LKUP_RET_SUCCESS || p.ifindex != u->ifindex)
		return -1;
	__builtin_memcpy(h->eth.h_dest, p.dmac, ETH_ALEN);
	__builtin_memcpy(h->eth.h_source, p.smac, ETH_ALEN);
	h->eth.h_proto = bpf_htons(ETH_P_IP);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(tot_len);
	ip.ttl = 64;
	ip.protocol = IPPROTO_UDP;
	ip.saddr = u->vtep;
	ip.daddr = vtep;
	sum = bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	ip.check = ~sum & 0xFFFF;
	__builtin_memcpy(&h->ip, &ip, sizeof(ip));
	h->udp.source = bpf_htons(sport);
	h->udp.dest = bpf_htons(XTAP_VXLAN_PORT);
	h->udp.len = bpf_htons(inner_len + XTAP_VXLAN_OVERHEAD - ETH_HLEN - sizeof(struct iphdr));
	h->udp.check = 0;   /* RFC 7348: zero over IPv4 */
	h->vx_flags = XTAP_VXLAN_FLAG_VNI;
	h->vx_vni = bpf_htonl(vni << 8);
	return 0;
}

/* Encapsulates the whole XDP frame to vtep. -1: no route (the frame is unchanged). */
static __always_inline int xtap_xdp_vxlan_encap(struct xdp_md *ctx, const struct xtap_underlay *u,
						__be32 vtep, __u32 vni, __u16 sport)
{
	struct xtap_vxlan_outer h;
	void *data, *data_end;
	__u32 len = ctx->data_end - ctx->data;

	if (xtap_vxlan_outer_build(ctx, u, vtep, vni, sport, len, 1, &h))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(h)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(h) > data_end)
		return -1;
	__builtin_memcpy(data, &h, sizeof(h));
	return 0;
}

/*
 * Adds room for the outer headers in front of the skb's frame (GSO state
 * becomes a UDP tunnel's) and moves the inner Ethernet header behind it.
 * The outer headers are the caller's to write (xtap_skb_vxlan_write). The
 * inner L2 length is the Ethernet header alone: the VXLAN header belongs to
 * the tunnel (UDP) header, so segmentation finds the inner frame. The MSS
 * stays: the port's MTU already leaves room for the outer headers.
 */
static __always_inline int xtap_skb_vxlan_push(struct __sk_buff *skb)
{
	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		      BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN) |
		      BPF_F_ADJ_ROOM_FIXED_GSO;
	struct ethhdr inner;

	if (bpf_skb_load_bytes(skb, 0, &inner, sizeof(inner)))
		return -1;
	if (bpf_skb_adjust_room(skb, XTAP_VXLAN_OVERHEAD, BPF_ADJ_ROOM_MAC, flags))
		return -1;
	return bpf_skb_store_bytes(skb, XTAP_VXLAN_OVERHEAD, &inner, sizeof(inner), 0) ? -1 : 0;
}

/* Writes the outer headers to vtep into a pushed skb. -1: no route. */
static __always_inline int xtap_skb_vxlan_write(struct __sk_buff *skb, const struct xtap_underlay *u,
						__be32 vtep, __u32 vni, __u16 sport)
{
	struct xtap_vxlan_outer h;

	if (xtap_vxlan_outer_build(skb, u, vtep, vni, sport, skb->len - XTAP_VXLAN_OVERHEAD, 0, &h))
		return -1;
	return bpf_skb_store_bytes(skb, 0, &h, sizeof(h), 0) ? -1 : 0;
}

/* The outer source port of an skb's frame, as XDP computes it. */
static __always_inline __u16 xtap_skb_vxlan_sport(struct __sk_buff *skb)
{
	struct xtap_flow f = {};
	struct ethhdr eth;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return XTAP_VXLAN_SPORT_MIN;
	xtap_parse_skb(skb, &f);
	return xtap_vxlan_sport(&f, &eth);
}

/*
 * Head-end replication: a copy of the skb's frame to every remote VTEP of
 * the segment. The skb stays encapsulated: the caller drops it. Broadcasts
 * are ARP too, which bpf_skb_adjust_room refuses (IP only): the outer
 * headers go in front with bpf_skb_change_head (no GSO state to keep).
 */
static __always_inline void xtap_tc_vxlan_replicate(struct __sk_buff *skb, __u32 segment_id, __u32 vni)
{
	const struct xtap_segment_vteps *v = bpf_map_lookup_elem(&xtap_seg_vteps, &segment_id);
	const struct xtap_underlay *u = xtap_underlay_get();
	__u16 sport;
	__u32 i, n;

	if (!u || !v || !v->count)
		return;
	n = v->count;
	sport = xtap_skb_vxlan_sport(skb);
	if (bpf_skb_change_head(skb, XTAP_VXLAN_OVERHEAD, 0))
		return;
	for (i = 0; i < XTAP_MAX_SEGMENT_VTEPS; i++) {
		__be32 vtep;

		if (i >= n)
			break;
		v = bpf_map_lookup_elem(&xtap_seg_vteps, &segment_id);
		if (!v || i >= XTAP_MAX_SEGMENT_VTEPS)
			break;
		vtep = v->vtep[i];
		if (xtap_skb_vxlan_write(skb, u, vtep, vni, sport)) {
			xtap_overlay_count(XTAP_OVL_ENCAP_NO_ROUTE, skb->len);
			continue;
		}
		if (!bpf_clone_redirect(skb, u->ifindex, 0))
			xtap_overlay_count(XTAP_OVL_REPLICATED, skb->len);
	}
}

/*
 * Decapsulation on the underlay's XDP. Returns 1 and the segment when the
 * frame was VXLAN to this VTEP from a VTEP its VNI's segment lists: the
 * frame is now the inner one. 0: not VXLAN for this host (the frame is
 * unchanged). -1: VXLAN for this host from an unknown VTEP or VNI, to drop
 * (counted XTAP_DROP_UNDERLAY), or that could not be decapsulated.
 */
static __always_inline int xtap_xdp_vxlan_decap(struct xdp_md *ctx, __u32 *segment_out)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xtap_vxlan_outer *h = data;
	const struct xtap_underlay *u;
	const __u32 *segment;
	__u32 vni;

	if ((void *)(h + 1) + ETH_HLEN > data_end)
		return 0;
	if (h->eth.h_proto != bpf_htons(ETH_P_IP) || h->ip.version != 4 || h->ip.ihl != 5 ||
	    h->ip.protocol != IPPROTO_UDP || (h->ip.frag_off & bpf_htons(IP_MF | IP_OFFSET)) ||
	    h->udp.dest != bpf_htons(XTAP_VXLAN_PORT))
		return 0;
	u = xtap_underlay_get();
	if (!u || u->ifindex != ctx->ingress_ifindex || h->ip.daddr != u->vtep)
		return 0;
	vni = bpf_ntohl(h->vx_vni) >> 8;
	segment = (h->vx_flags & XTAP_VXLAN_FLAG_VNI) ? bpf_map_lookup_elem(&xtap_vni, &vni) : NULL;
	if (!segment || !xtap_vtep_known(*segment, h->ip.saddr)) {
		xtap_overlay_count(XTAP_OVL_DECAP_DROPPED, data_end - data);
		return -1;
	}
	*segment_out = *segment;
	xtap_overlay_count(XTAP_OVL_DECAP, data_end - data);
	return bpf_xdp_adjust_head(ctx, sizeof(*h)) ? -1 : 1;
}

#endif /* XTAP_VXLAN_H */
