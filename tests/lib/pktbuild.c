// SPDX-License-Identifier: GPL-2.0
/* pktbuild: see pktbuild.h. */
#define _POSIX_C_SOURCE 200809L /* inet_pton under -std=c11 */

#include "pktbuild.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not assert(): fixtures must stay checked when tests build with NDEBUG. */
#define PKT_CHECK(cond)                                                     \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",    \
				__FILE__, __LINE__, __func__, #cond);       \
			abort();                                            \
		}                                                           \
	} while (0)

#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8   /* IPv4 echo: type, code, csum, id, seq */
#define ICMP6_HLEN 4  /* type, code, csum; the rest is type specific */
#define ND_HLEN 24    /* ICMPv6 header, 4 flag/reserved bytes, target */
#define VLAN_HLEN 4
#define ARP_LEN 28
#define IP6_EXT_LEN 8
#define BOOTP_FIXED_LEN 236
#define IP4_MF 0x2000
#define IP4_DF 0x4000
#define IP4_OFFMASK 0x1fff
#define IP4_OPT_EOL 0
#define IP4_OPT_NOP 1
#define IP6_ROUTING_EXPERIMENTAL 253 /* RFC 4727 */
#define ICMP6_NS 135
#define ICMP6_NA 136
#define DHCP_MAGIC 0x63825363
#define DHCP_OPT_MSG_TYPE 53
#define DHCP_OPT_END 255

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Reserve n zeroed bytes at the end of the frame. */
static uint8_t *grow(struct pkt *p, size_t n)
{
	PKT_CHECK(n <= PKT_MAX - p->len);
	uint8_t *b = p->data + p->len;
	memset(b, 0, n);
	p->len += n;
	return b;
}

/* One's-complement sum of big-endian 16-bit words; an odd tail byte is
 * padded with zero, so only the last chunk of a sum may be odd. */
static uint32_t csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	for (; n > 1; b += 2, n -= 2)
		sum += get16(b);
	if (n)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

/* Fold carries back in; not complemented. */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint32_t pseudo_sum(const uint8_t *ip, bool v6, uint8_t proto,
			   uint32_t l4_len)
{
	uint8_t tail[8];

	if (v6) {
		put32(tail, l4_len);
		put32(tail + 4, proto);
		return csum_add(csum_add(0, ip + 8, 32), tail, 8);
	}
	put16(tail, proto);
	put16(tail + 2, (uint16_t)l4_len);
	return csum_add(csum_add(0, ip + 12, 8), tail, 4);
}

/* Offset of the checksum field inside the L4 header; 0 = not supported. */
static size_t csum_field_off(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return 2;
	default:
		return 0;
	}
}

static void expect_ethertype(struct pkt *p, uint16_t type)
{
	PKT_CHECK(p->len > 0 && p->l3_proto == 0);
	PKT_CHECK(p->next_ethertype == type);
}

/* Every IP-level header checks it is the one the previous header announced. */
static void expect_proto(struct pkt *p, uint8_t proto)
{
	PKT_CHECK(p->l3_proto == ETH_P_IP || p->l3_proto == ETH_P_IPV6);
	PKT_CHECK(p->l4_off == 0 && !p->later_fragment);
	PKT_CHECK(p->next_proto == proto);
}

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     uint16_t ethertype)
{
	PKT_CHECK(p->len == 0);
	uint8_t *h = grow(p, ETH_HLEN);
	memcpy(h, dst, ETH_ALEN);
	memcpy(h + ETH_ALEN, src, ETH_ALEN);
	put16(h + 12, ethertype);
	p->next_ethertype = ethertype;
}

void pkt_vlan(struct pkt *p, uint16_t vid, uint16_t inner_ethertype)
{
	expect_ethertype(p, ETH_P_8021Q);
	PKT_CHECK(vid < 4096);
	uint8_t *h = grow(p, VLAN_HLEN);
	put16(h, vid);
	put16(h + 2, inner_ethertype);
	p->next_ethertype = inner_ethertype;
}

