/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an operator asks of a port, as plain data: addresses, ACL rules,
 * rate limits. The model (xtapd's desired state), the map writer and
 * xtapctl share these types; nothing here touches the kernel.
 */
#ifndef XTAP_POLICY_SPEC_H
#define XTAP_POLICY_SPEC_H

#include <linux/types.h>

#include "xtap_abi.h"

/* An address or prefix. family 0 (ACL rules only) = any address of either family. */
struct xtap_prefix {
	__u8 family;      /* 4, 6 or 0 */
	__u8 prefixlen;
	__u8 addr[16];    /* network order; IPv4 in the first 4 bytes */
};

struct xtap_acl_rule_spec {
	__u32 rule_id;    /* unique within the port */
	__u16 priority;   /* lower first */
	__u8  action;     /* enum xtap_acl_action */
	__u8  proto;      /* 0 = any */
	__u16 port_min;
	__u16 port_max;
	struct xtap_prefix cidr;  /* remote address: destination leaving, source entering */
};

struct xtap_acl_spec {
	__u8  default_action;
	__u16 n_rules;
	struct xtap_acl_rule_spec rules[XTAP_MAX_ACL_RULES];
};

struct xtap_rate_spec {
	__u64 bytes_per_sec;     /* 0 = no byte limit */
	__u64 packets_per_sec;   /* 0 = no packet limit */
	__u64 burst_bytes;
	__u64 burst_packets;
};

/*
 * Guests hand tun GSO frames of up to 64 KiB, which a limiter sees (and
 * charges) whole: a smaller byte burst would never let one through.
 */
#define XTAP_MIN_BURST_BYTES 65536

struct xtap_port_spec {
	__u32 port_id;
	__u32 ifindex;
	__u32 segment_id;
	__u32 flags;                   /* XTAP_PORT_F_* */
	__u8  mac[6];
	__u16 mtu;
	__u16 n_addrs;                 /* IPv6 link-local from the MAC is always allowed */
	struct xtap_prefix addrs[2 * XTAP_MAX_PORT_ADDRS];
	struct xtap_acl_spec acl[XTAP_DIRS];
	struct xtap_rate_spec rate[XTAP_DIRS];
};

#endif /* XTAP_POLICY_SPEC_H */
