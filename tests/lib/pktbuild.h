/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pktbuild: byte-exact Ethernet frames for BPF_PROG_TEST_RUN unit tests.
 *
 * Build a frame outer to inner, one call per header, then pkt_finish():
 *
 *	struct pkt p;
 *	pkt_init(&p);
 *	pkt_eth(&p, dst, src, ETH_P_IP);
 *	pkt_ipv4(&p, pkt_ip4("10.0.0.1"), pkt_ip4("10.0.0.2"), IPPROTO_UDP);
 *	pkt_udp(&p, 68, 67, 0);
 *	pkt_dhcp4(&p, 1, mac);
 *	pkt_finish(&p);
 *
 * Each header states the type of the header that follows it (ethertype,
 * IP protocol, IPv6 next header) and the next call must append exactly that
 * type, so chains are consistent by construction. Anything after the L4
 * header (payload, DHCP, ND options) is covered by the L4 length and
 * checksum, because pkt_finish() computes them over the final bytes.
 * pkt_finish() may be called again after editing bytes. Malformed frames are
 * made by editing p.data (l3_off/l4_off locate the headers), appending raw
 * bytes or truncating after pkt_finish().
 *
 * Misuse (wrong order, overflow past PKT_MAX, bad arguments) aborts, also
 * under NDEBUG: a broken test fixture must never silently pass.
 */
#ifndef XTAP_TESTS_PKTBUILD_H
#define XTAP_TESTS_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PKT_MAX 65536

/* TCP flag bits, so callers need no _DEFAULT_SOURCE for <netinet/tcp.h>. */
#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
#define PKT_TCP_URG 0x20

/* Neighbour advertisement flags for pkt_icmp6_na(), host order. */
#define PKT_NA_ROUTER    0x80000000u
#define PKT_NA_SOLICITED 0x40000000u
#define PKT_NA_OVERRIDE  0x20000000u

struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
	/* Offsets of the IP (or ARP) header and the L4 header; 0 = absent.
	 * Tests may read them to poke fields. */
	size_t l3_off;
	size_t l4_off;
	/* Builder state, private. */
	uint16_t l3_proto;       /* ETH_P_IP, ETH_P_IPV6, ETH_P_ARP or 0 */
	uint16_t next_ethertype; /* type the next L2.5/L3 header must have */
	uint8_t next_proto;      /* protocol the next IP-level header must have */
	uint8_t l4_proto;
	bool later_fragment;     /* fragment offset != 0: no more headers */
};

/* Extra IPv4 header knobs; start from PKT_IP4_DEFAULTS so TTL is sane. */
struct pkt_ip4_opts {
	uint8_t ttl;
	uint8_t opt_len;    /* option bytes (NOPs then EOL), multiple of 4, <= 40 */
	uint16_t frag_off;  /* fragment offset in 8-byte units, < 8192 */
	bool mf;            /* more fragments */
	bool df;            /* don't fragment */
};
#define PKT_IP4_DEFAULTS ((struct pkt_ip4_opts){ .ttl = 64 })

void pkt_init(struct pkt *p);

/* Must be the first header. ethertype in host order. */
void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6],
	     uint16_t ethertype);
/* 802.1Q tag (PCP/DEI 0); requires the previous ethertype ETH_P_8021Q. */
void pkt_vlan(struct pkt *p, uint16_t vid, uint16_t inner_ethertype);

/* Ethernet/IPv4 ARP; op host order (ARPOP_REQUEST = 1, ARPOP_REPLY = 2). */
void pkt_arp(struct pkt *p, uint16_t op, const uint8_t sha[6], uint32_t spa_be,
	     const uint8_t tha[6], uint32_t tpa_be);

/* IPv4 with TTL 64, no options, not fragmented. */
void pkt_ipv4(struct pkt *p, uint32_t src_be, uint32_t dst_be, uint8_t proto);
void pkt_ipv4_ex(struct pkt *p, uint32_t src_be, uint32_t dst_be, uint8_t proto,
		 const struct pkt_ip4_opts *o);

/* IPv6 with hop limit 64; next_header is the first header that follows. */
void pkt_ipv6(struct pkt *p, const struct in6_addr *src,
	      const struct in6_addr *dst, uint8_t next_header);
