/* SPDX-License-Identifier: GPL-2.0 */
/* Includes and constants every xtap BPF program needs (vmlinux.h has no macros). */
#ifndef XTAP_COMMON_H
#define XTAP_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xtap_abi.h"

#define ETH_ALEN        6
#define ETH_HLEN        14
#define VLAN_HLEN       4
#define ETH_P_IP        0x0800
#define ETH_P_ARP       0x0806
#define ETH_P_IPV6      0x86DD
#define ETH_P_8021Q     0x8100
#define ETH_P_8021AD    0x88A8

#define IP_MF           0x2000
#define IP_OFFSET       0x1FFF

#define IPPROTO_ICMPV6   58

#define NEXTHDR_HOP      0
#define NEXTHDR_ROUTING  43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH     51
#define NEXTHDR_NONE     59
#define NEXTHDR_DEST     60

#define ICMPV6_MLD_REPORT      131
#define ICMPV6_ROUTER_SOLICIT  133
#define ICMPV6_ROUTER_ADVERT   134
#define ICMPV6_NEIGH_SOLICIT   135
#define ICMPV6_NEIGH_ADVERT    136
#define ICMPV6_REDIRECT        137
#define ICMPV6_MLD2_REPORT     143

#define ND_OPT_SOURCE_LL_ADDR  1
#define ND_OPT_TARGET_LL_ADDR  2

#define DHCP4_SERVER_PORT 67
#define DHCP4_CLIENT_PORT 68
#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547

#define TC_ACT_OK    0
#define TC_ACT_SHOT  2

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/*
 * Header offsets kept in struct xtap_flow are bounded by the parser, and
 * masked where used, so the verifier can prove packet accesses through them.
 */
#define XTAP_HDR_OFF_MAX 1023
/* Keeps clang from turning a bounds check into arithmetic on pkt_end (verifier rejects it). */
#define xtap_barrier_var(v) asm volatile("" : "+r"(v))
/* The barrier keeps clang from dropping the mask where it proved it redundant. */
#define xtap_at(data, off) ({                                                    \
	__u64 __xtap_off = (off);                                                \
	xtap_barrier_var(__xtap_off);                                            \
	(void *)(data) + (__xtap_off & XTAP_HDR_OFF_MAX);                        \
})

#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))


static __always_inline int xtap_mac_eq(const __u8 *a, const __u8 *b)
{
	return ((*(const __u32 *)a ^ *(const __u32 *)b) |
		(*(const __u16 *)(a + 4) ^ *(const __u16 *)(b + 4))) == 0;
}

static __always_inline int xtap_mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1;
}

#endif /* XTAP_COMMON_H */