void pkt_arp(struct pkt *p, uint16_t op, const uint8_t sha[6], uint32_t spa_be,
	     const uint8_t tha[6], uint32_t tpa_be)
{
	expect_ethertype(p, ETH_P_ARP);
	p->l3_off = p->len;
	p->l3_proto = ETH_P_ARP;
	uint8_t *h = grow(p, ARP_LEN);
	put16(h, 1); /* hardware type Ethernet */
	put16(h + 2, ETH_P_IP);
	h[4] = ETH_ALEN;
	h[5] = 4;
	put16(h + 6, op);
	memcpy(h + 8, sha, ETH_ALEN);
	memcpy(h + 14, &spa_be, 4);
	memcpy(h + 18, tha, ETH_ALEN);
	memcpy(h + 24, &tpa_be, 4);
}

void pkt_ipv4(struct pkt *p, uint32_t src_be, uint32_t dst_be, uint8_t proto)
{
	pkt_ipv4_ex(p, src_be, dst_be, proto, &PKT_IP4_DEFAULTS);
}

void pkt_ipv4_ex(struct pkt *p, uint32_t src_be, uint32_t dst_be, uint8_t proto,
		 const struct pkt_ip4_opts *o)
{
	expect_ethertype(p, ETH_P_IP);
	PKT_CHECK(o->opt_len % 4 == 0 && o->opt_len <= 40);
	PKT_CHECK(o->frag_off <= IP4_OFFMASK);
	p->l3_off = p->len;
	p->l3_proto = ETH_P_IP;
	uint8_t *h = grow(p, IP4_HLEN + o->opt_len);
	h[0] = (uint8_t)(0x40 | (IP4_HLEN + o->opt_len) / 4);
	put16(h + 6, (o->df ? IP4_DF : 0) | (o->mf ? IP4_MF : 0) | o->frag_off);
	h[8] = o->ttl;
	h[9] = proto;
	memcpy(h + 12, &src_be, 4);
	memcpy(h + 16, &dst_be, 4);
	if (o->opt_len) {
		/* NOPs, then EOL in the last byte: valid, and parsers must
		 * still honour IHL to find L4. */
		memset(h + IP4_HLEN, IP4_OPT_NOP, o->opt_len - 1u);
		h[IP4_HLEN + o->opt_len - 1] = IP4_OPT_EOL;
	}
	p->next_proto = proto;
	p->later_fragment = o->frag_off != 0;
}

void pkt_ipv6(struct pkt *p, const struct in6_addr *src,
	      const struct in6_addr *dst, uint8_t next_header)
{
	expect_ethertype(p, ETH_P_IPV6);
	p->l3_off = p->len;
	p->l3_proto = ETH_P_IPV6;
	uint8_t *h = grow(p, IP6_HLEN);
	h[0] = 0x60;
	h[6] = next_header;
	h[7] = 64;
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	p->next_proto = next_header;
}

void pkt_ipv6_ext(struct pkt *p, uint8_t type, uint8_t next_header)
{
	PKT_CHECK(p->l3_proto == ETH_P_IPV6);
	PKT_CHECK(type == IPPROTO_HOPOPTS || type == IPPROTO_DSTOPTS ||
		  type == IPPROTO_ROUTING);
	expect_proto(p, type);
	uint8_t *h = grow(p, IP6_EXT_LEN);
	h[0] = next_header;
	/* h[1] = 0: no 8-byte units beyond the first 8 */
	if (type == IPPROTO_ROUTING) {
		h[2] = IP6_ROUTING_EXPERIMENTAL; /* h[3] segments left = 0 */
	} else {
		h[2] = 1; /* PadN covering the remaining 6 bytes */
		h[3] = 4;
	}
	p->next_proto = next_header;
}

void pkt_ipv6_frag(struct pkt *p, uint8_t next_header, uint16_t offset,
		   bool more, uint32_t id)
{
	PKT_CHECK(p->l3_proto == ETH_P_IPV6);
	expect_proto(p, IPPROTO_FRAGMENT);
	PKT_CHECK(offset < 8192);
	uint8_t *h = grow(p, IP6_EXT_LEN);
	h[0] = next_header;
	put16(h + 2, (uint16_t)(offset << 3 | more));
	put32(h + 4, id);
	p->next_proto = next_header;
	p->later_fragment = offset != 0;
}