/*
 * 8-byte extension header of the given type, which must match the previous
 * next header: IPPROTO_HOPOPTS or IPPROTO_DSTOPTS (one PadN option) or
 * IPPROTO_ROUTING (experimental type 253, segments left 0, so every node
 * ignores it and the pseudo-header destination stays the IPv6 dst).
 */
void pkt_ipv6_ext(struct pkt *p, uint8_t type, uint8_t next_header);
/* Fragment header (IPPROTO_FRAGMENT); offset in 8-byte units, < 8192. */
void pkt_ipv6_frag(struct pkt *p, uint8_t next_header, uint16_t offset,
		   bool more, uint32_t id);

/* L4 headers followed by payload_len bytes of pkt_payload() pattern.
 * TCP: seq 1, ack 1 when PKT_TCP_ACK is set, window 65535, no options. */
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     size_t payload_len);
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, size_t payload_len);
/* ICMP echo over IPv4: type 8 request, 0 reply. */
void pkt_icmp_echo(struct pkt *p, uint8_t type, uint16_t id, uint16_t seq,
		   size_t payload_len);
/* Generic ICMPv6: 4-byte type/code/checksum then body_len zero bytes
 * (e.g. 133 RS: 4, 134 RA: 12, 128 echo: 4 + data, 143 MLDv2: 4). */
void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, size_t body_len);
void pkt_icmp6_ns(struct pkt *p, const struct in6_addr *target);
void pkt_icmp6_na(struct pkt *p, const struct in6_addr *target, uint32_t flags);
/* Source (1) or target (2) link-layer address option, after an ICMPv6 header. */
void pkt_icmp6_nd_opt(struct pkt *p, uint8_t opt_type, const uint8_t mac[6]);

/* BOOTP payload after pkt_udp(): op 1 (BOOTREQUEST) carries DHCPDISCOVER,
 * op 2 (BOOTREPLY) carries DHCPOFFER; fixed xid, all addresses zero. */
void pkt_dhcp4(struct pkt *p, uint8_t op, const uint8_t chaddr[6]);

/* Raw bytes: byte i of a payload is (uint8_t)i. Allowed at any point, e.g.
 * after pkt_finish() for Ethernet padding not counted by the IP length. */
void pkt_payload(struct pkt *p, size_t n);
void pkt_append(struct pkt *p, const void *buf, size_t n);

/*
 * Fill IP lengths, the IPv4 header checksum, the UDP length and the L4
 * checksum (TCP, UDP, ICMP, ICMPv6) over all bytes up to p->len. For a
 * fragment the L4 checksum covers only the bytes present.
 */
void pkt_finish(struct pkt *p);
/*
 * After pkt_finish(), for TCP/UDP: store the folded, not complemented,
 * pseudo-header sum in the checksum field, as a Linux sender with checksum
 * offload (CHECKSUM_PARTIAL, VIRTIO_NET_HDR_F_NEEDS_CSUM) leaves it.
 */
void pkt_set_partial_csum(struct pkt *p);
/* Shorten the frame, normally after pkt_finish() to keep the headers' lengths. */
void pkt_truncate(struct pkt *p, size_t len);

/*
 * Checkers for frames a BPF program produced. They parse Ethernet, at most
 * one 802.1Q tag, IPv4 or IPv6 (skipping hop-by-hop, routing, destination
 * options and AH headers) and use the IP header's length, so padding after
 * the IP packet is ignored.
 */
/* True when the TCP/UDP/ICMP/ICMPv6 checksum verifies. False for anything
 * else, fragments, truncated frames; IPv4 UDP with checksum 0 is ok. */
bool pkt_l4_csum_ok(const uint8_t *frame, size_t len);
/* The stored L4 checksum field, host order; aborts if there is none. */
uint16_t pkt_l4_csum_field(const uint8_t *frame, size_t len);
/* True when the frame carries IPv4 and its header checksum verifies. */
bool pkt_ip4_hdr_csum_ok(const uint8_t *frame, size_t len);

/* Parse literals; abort on malformed input. */
void pkt_mac(uint8_t out[6], const char *str);   /* "02:00:00:00:00:01" */
uint32_t pkt_ip4(const char *str);               /* network order */
struct in6_addr pkt_ip6(const char *str);

#endif /* XTAP_TESTS_PKTBUILD_H */
