/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzz tier's reference model of xtap's packet rules, written from
 * the packet rules agreed for issue 10 (docs/packet-rules.md), the README's list of
 * what a port gets, and the RFCs (791, 8200, 7112, 1858, 6980, 2131, 8415,
 * 4861). It shares no code with bpf/ and includes no bpf/ header: only the
 * enum values of include/xtap_abi.h, so that verdicts compare.
 *
 * A frame breaking several rules is dropped for the first one met, in the
 * spec's order ("Which rule decides"): mdl_verdict.reason; .reasons lists
 * every rule it breaks, for messages.
 */
#ifndef XTAP_FUZZ_MODEL_H
#define XTAP_FUZZ_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "xtap_abi.h"

/*
 * The spec's new drop reasons, appended to enum xtap_drop_reason in this
 * order (the values are the spec's; run.c checks them against the ABI).
 */
enum {
	MDL_DROP_TRAILING = 18,
	MDL_DROP_FRAGMENT = 19,
	MDL_DROP_IP_OPTION = 20,
	MDL_DROP_MTU = 21,
	/* 22-23 conntrack (off in the model's world: no stateful rules), 24 overlay */
	MDL_DROP_UNDERLAY = 24,
	MDL_DROP_REASONS = 25,
};

#define MDL_MAX_PORTS 4
#define MDL_MAX_PFX   8
#define MDL_MAX_RULES 8
#define MDL_MAX_NDOPT 16

struct mdl_prefix {
	uint8_t family;     /* 4, 6; 0 = any (ACL only) */
	uint8_t len;
	uint8_t addr[16];
};

struct mdl_rule {
	int allow;
	uint8_t proto;      /* 0 = any */
	uint16_t pmin, pmax;
	struct mdl_prefix cidr;
};

/* Rules in rank order (priority, then insertion). */
struct mdl_acl {
	int default_allow;
	int n;
	struct mdl_rule rule[MDL_MAX_RULES];
};

struct mdl_port {
	const char *name;
	uint8_t mac[6];
	int segment;
	uint16_t mtu;
	int dhcp_server, router;
	int n_pfx;
	struct mdl_prefix pfx[MDL_MAX_PFX];
	struct mdl_acl acl[XTAP_DIRS];
	int packet_limited[XTAP_DIRS];  /* a packet rate limit: RATE_PACKETS is acceptable */
};

struct mdl_segment {
	int has_uplink;
	uint16_t vlan;      /* 0: untagged on the uplink */
};

struct mdl_world {
	int n_ports;
	struct mdl_port port[MDL_MAX_PORTS];
	struct mdl_segment segment[4];   /* by id */
};

enum mdl_dir {
	MDL_FROM_VM,        /* frame transmitted by VM port `port` */
	MDL_TO_VM,          /* frame delivered to VM port `port` (tc egress / devmap egress) */
	MDL_FROM_UPLINK,    /* frame arriving on the uplink: steering only */
};

/* What the model read from a frame: the facts the invariants need. */
struct mdl_facts {
	int len;
	int tags;                 /* 802.1Q/802.1ad tags */
	uint16_t vlan;            /* of the first tag */
	uint16_t ethertype;       /* after the tags */
	int l3;                   /* offset */
	const uint8_t *dmac, *smac;
	int family;               /* 4, 6, 'A' (ARP), 0 */
	int parsed;               /* the L3 header (and L4 where present) was read without fault */
	uint8_t src[16], dst[16];
	int ip_end;               /* end of the IP packet (offset in the frame) */
	uint8_t proto;            /* upper-layer protocol (IPv6: after the extension headers; 59 none) */
	int frag;                 /* a fragment (IPv4 MF/offset, IPv6 fragment header) */
	int frag_off;             /* in 8-byte units */
	int frag_more;
	uint32_t frag_id;
	int frag_data;            /* offset of the fragment's data (fragments) */
	int l4;                   /* offset of the upper-layer header; 0: none (non-first fragment) */
	int has_ports;
	uint16_t sport, dport;
	int icmp_type;            /* -1: none */
	/* ARP */
	uint8_t arp_sha[6], arp_spa[4];
	/* ND */
	int nd_target_present;
	uint8_t nd_target[16];
	int n_ndopt;
	struct { uint8_t type; uint8_t len; uint8_t lla[6]; } ndopt[MDL_MAX_NDOPT];
	/* DHCP */
	int dhcp4;                /* a BOOTP message to 67 or 68 */
	uint8_t bootp_op, bootp_htype, bootp_hlen, chaddr[6];
	int dhcp6_type;           /* -1 none */
};

enum mdl_steer {
	MDL_STEER_NONE,
	MDL_STEER_PORT,
	MDL_STEER_UPLINK,
	MDL_STEER_FLOOD,
	MDL_STEER_HOST,
};

struct mdl_verdict {
	int drop;                 /* 1: dropped */
	int reason;               /* the deciding reason: the first met, in the spec's order */
	uint32_t reasons;         /* bit r: rule r is broken too (for messages) */
	/*
	 * The port is packet-limited: RATE_PACKETS is acceptable for a frame that
	 * passes, or breaks only rules the spec lets be decided after the limiter
	 * (steering's HAIRPIN, the skb path's MTU).
	 */
	int rate_ok;
	/*
	 * The spec leaves this frame's fate open (a malformed ND option, which
	 * receivers discard anyway): besides the model's verdict, a drop for one
	 * of these reasons is right.
	 */
	uint32_t either;          /* bit r: a drop for reason r is right too */
	enum mdl_steer steer;     /* if not dropped */
	int target;               /* port index for MDL_STEER_PORT */
	int mtu_exceeded;         /* from-VM: longer than the MTU (decided on the skb path) */
	struct mdl_facts f;
};

/* Decides a frame. port: the VM port (from-VM, to-VM); ignored for the uplink. */
void mdl_decide(const struct mdl_world *w, enum mdl_dir dir, int port, const uint8_t *frame,
		int len, struct mdl_verdict *v);

/* The ACL verdict of a port and direction for an IP flow (remote address, protocol, ports). */
int mdl_acl_allows(const struct mdl_acl *acl, int family, const uint8_t remote[16], uint8_t proto,
		   int has_ports, uint16_t dport);

/* Is addr one of the port's own (prefixes; IPv6 also its EUI-64 link-local)? */
int mdl_own_addr(const struct mdl_port *p, int family, const uint8_t *addr);

/* The minimum upper-layer header of a protocol (TCP 20, UDP 8, ICMP (v4)/ICMPv6 (v6) 8, SCTP 12), else 0. */
int mdl_min_l4(int family, uint8_t proto);

const char *mdl_reason_name(int reason);

#endif /* XTAP_FUZZ_MODEL_H */
