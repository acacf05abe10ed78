/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Anti-spoofing for frames leaving a VM: the source MAC, IPv4/IPv6 source,
 * ARP sender, IPv6 ND targets and link-layer options, DHCP client hardware
 * address must be the port's; DHCP servers (DHCPv4/v6 judged by destination
 * port and message) and routers (ICMPv4 redirect and router advertisement,
 * ICMPv6 RA and redirect) are opt-in.
 */
#ifndef XTAP_ANTISPOOF_H
#define XTAP_ANTISPOOF_H

#include "xtap_common.h"
#include "parse.h"

#define XTAP_ND_MAX_OPTS 4

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XTAP_MAX_ADDR_SETS * XTAP_MAX_PORT_ADDRS);
	__type(key, struct xtap_ip4_key);
	__type(value, struct xtap_addr_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_addr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XTAP_MAX_ADDR_SETS * XTAP_MAX_PORT_ADDRS);
	__type(key, struct xtap_ip6_key);
	__type(value, struct xtap_addr_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_addr6 SEC(".maps");

/* The agent's record of each address set (see struct xtap_addr_set); programs never read it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_ADDR_SETS);
	__type(key, __u32);
	__type(value, struct xtap_addr_set);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_addr_sets SEC(".maps");

static __always_inline int xtap_addr4_allowed(const struct xtap_port *port, __be32 addr)
{
	struct xtap_ip4_key key = { .prefixlen = 64, .set = port->addr_set, .addr = addr };
	__u32 n = port->host4_count;
	int i;

#pragma unroll
	for (i = 0; i < XTAP_PORT_HOST4; i++)
		if (i < n && port->host4[i] == addr)
			return 1;
	if (!(port->addr_flags & XTAP_PORT_ADDR_F_TRIE4))
		return 0;
	return bpf_map_lookup_elem(&xtap_addr4, &key) != NULL;
}

static __always_inline int xtap_addr6_allowed(const struct xtap_port *port, const __u8 *addr)
{
	struct xtap_ip6_key key = { .prefixlen = 160, .set = port->addr_set };
	__u64 a0 = ((const __u64 *)addr)[0], a1 = ((const __u64 *)addr)[1];
	__u32 n = port->host6_count;
	int i;

#pragma unroll
	for (i = 0; i < XTAP_PORT_HOST6; i++) {
		const __u64 *h = (const __u64 *)port->host6[i];

		if (i < n && h[0] == a0 && h[1] == a1)
			return 1;
	}
	if (!(port->addr_flags & XTAP_PORT_ADDR_F_TRIE6))
		return 0;
	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(&xtap_addr6, &key) != NULL;
}

static __always_inline int xtap_ip6_is_unspecified(const __u8 *a)
{
	const __u64 *w = (const __u64 *)a;

	return (w[0] | w[1]) == 0;
}

static __always_inline int xtap_check_arp(const struct xtap_port *port, void *data,
					  void *data_end, const struct xtap_flow *f)
{
	struct arphdr *ah = xtap_at(data, f->l3_off);
	__u8 *sha = (__u8 *)(ah + 1);
	__be32 spa;

	if ((void *)(sha + ETH_ALEN + 4) > data_end)
		return XTAP_DROP_MALFORMED;
	if (!xtap_mac_eq(sha, port->mac))
		return XTAP_DROP_SPOOF_ARP;
	__builtin_memcpy(&spa, sha + ETH_ALEN, 4);
	/* 0.0.0.0 is an ARP probe (RFC 5227): the guest checking an address. */
	if (spa != 0 && !xtap_addr4_allowed(port, spa))
		return XTAP_DROP_SPOOF_ARP;
	return XTAP_DROP_NONE;
}

#define XTAP_BOOTREQUEST     1
#define XTAP_BOOTP_CHADDR    28   /* chaddr's offset in a BOOTP message */
#define XTAP_ICMP_REDIRECT   5
#define XTAP_ICMP_ROUTER_ADV 9

/*
 * DHCPv4, decided by destination port and message, never by source port:
 * to 68 (a client) only servers send; to 67 a VM may send BOOTREQUESTs for
 * its own MAC (no pool starvation), anything else is a server's (a relay's).
 * *request is set for a BOOTREQUEST that passed.
 */