/* Start the L4 header and remember it for pkt_finish(). */
static uint8_t *l4_begin(struct pkt *p, uint8_t proto, size_t hlen)
{
	expect_proto(p, proto);
	p->l4_off = p->len;
	p->l4_proto = proto;
	return grow(p, hlen);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     size_t payload_len)
{
	uint8_t *h = l4_begin(p, IPPROTO_TCP, TCP_HLEN);
	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, 1);
	put32(h + 8, (flags & PKT_TCP_ACK) ? 1 : 0);
	h[12] = (TCP_HLEN / 4) << 4;
	h[13] = flags;
	put16(h + 14, 65535);
	pkt_payload(p, payload_len);
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, size_t payload_len)
{
	uint8_t *h = l4_begin(p, IPPROTO_UDP, UDP_HLEN);
	put16(h, sport);
	put16(h + 2, dport);
	pkt_payload(p, payload_len);
}

void pkt_icmp_echo(struct pkt *p, uint8_t type, uint16_t id, uint16_t seq,
		   size_t payload_len)
{
	PKT_CHECK(p->l3_proto == ETH_P_IP);
	uint8_t *h = l4_begin(p, IPPROTO_ICMP, ICMP_HLEN);
	h[0] = type;
	put16(h + 4, id);
	put16(h + 6, seq);
	pkt_payload(p, payload_len);
}

void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, size_t body_len)
{
	PKT_CHECK(p->l3_proto == ETH_P_IPV6);
	uint8_t *h = l4_begin(p, IPPROTO_ICMPV6, ICMP6_HLEN);
	h[0] = type;
	h[1] = code;
	grow(p, body_len);
}

static void icmp6_nd(struct pkt *p, uint8_t type, uint32_t flags,
		     const struct in6_addr *target)
{
	pkt_icmp6(p, type, 0, ND_HLEN - ICMP6_HLEN);
	uint8_t *h = p->data + p->l4_off;
	put32(h + 4, flags);
	memcpy(h + 8, target, 16);
}

void pkt_icmp6_ns(struct pkt *p, const struct in6_addr *target)
{
	icmp6_nd(p, ICMP6_NS, 0, target);
}

void pkt_icmp6_na(struct pkt *p, const struct in6_addr *target, uint32_t flags)
{
	icmp6_nd(p, ICMP6_NA, flags, target);
}

void pkt_icmp6_nd_opt(struct pkt *p, uint8_t opt_type, const uint8_t mac[6])
{
	PKT_CHECK(p->l4_proto == IPPROTO_ICMPV6);
	PKT_CHECK(opt_type == 1 || opt_type == 2);
	uint8_t *o = grow(p, 8);
	o[0] = opt_type;
	o[1] = 1; /* length in 8-byte units */
	memcpy(o + 2, mac, ETH_ALEN);
}

void pkt_dhcp4(struct pkt *p, uint8_t op, const uint8_t chaddr[6])
{
	PKT_CHECK(p->l4_proto == IPPROTO_UDP);
	PKT_CHECK(op == 1 || op == 2);
	uint8_t *b = grow(p, BOOTP_FIXED_LEN + 4 + 3 + 1);
	b[0] = op;
	b[1] = 1; /* htype Ethernet */
	b[2] = ETH_ALEN;
	put32(b + 4, 0x3903f326); /* xid */
	memcpy(b + 28, chaddr, ETH_ALEN);
	put32(b + BOOTP_FIXED_LEN, DHCP_MAGIC);
	uint8_t *opt = b + BOOTP_FIXED_LEN + 4;
	opt[0] = DHCP_OPT_MSG_TYPE;
	opt[1] = 1;
	opt[2] = op; /* DHCPDISCOVER = 1 = BOOTREQUEST, DHCPOFFER = 2 = BOOTREPLY */
	opt[3] = DHCP_OPT_END;
}

void pkt_payload(struct pkt *p, size_t n)
{
	uint8_t *b = grow(p, n);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)i;
}

void pkt_append(struct pkt *p, const void *buf, size_t n)
{
	memcpy(grow(p, n), buf, n);
}

