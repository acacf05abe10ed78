/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frame of an `xtapctl trace`: a short description such as
 * "ipv4 src 192.0.2.1 dst 192.0.2.2 tcp dport 22", or "hex 0200...",
 * parsed, then built into bytes once the agent has filled in what it
 * left out (MACs, the port's own address). Words: docs/observability.md.
 */
#ifndef XTAP_FRAME_SPEC_H
#define XTAP_FRAME_SPEC_H

#include <stddef.h>
#include <linux/types.h>

#include "err.h"

#define XTAP_FRAME_MAX 1518

struct xtap_frame_spec {
	int has_smac, has_dmac;
	__u8 smac[6], dmac[6];
	long vlan;                /* 0: untagged */
	int family;               /* 4, 6, or 0 with arp */
	int arp_op;               /* 1 request, 2 reply; 0: not ARP */
	int has_src, has_dst;
	__u8 src[16], dst[16];    /* network order; IPv4 in the first 4 bytes */
	long proto;               /* IPPROTO_*, -1: none given (udp) */
	long sport, dport;
	long icmp_type;           /* -1: echo request */
	long len;                 /* 0: as short as the headers */
	__u8 raw[XTAP_FRAME_MAX]; /* hex: the whole frame */
	size_t raw_len;
};

/* Parses desc; fails naming the word it could not read. */
int xtap_frame_parse(const char *desc, struct xtap_frame_spec *s, struct xtap_err *err);
/* The frame's bytes (at most XTAP_FRAME_MAX) into buf; MACs and addresses must be filled in. */
int xtap_frame_build(const struct xtap_frame_spec *s, __u8 *buf, size_t *len, struct xtap_err *err);

#endif