static __always_inline int xtap_check_dhcp4(const struct xtap_port *port, void *data,
					    void *data_end, const struct xtap_flow *f, int *request)
{
	int server_ok = port->flags & XTAP_PORT_F_ALLOW_DHCP_SERVER;
	__u8 *msg = xtap_at(data, f->l4_off) + 8;

	/* DHCP is never fragmented; a later fragment could rewrite op or chaddr. */
	if (f->fragment)
		return XTAP_DROP_FRAGMENT;
	if (f->dport == DHCP4_CLIENT_PORT)
		return server_ok ? XTAP_DROP_NONE : XTAP_DROP_DHCP_SERVER;
	if (f->l4_len < 8 + XTAP_BOOTP_CHADDR + ETH_ALEN ||
	    (void *)(msg + XTAP_BOOTP_CHADDR + ETH_ALEN) > data_end)
		return XTAP_DROP_MALFORMED;
	if (msg[0] != XTAP_BOOTREQUEST)
		return server_ok ? XTAP_DROP_NONE : XTAP_DROP_DHCP_SERVER;
	/* htype 1 (Ethernet), hlen 6, chaddr the port's MAC. */
	if (msg[1] != 1 || msg[2] != ETH_ALEN || !xtap_mac_eq(msg + XTAP_BOOTP_CHADDR, port->mac))
		return XTAP_DROP_SPOOF_DHCP;
	*request = 1;
	return XTAP_DROP_NONE;
}

static __always_inline int xtap_check_ipv4(const struct xtap_port *port, void *data,
					   void *data_end, const struct xtap_flow *f)
{
	int udp = f->l4_proto == IPPROTO_UDP && f->l4_ports;
	int request = 0, r;

	if (f->saddr.v4 == 0) {
		/* Before it has an address a guest may only ask DHCP for one. */
		if (!udp || f->sport != DHCP4_CLIENT_PORT || f->dport != DHCP4_SERVER_PORT)
			return XTAP_DROP_SPOOF_IPV4;
	} else if (!xtap_addr4_allowed(port, f->saddr.v4)) {
		return XTAP_DROP_SPOOF_IPV4;
	}
	if (udp && (f->dport == DHCP4_SERVER_PORT || f->dport == DHCP4_CLIENT_PORT)) {
		r = xtap_check_dhcp4(port, data, data_end, f, &request);
		if (r)
			return r;
		if (f->saddr.v4 == 0 && !request)
			return XTAP_DROP_SPOOF_IPV4;
		return XTAP_DROP_NONE;
	}
	if (f->l4_proto == IPPROTO_ICMP && f->l4_off &&
	    (f->icmp_type == XTAP_ICMP_REDIRECT || f->icmp_type == XTAP_ICMP_ROUTER_ADV) &&
	    !(port->flags & XTAP_PORT_F_ALLOW_ROUTER))
		return XTAP_DROP_ROUTER_ADV;
	return XTAP_DROP_NONE;
}

/*
 * Walks the ND options after an NS/NA: a source or target link-layer address
 * option must carry the port MAC; NS from :: (DAD) must carry none.
 */
static __always_inline int xtap_check_nd_opts(const struct xtap_port *port, void *data_end,
					      __u8 *opt, int dad)
{
	int i;

#pragma unroll
	for (i = 0; i < XTAP_ND_MAX_OPTS; i++) {
		__u32 len;

		if ((void *)opt >= data_end)
			return XTAP_DROP_NONE;
		if ((void *)(opt + 2) > data_end)
			return XTAP_DROP_MALFORMED;
		len = opt[1] * 8;
		if (len == 0)
			return XTAP_DROP_MALFORMED;
		if (opt[0] == ND_OPT_SOURCE_LL_ADDR || opt[0] == ND_OPT_TARGET_LL_ADDR) {
			if ((void *)(opt + 2 + ETH_ALEN) > data_end)
				return XTAP_DROP_MALFORMED;
			if (dad || !xtap_mac_eq(opt + 2, port->mac))
				return XTAP_DROP_SPOOF_ND;
		}
		opt += len;
		xtap_barrier_var(opt);
	}
	/* More options than we check could hide a spoofed one. */
	if ((void *)opt < data_end)
		return XTAP_DROP_SPOOF_ND;
	return XTAP_DROP_NONE;
}