void pkt_finish(struct pkt *p)
{
	uint8_t *ip = p->data + p->l3_off;
	bool v6 = p->l3_proto == ETH_P_IPV6;

	if (p->l3_proto == ETH_P_IP) {
		size_t hlen = (ip[0] & 0xf) * 4u;
		PKT_CHECK(p->len - p->l3_off <= 0xffff);
		put16(ip + 2, (uint16_t)(p->len - p->l3_off));
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, hlen)));
	} else if (v6) {
		PKT_CHECK(p->len - p->l3_off - IP6_HLEN <= 0xffff);
		put16(ip + 4, (uint16_t)(p->len - p->l3_off - IP6_HLEN));
	}
	if (!p->l4_off)
		return;

	uint8_t *l4 = p->data + p->l4_off;
	size_t l4_len = p->len - p->l4_off;
	size_t field = csum_field_off(p->l4_proto);
	PKT_CHECK(p->len >= p->l4_off + field + 2);
	if (p->l4_proto == IPPROTO_UDP)
		put16(l4 + 4, (uint16_t)l4_len);
	put16(l4 + field, 0);
	/* ICMPv4 is the one checksum without a pseudo-header. */
	uint32_t sum = p->l4_proto == IPPROTO_ICMP ?
		       0 : pseudo_sum(ip, v6, p->l4_proto, (uint32_t)l4_len);
	uint16_t csum = (uint16_t)~csum_fold(csum_add(sum, l4, l4_len));
	/* 0 means "no checksum" for UDP; 0xffff is the same value. */
	if (p->l4_proto == IPPROTO_UDP && csum == 0)
		csum = 0xffff;
	put16(l4 + field, csum);
}

void pkt_set_partial_csum(struct pkt *p)
{
	PKT_CHECK(p->l4_proto == IPPROTO_TCP || p->l4_proto == IPPROTO_UDP);
	const uint8_t *ip = p->data + p->l3_off;
	bool v6 = p->l3_proto == ETH_P_IPV6;
	/* Length from the IP header pkt_finish() wrote, so later padding or
	 * truncation does not change it. */
	size_t ip_end = p->l3_off + (v6 ? IP6_HLEN + get16(ip + 4) : get16(ip + 2));
	PKT_CHECK(ip_end > p->l4_off);
	uint32_t l4_len = (uint32_t)(ip_end - p->l4_off);
	put16(p->data + p->l4_off + csum_field_off(p->l4_proto),
	      csum_fold(pseudo_sum(ip, v6, p->l4_proto, l4_len)));
}

void pkt_truncate(struct pkt *p, size_t len)
{
	PKT_CHECK(len <= p->len);
	p->len = len;
}

/* Locate the IP header behind Ethernet and an optional 802.1Q tag. */
static bool find_l3(const uint8_t *f, size_t len, uint16_t *type, size_t *off)
{
	if (len < ETH_HLEN)
		return false;
	*type = get16(f + 12);
	*off = ETH_HLEN;
	if (*type == ETH_P_8021Q) {
		if (len < ETH_HLEN + VLAN_HLEN)
			return false;
		*type = get16(f + ETH_HLEN + 2);
		*off += VLAN_HLEN;
	}
	return true;
}

static bool is_ip6_ext(uint8_t proto)
{
	return proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING ||
	       proto == IPPROTO_DSTOPTS || proto == IPPROTO_AH ||
	       proto == IPPROTO_FRAGMENT;
}

struct l4_loc {
	const uint8_t *ip;
	bool v6;
	bool fragment;
	uint8_t proto;
	size_t off;  /* L4 header offset in the frame */
	size_t len;  /* L4 length according to the IP header */
};

/* Find the L4 header; false when the frame is not IP, is truncated or is a
 * non-first fragment (its L4 header is in another frame). */
static bool find_l4(const uint8_t *f, size_t len, struct l4_loc *l)
{
	uint16_t type;
	size_t off, end;

	if (!find_l3(f, len, &type, &off))
		return false;
	l->ip = f + off;
	l->fragment = false;
	if (type == ETH_P_IP) {
		if (len < off + IP4_HLEN || l->ip[0] >> 4 != 4)
			return false;
		size_t hlen = (l->ip[0] & 0xf) * 4u;
		uint16_t frag = get16(l->ip + 6);
		end = off + get16(l->ip + 2);
		if (end > len || hlen < IP4_HLEN || frag & IP4_OFFMASK)
			return false;
		l->v6 = false;
		l->fragment = frag & IP4_MF;
		l->proto = l->ip[9];
		off += hlen;
	} else if (type == ETH_P_IPV6) {
		if (len < off + IP6_HLEN || l->ip[0] >> 4 != 6)
			return false;
		end = off + IP6_HLEN + get16(l->ip + 4);
		if (end > len)
			return false;
		l->v6 = true;
		l->proto = l->ip[6];
		off += IP6_HLEN;
		while (is_ip6_ext(l->proto)) {
			const uint8_t *h = f + off;
			size_t hlen = IP6_EXT_LEN;

			if (off + IP6_EXT_LEN > end) /* the minimum size */
				return false;
			if (l->proto == IPPROTO_AH)
				hlen = (h[1] + 2u) * 4;
			else if (l->proto != IPPROTO_FRAGMENT)
				hlen = (h[1] + 1u) * 8;
			if (off + hlen > end)
				return false;
			if (l->proto == IPPROTO_FRAGMENT) {
				if (get16(h + 2) >> 3)
					return false;
				l->fragment = true;
			}
			l->proto = h[0];
			off += hlen;
		}
	} else {
		return false;
	}
	if (off > end)
		return false;
	l->off = off;
	l->len = end - off;
	return true;
}

bool pkt_l4_csum_ok(const uint8_t *frame, size_t len)
{
	struct l4_loc l;

	if (!find_l4(frame, len, &l) || l.fragment)
		return false;
	size_t field = csum_field_off(l.proto);
	if (!field || l.len < field + 2 ||
	    (l.proto == IPPROTO_ICMP && l.v6) ||
	    (l.proto == IPPROTO_ICMPV6 && !l.v6))
		return false;

	const uint8_t *l4 = frame + l.off;
	if (l.proto == IPPROTO_UDP) {
		if (get16(l4 + 4) != l.len)
			return false;
		/* Zero means "not computed", allowed only over IPv4. */
		if (get16(l4 + field) == 0)
			return !l.v6;
	}
	uint32_t sum = l.proto == IPPROTO_ICMP ?
		       0 : pseudo_sum(l.ip, l.v6, l.proto, (uint32_t)l.len);
	return csum_fold(csum_add(sum, l4, l.len)) == 0xffff;
}

uint16_t pkt_l4_csum_field(const uint8_t *frame, size_t len)
{
	struct l4_loc l;

	PKT_CHECK(find_l4(frame, len, &l));
	size_t field = csum_field_off(l.proto);
	PKT_CHECK(field && l.len >= field + 2);
	return get16(frame + l.off + field);
}

bool pkt_ip4_hdr_csum_ok(const uint8_t *frame, size_t len)
{
	uint16_t type;
	size_t off;

	if (!find_l3(frame, len, &type, &off) || type != ETH_P_IP ||
	    len < off + IP4_HLEN || frame[off] >> 4 != 4)
		return false;
	size_t hlen = (frame[off] & 0xf) * 4u;
	if (hlen < IP4_HLEN || len < off + hlen)
		return false;
	return csum_fold(csum_add(0, frame + off, hlen)) == 0xffff;
}

void pkt_mac(uint8_t out[6], const char *str)
{
	int end = 0;

	PKT_CHECK(sscanf(str, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n",
			 &out[0], &out[1], &out[2], &out[3], &out[4], &out[5],
			 &end) == 6);
	PKT_CHECK(str[end] == '\0');
}

uint32_t pkt_ip4(const char *str)
{
	struct in_addr a;

	PKT_CHECK(inet_pton(AF_INET, str, &a) == 1);
	return a.s_addr;
}

struct in6_addr pkt_ip6(const char *str)
{
	struct in6_addr a;

	PKT_CHECK(inet_pton(AF_INET6, str, &a) == 1);
	return a;
}