static __always_inline int xtap_check_icmp6(const struct xtap_port *port, void *data,
					    void *data_end, const struct xtap_flow *f, int from_unspec)
{
	/* NS/NA: type, code, checksum, 4 bytes flags/reserved, 16-byte target. */
	__u8 *icmp = xtap_at(data, f->l4_off);
	__u8 *target = icmp + 8;

	switch (f->icmp_type) {
	case ICMPV6_ROUTER_SOLICIT:
		/* Options follow 4 reserved bytes; a source link-layer option must be ours. */
		return xtap_check_nd_opts(port, data_end, icmp + 8, 0);
	case ICMPV6_ROUTER_ADVERT:
	case ICMPV6_REDIRECT:
		if (!(port->flags & XTAP_PORT_F_ALLOW_ROUTER))
			return XTAP_DROP_ROUTER_ADV;
		return XTAP_DROP_NONE;
	case ICMPV6_NEIGH_SOLICIT:
		if ((void *)(target + 16) > data_end)
			return XTAP_DROP_MALFORMED;
		/* DAD probes the VM's own tentative address. */
		if (from_unspec && !xtap_addr6_allowed(port, target))
			return XTAP_DROP_SPOOF_ND;
		return xtap_check_nd_opts(port, data_end, target + 16, from_unspec);
	case ICMPV6_NEIGH_ADVERT:
		if ((void *)(target + 16) > data_end)
			return XTAP_DROP_MALFORMED;
		/* A VM may only advertise its own addresses. */
		if (!xtap_addr6_allowed(port, target))
			return XTAP_DROP_SPOOF_ND;
		return xtap_check_nd_opts(port, data_end, target + 16, 0);
	default:
		return XTAP_DROP_NONE;
	}
}

#define XTAP_DHCP6_ADVERTISE   2
#define XTAP_DHCP6_REPLY       7
#define XTAP_DHCP6_RECONFIGURE 10
#define XTAP_DHCP6_RELAY_REPL  13

/*
 * DHCPv6 by destination port and message type: to 546 (a client) only
 * servers send; to 547 the server-to-client types are a server's (relay's).
 * Client DUIDs are not checked: a DUID need not be the MAC.
 */
static __always_inline int xtap_check_dhcp6(const struct xtap_port *port, void *data,
					    void *data_end, const struct xtap_flow *f)
{
	int server_ok = port->flags & XTAP_PORT_F_ALLOW_DHCP_SERVER;
	__u8 *msg = xtap_at(data, f->l4_off) + 8;
	__u8 type;

	if (f->fragment)
		return XTAP_DROP_FRAGMENT;
	if (f->dport == DHCP6_CLIENT_PORT)
		return server_ok ? XTAP_DROP_NONE : XTAP_DROP_DHCP_SERVER;
	if (f->l4_len <= 8 || (void *)(msg + 1) > data_end)
		return XTAP_DROP_MALFORMED;
	type = msg[0];
	if (type == XTAP_DHCP6_ADVERTISE || type == XTAP_DHCP6_REPLY ||
	    type == XTAP_DHCP6_RECONFIGURE || type == XTAP_DHCP6_RELAY_REPL)
		return server_ok ? XTAP_DROP_NONE : XTAP_DROP_DHCP_SERVER;
	return XTAP_DROP_NONE;
}

static __always_inline int xtap_check_ipv6(const struct xtap_port *port, void *data,
					   void *data_end, const struct xtap_flow *f)
{
	int from_unspec = xtap_ip6_is_unspecified(f->saddr.v6);

	if (from_unspec) {
		/* :: is only for DAD and the MLD reports sent during it. */
		if (f->l4_proto != IPPROTO_ICMPV6 || f->fragment ||
		    (f->icmp_type != ICMPV6_NEIGH_SOLICIT && f->icmp_type != ICMPV6_MLD_REPORT &&
		     f->icmp_type != ICMPV6_MLD2_REPORT))
			return XTAP_DROP_SPOOF_IPV6;
	} else if (!xtap_addr6_allowed(port, f->saddr.v6)) {
		return XTAP_DROP_SPOOF_IPV6;
	}
	if (f->l4_proto == IPPROTO_ICMPV6 && f->l4_off)
		return xtap_check_icmp6(port, data, data_end, f, from_unspec);
	if (f->l4_proto == IPPROTO_UDP && f->l4_ports &&
	    (f->dport == DHCP6_CLIENT_PORT || f->dport == DHCP6_SERVER_PORT))
		return xtap_check_dhcp6(port, data, data_end, f);
	return XTAP_DROP_NONE;
}

/* All source checks for a frame leaving the VM (already parsed). */
static __always_inline int xtap_antispoof(const struct xtap_port *port, void *data,
					  void *data_end, const struct xtap_flow *f)
{
	struct ethhdr *eth = data;

	if (f->has_vlan)
		return XTAP_DROP_VLAN_TAGGED;
	if (!xtap_mac_eq(eth->h_source, port->mac))
		return XTAP_DROP_SPOOF_MAC;
	switch (f->eth_proto) {
	case ETH_P_ARP:
		return xtap_check_arp(port, data, data_end, f);
	case ETH_P_IP:
		return xtap_check_ipv4(port, data, data_end, f);
	case ETH_P_IPV6:
		return xtap_check_ipv6(port, data, data_end, f);
	default:
		return XTAP_DROP_ETHERTYPE;
	}
}

#endif /* XTAP_ANTISPOOF_H */
