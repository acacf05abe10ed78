/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI shared by xtap's BPF programs and userspace: limits, enums and the
 * key/value structs of every pinned map. No logic lives here.
 *
 * Byte order: MAC and IP addresses are in network order (as on the wire);
 * every other integer is in host order.
 */
#ifndef XTAP_ABI_H
#define XTAP_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- limits ---- */
#define XTAP_MAX_PORTS           4096
#define XTAP_MAX_SEGMENTS        4096
#define XTAP_MAX_ACL_RULES       256   /* per port and direction */
#define XTAP_ACL_WORDS           (XTAP_MAX_ACL_RULES / 64)
#define XTAP_MAX_PORT_ADDRS      64    /* allowed addresses/prefixes per port and family */
#define XTAP_MAX_SEGMENT_PORTS   512   /* ports one skb-path flood reaches */
#define XTAP_MAX_FDB             (XTAP_MAX_PORTS * 2)
/*
 * Port entries by slot: two slots per port id (port_id * 2 + generation),
 * so that a changed entry is written whole where no frame reads it, then
 * switched to (xtap_port_by_id, bpf/port.h).
 */
#define XTAP_PORT_SLOTS          (XTAP_MAX_PORTS * 2)
/* Entries of xtap_port_hint, ifindex % XTAP_PORT_HINTS -> slot + 1 (a power of two). */
#define XTAP_PORT_HINTS          16384
#define XTAP_MAX_UPLINK_VLANS    4096
/* Hit counters of all ports together (256 rules each way on 512 ports). */
#define XTAP_MAX_TOTAL_ACL_RULES 262144
/*
 * Address sets and ACL sets are double-buffered: the agent writes a new set
 * under the generation not in use, then switches the port to it with one map
 * update, so a frame sees the old policy or the new one, never half of each.
 */
#define XTAP_POLICY_GENS         2
#define XTAP_MAX_ADDR_SETS       (XTAP_MAX_PORTS * XTAP_POLICY_GENS)
#define XTAP_MAX_ACL_SETS        (XTAP_MAX_PORTS * XTAP_POLICY_GENS * XTAP_DIRS)
/* Longest frame redirected by XDP; longer ones (GSO) take the tc path. */
#define XTAP_XDP_FRAME_MAX       3400
/* Fixed-point shift of the rate limiter's ns-per-unit costs. */
#define XTAP_RATE_FP_SHIFT       16

enum xtap_dir {
	XTAP_DIR_FROM_VM = 0,   /* frames the guest transmits */
	XTAP_DIR_TO_VM   = 1,   /* frames delivered to the guest */
	XTAP_DIRS        = 2,
};

/* What happened to a frame; counted per port and direction. */
enum xtap_verdict {
	XTAP_VERDICT_TO_PORT   = 0,  /* redirected to a local VM port */
	XTAP_VERDICT_TO_UPLINK = 1,  /* redirected to the segment's uplink */
	XTAP_VERDICT_FLOOD     = 2,  /* broadcast/multicast to the segment */
	XTAP_VERDICT_TO_HOST   = 3,  /* passed to the host stack */
	XTAP_VERDICT_DELIVER   = 4,  /* delivered to the VM (to-VM direction) */
	XTAP_VERDICT_DROP      = 5,
	XTAP_VERDICTS          = 6,
};

enum xtap_drop_reason {
	XTAP_DROP_NONE          = 0,
	XTAP_DROP_MALFORMED     = 1,  /* truncated or inconsistent headers */
	XTAP_DROP_VLAN_TAGGED   = 2,  /* VM ports are untagged */
	XTAP_DROP_ETHERTYPE     = 3,  /* only IPv4, IPv6 and ARP leave a VM */
	XTAP_DROP_SPOOF_MAC     = 4,
	XTAP_DROP_SPOOF_IPV4    = 5,
	XTAP_DROP_SPOOF_IPV6    = 6,
	XTAP_DROP_SPOOF_ARP     = 7,
	XTAP_DROP_SPOOF_ND      = 8,
	XTAP_DROP_SPOOF_DHCP    = 9,  /* DHCP client chaddr is not the port MAC */
	XTAP_DROP_DHCP_SERVER   = 10,
	XTAP_DROP_ROUTER_ADV    = 11, /* "router": RA/redirect (ICMPv4 9/5, ICMPv6 134/137) from a VM */
	XTAP_DROP_ACL           = 12,
	XTAP_DROP_RATE_BYTES    = 13,
	XTAP_DROP_RATE_PACKETS  = 14,
	XTAP_DROP_DST_MAC       = 15, /* unicast to a VM that is not its MAC */
	XTAP_DROP_HAIRPIN       = 16, /* a VM sending to its own MAC */
	XTAP_DROP_NO_TARGET     = 17, /* redirect target vanished */
	XTAP_DROP_TRAILING      = 18, /* bytes after the IP packet beyond Ethernet padding */
	XTAP_DROP_FRAGMENT      = 19, /* a fragment breaking the fragment rules */
	XTAP_DROP_IP_OPTION     = 20, /* IPv4 source route (LSRR/SSRR) */
	XTAP_DROP_MTU           = 21, /* non-GSO frame longer than the port's MTU */
	/* 22-23 conntrack, 24 overlay */
	XTAP_DROP_CT_FULL       = 22, /* a new flow past the port's tracked-flow cap */
	XTAP_DROP_CT_INVALID    = 23, /* claims a flow's state that no tracked flow has */
	XTAP_DROP_UNDERLAY      = 24, /* VXLAN from a VTEP the VNI's segment does not list, or an unknown VNI */
	XTAP_DROP_REASONS       = 25,
};

/* ---- ports: map xtap_ports, key = tap ifindex (__u32) ---- */
#define XTAP_PORT_F_ALLOW_DHCP_SERVER  (1U << 0)
#define XTAP_PORT_F_ALLOW_ROUTER       (1U << 1)  /* ICMPv4/ICMPv6 router advertisements, redirects */
/* Set by the agent when a rule or default of the port is stateful: the programs track its flows. */
#define XTAP_PORT_F_CONNTRACK          (1U << 2)

enum xtap_acl_action {
	XTAP_ACL_DENY  = 0,
	XTAP_ACL_ALLOW = 1,
	/* allow, and track the flow: its replies pass the other direction's policy */
	XTAP_ACL_ALLOW_STATEFUL = 2,
};

struct xtap_acl_conf {
	__u32 set;             /* ACL set id: key prefix in xtap_acl4/6, xtap_acl_rules */
	__u16 rule_count;      /* 0: only the default applies */
	__u8  default_action;  /* enum xtap_acl_action */
	__u8  pad;
};

/*
 * Rate limit of one direction, as a GCRA (virtual scheduling): each frame
 * moves the theoretical arrival time on by its cost; a frame conforms while
 * that time stays within the burst tolerance of now. 0 rate = unlimited.
 */
struct xtap_rate_conf {
	__u64 bytes_per_sec;
	__u64 packets_per_sec;
	__u64 burst_bytes;
	__u64 burst_packets;
	/* derived by the agent */
	__u64 ns_per_byte_fp;    /* 1e9 / bytes_per_sec << XTAP_RATE_FP_SHIFT */
	__u64 ns_per_packet_fp;  /* 1e9 / packets_per_sec << XTAP_RATE_FP_SHIFT */
	__u64 burst_bytes_ns;    /* burst_bytes expressed as time at the rate */
	__u64 burst_packets_ns;
};

/*
 * Anti-spoofing's fast path: the first host addresses (/32, /128) of the
 * port's address set are copied into its entry, so the common check needs
 * no trie lookup. The trie (xtap_addr4/6) still holds the whole set; it is
 * consulted when the source is not one of these and the set has more.
 */
#define XTAP_PORT_HOST4          4
#define XTAP_PORT_HOST6          2     /* the EUI-64 link-local is always the first */
#define XTAP_PORT_ADDR_F_TRIE4   (1U << 0)  /* IPv4 entries beyond host4[]: look in xtap_addr4 */
#define XTAP_PORT_ADDR_F_TRIE6   (1U << 1)  /* IPv6 entries beyond host6[]: look in xtap_addr6 */

struct xtap_port {
	__u32 port_id;    /* index of xtap_port_stats and xtap_rate_state; < XTAP_MAX_PORTS */
	__u32 ifindex;
	__u32 segment_id;
	__u32 flags;      /* XTAP_PORT_F_* */
	__u8  mac[6];
	__u16 mtu;        /* longer frames from the VM are GSO: they take the tc path */
	__u32 addr_set;   /* key prefix in xtap_addr4/xtap_addr6 */
	struct xtap_acl_conf acl[XTAP_DIRS];
	__u8  host4_count;
	__u8  host6_count;
	__u8  addr_flags; /* XTAP_PORT_ADDR_F_* */
	__u8  pad;
	__u32 host4[XTAP_PORT_HOST4];        /* network order, like xtap_ip4_key.addr */
	__u8  host6[XTAP_PORT_HOST6][16];
	struct xtap_rate_conf rate[XTAP_DIRS];
	__u32 slot;       /* where xtap_port_by_id holds this entry: port_id * 2 + generation */
	__u32 pad2;
};

/* ---- allowed source addresses: LPM tries xtap_addr4 / xtap_addr6 ---- */
/* prefixlen covers the set id: 32 + the address prefix length. */
struct xtap_ip4_key {
	__u32 prefixlen;
	__u32 set;
	__u32 addr;
};

struct xtap_ip6_key {
	__u32 prefixlen;
	__u32 set;
	__u8  addr[16];
};

struct xtap_addr_entry {
	__u8 prefixlen;   /* as configured, for display */
	__u8 pad[3];
};

/*
 * map xtap_addr_sets, key = address set id: the set's entries, written before
 * them, so that the agent can delete a set exactly (and after a crash) and
 * bpftool shows a port's addresses in one place. Not read by the programs.
 */
struct xtap_prefix_rec {
	__u8 family;      /* 4 or 6 */
	__u8 prefixlen;
	__u8 addr[16];
};

struct xtap_addr_set {
	__u32 count;
	struct xtap_prefix_rec addrs[2 * XTAP_MAX_PORT_ADDRS];
};

/* ---- ACL: LPM tries xtap_acl4/6 (key xtap_ip4/6_key), rule sets, hits ---- */
/*
 * The value of an ACL prefix: bit i set = the rule at position i of the set
 * (struct xtap_acl_set) has a CIDR that contains this prefix. The
 * longest-prefix match of an address therefore yields every rule whose CIDR
 * contains it; their positions are in priority order.
 */
#define XTAP_ACL_INLINE 4

/* What the programs need of a rule to check it and count a hit (see struct xtap_acl_rule). */
struct xtap_acl_cand {
	__u32 hit_slot;
	__u16 port_min;
	__u16 port_max;
	__u8  action;
	__u8  proto;
	__u8  pad[2];
};

struct xtap_acl_match {
	__u64 rules[XTAP_ACL_WORDS];
	/*
	 * The first XTAP_ACL_INLINE of those rules, lowest position first, copied:
	 * the common case needs no lookup in xtap_acl_rules. Further ones are
	 * read there, by position.
	 */
	__u32 n_first;      /* of first[] */
	__u32 n_more;       /* candidates beyond first[] */
	struct xtap_acl_cand first[XTAP_ACL_INLINE];
};

struct xtap_acl_rule {
	__u32 rule_id;      /* stable per port (unique across both directions) */
	__u32 hit_slot;     /* index of the rule's counter in xtap_acl_hits, allocated by the agent */
	__u16 priority;     /* lower first; equal priorities keep insertion order */
	__u8  action;       /* enum xtap_acl_action */
	__u8  proto;        /* IPPROTO_*, 0 = any */
	__u16 port_min;     /* destination port range; TCP, UDP and SCTP only */
	__u16 port_max;     /* 0-65535 = any port (and any protocol without ports) */
	/* the CIDR, for display: matching uses the LPM tries */
	__u8  family;       /* 4 or 6 */
	__u8  prefixlen;
	/*
	 * For the agent: the rule's place in the priority order when the set
	 * was last written (an update checks with it that kept rules keep their
	 * order), or XTAP_ACL_RANK_FREE.
	 */
	__u16 rank;
	__u8  addr[16];
};

/*
 * A position whose rule was deleted in place: no trie entry names it, the
 * old rule is left for frames that read an entry just before; the agent may
 * give the position to a new rule in a later update.
 */
#define XTAP_ACL_RANK_FREE 0xFFFF

/*
 * map xtap_acl_rules, key = ACL set id: the set's rules by position. A trie
 * entry's bit i names position i; positions are in priority order wherever
 * two rules' CIDRs overlap (see docs/maps.md).
 */
struct xtap_acl_set {
	__u32 count;        /* positions in use or free; programs use the port's rule_count */
	__u32 pad;
	struct xtap_acl_rule rules[XTAP_MAX_ACL_RULES];
};

/*
 * map xtap_acl_hits: per-CPU array, index = a rule's hit_slot. The agent
 * gives each rule of a port a slot when the rule first appears (zeroing it)
 * and keeps it while the rule stays, across policy changes; a deleted rule's
 * slot is free for another rule.
 */
struct xtap_counter {
	__u64 packets;
	__u64 bytes;
};

/* ---- rate limiter state: array xtap_rate_state, index port_id * XTAP_DIRS + dir ---- */
/*
 * Theoretical arrival times on the bpf_ktime_get_ns() clock, in 1/16 ns
 * (XTAP_RATE_TAT_SHIFT): whole nanoseconds would overcharge nothing but
 * undercharge a 6.67 ns packet by 10%; 1/16 ns keeps that under 1% at
 * 150 Mpps and lasts 36 years of uptime.
 */
#define XTAP_RATE_TAT_SHIFT 4

struct xtap_rate_state {
	__u64 tat_bytes;
	__u64 tat_packets;
};

/*
 * ---- per-CPU credit: per-CPU array xtap_rate_credit, index as xtap_rate_state ----
 * Cost (1/16 ns at the rate) a CPU has already charged to the limiter's
 * arrival time and not yet spent: frames spend it without an atomic
 * operation on the shared state. A CPU charges a lease of
 * burst >> XTAP_RATE_LEASE_SHIFT at a time, and only while the frame and
 * the lease fit in the burst; near the limit frames are charged one by one.
 */
#define XTAP_RATE_LEASE_SHIFT 6

struct xtap_rate_credit {
	__u64 bytes;
	__u64 packets;
};

/* ---- per-port counters: per-CPU array xtap_port_stats, index port_id ---- */
struct xtap_port_stats {
	struct xtap_counter verdict[XTAP_DIRS][XTAP_VERDICTS];
	struct xtap_counter drop[XTAP_DIRS][XTAP_DROP_REASONS];
};

/* ---- forwarding ---- */
#define XTAP_SEGMENT_F_FLOOD_HOST  (1U << 0)  /* broadcast/multicast also reach the host stack */

/* map xtap_segments, key = segment id (__u32) */
struct xtap_segment {
	__u32 flags;           /* XTAP_SEGMENT_F_* */
	__u32 uplink_ifindex;  /* 0: no uplink; unknown unicast goes to the host */
	__u16 vlan;            /* 802.1Q id on the uplink, 0 = untagged */
	__u16 pad;
	__u32 vni;             /* VXLAN network id, 0: the segment has no overlay */
};

/* map xtap_fdb: static entries written by the agent */
struct xtap_fdb_key {
	__u32 segment_id;
	__u8  mac[6];
	__u16 pad;
};

#define XTAP_FDB_HOST  0   /* ifindex 0: the host stack owns this MAC */

struct xtap_fdb_entry {
	__u32 ifindex;         /* tap of a local VM, or XTAP_FDB_HOST */
	__u32 port_id;
	__u16 mtu;             /* the VM port's MTU: XDP redirects only frames that fit it */
	__u16 pad;
};

/* map xtap_seg_ports: the segment's VM taps, for floods on the skb path */
struct xtap_segment_ports {
	__u32 count;
	__u32 ifindex[XTAP_MAX_SEGMENT_PORTS];
};

/* map xtap_uplink_vlan: which segment a frame arriving on an uplink belongs to */
struct xtap_uplink_vlan_key {
	__u32 ifindex;
	__u16 vlan;            /* 0 = untagged */
	__u16 pad;
};

/* per-CPU array xtap_uplink_stats, one entry: frames seen by "from uplink" */
enum xtap_uplink_verdict {
	XTAP_UPLINK_TO_PORT   = 0,
	XTAP_UPLINK_FLOOD     = 1,
	XTAP_UPLINK_TO_HOST   = 2,
	XTAP_UPLINK_VERDICTS  = 3,
};

struct xtap_uplink_stats {
	struct xtap_counter verdict[XTAP_UPLINK_VERDICTS];
};

/* ---- connection tracking: hash xtap_ct, array xtap_ct_count, array xtap_ct_conf ---- */
/*
 * One hash for every port, not LRU: nothing a port does can evict another
 * port's entries. Each port may hold at most xtap_ct_conf.port_max entries
 * (XTAP_CT_PORT_MAX_DEFAULT when 0); the table's size bounds all of them.
 */
#define XTAP_CT_MAX_ENTRIES      (1U << 20)
#define XTAP_CT_PORT_MAX_DEFAULT 65536

enum xtap_ct_state {
	XTAP_CT_NONE        = 0,
	XTAP_CT_SYN_SENT    = 1,  /* the opener's SYN seen */
	XTAP_CT_SYN_RECV    = 2,  /* the reply's SYN-ACK seen */
	XTAP_CT_ESTABLISHED = 3,  /* the opener's ACK of the SYN-ACK seen */
	XTAP_CT_FIN_WAIT    = 4,  /* a FIN seen (either side) */
	XTAP_CT_CLOSE       = 5,  /* a RST seen */
	XTAP_CT_UDP         = 6,
	XTAP_CT_ICMP_ECHO   = 7,  /* ICMP / ICMPv6 echo, by identifier */
	XTAP_CT_STATES      = 8,
};

/* Idle time after which an entry in that state is gone (seconds). */
#define XTAP_CT_TIMEOUT_SYN_SENT    30
#define XTAP_CT_TIMEOUT_SYN_RECV    30
#define XTAP_CT_TIMEOUT_ESTABLISHED 3600
#define XTAP_CT_TIMEOUT_FIN_WAIT    30
#define XTAP_CT_TIMEOUT_CLOSE       10
#define XTAP_CT_TIMEOUT_UDP         60
#define XTAP_CT_TIMEOUT_ICMP_ECHO   30

/*
 * A flow as seen from its port (the zone): the VM's end and the remote end,
 * so both directions build the same key without comparing addresses. ICMP
 * echo: vm_port is the identifier, remote_port 0. IPv4 addresses fill the
 * first 4 bytes of the 16.
 */
struct xtap_ct_key {
	__u32 port_id;
	__u8  family;       /* 4 or 6 */
	__u8  proto;        /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP or IPPROTO_ICMPV6 */
	__u16 pad;
	__u8  vm_addr[16];
	__u8  remote_addr[16];
	__u16 vm_port;      /* host order */
	__u16 remote_port;
};

struct xtap_ct_entry {
	__u64 last_seen;    /* bpf_ktime_get_coarse_ns() + xtap_ct_conf.clock_offset_ns */
	__u8  state;        /* enum xtap_ct_state */
	__u8  opener;       /* enum xtap_dir of the flow's first frame */
	__u8  pad[6];
};

/* Entries a port holds, counted by the programs and the agent's sweeper with atomics (mmap). */
struct xtap_ct_count {
	__u32 flows;
	__u32 pad;
};

struct xtap_ct_conf {
	__u64 clock_offset_ns;  /* added to bpf_ktime_get_coarse_ns(): tests move time on with it */
	__u32 port_max;         /* entries per port; 0 = XTAP_CT_PORT_MAX_DEFAULT */
	__u32 pad;
};

/* ---- observability: xtapctl monitor and capture (bpf/observe.h, docs/observability.md) ---- */
#define XTAP_OBS_SNAP_MAX    1536          /* bytes of a frame one event carries at most */
#define XTAP_OBS_RING_BYTES  (4U << 20)    /* ring buffer xtap_obs_events */
#define XTAP_OBS_ALL_PORTS   0xFFFFFFFFU
#define XTAP_OBS_F_DROPS     (1U << 0)     /* only frames dropped */

/* Where an event was taken. */
enum xtap_obs_hook {
	XTAP_OBS_HOOK_FROM_VM_XDP   = 0,  /* XDP on the VM's tap: what the VM sent */
	XTAP_OBS_HOOK_FROM_VM_TC    = 1,  /* tc ingress: frames XDP left to the skb path (GSO, long) */
	XTAP_OBS_HOOK_TO_VM_DEVMAP  = 2,  /* devmap egress: frames redirected by XDP, as delivered */
	XTAP_OBS_HOOK_TO_VM_TC      = 3,  /* tc egress: frames from the stack and tc redirects */
	XTAP_OBS_HOOKS              = 4,
};

/*
 * map xtap_obs_conf, array of one: what the one listener (xtapctl monitor or
 * capture) asked for. Off (lease_until_ns = 0, or past) costs a frame one
 * lookup and a branch. The listener renews the lease while it runs, so a
 * killed one stops the events by itself within XTAP_OBS_LEASE_NS.
 */
#define XTAP_OBS_LEASE_NS    3000000000ULL

struct xtap_obs_conf {
	__u64 lease_until_ns;   /* bpf_ktime_get_ns() (CLOCK_MONOTONIC); 0 = off */
	__u64 ns_per_event;     /* the per-CPU event rate, as a GCRA cost */
	__u64 burst_ns;         /* its burst, as time at that rate */
	__u32 port_id;          /* or XTAP_OBS_ALL_PORTS */
	__u32 dirs;             /* bit (1 << enum xtap_dir) per direction */
	__u32 flags;            /* XTAP_OBS_F_* */
	__u32 snaplen;          /* bytes copied, 0..XTAP_OBS_SNAP_MAX */
	__u32 sample;           /* 1 in N matching frames per CPU; 0 and 1: each */
	__u32 owner_pid;        /* the listener, named to a second one */
};

/* map xtap_obs_cpu, per-CPU array of one: the limiter and what was lost. */
struct xtap_obs_cpu {
	__u64 tat_ns;           /* the event limiter's theoretical arrival time */
	__u64 seen;             /* frames that matched the filter, for sampling */
	__u64 sent;             /* events in the ring */
	__u64 lost_rate;        /* over the per-CPU event rate */
	__u64 lost_ring;        /* the ring was full (the listener is too slow) */
};

/* A record of ring buffer xtap_obs_events. */
struct xtap_obs_event {
	__u64 ts_ns;            /* bpf_ktime_get_ns() */
	__u32 port_id;
	__u32 ifindex;
	__u32 len;              /* the frame's length */
	__u32 caplen;           /* bytes of it in data[] */
	__u8  dir;              /* enum xtap_dir */
	__u8  verdict;          /* enum xtap_verdict */
	__u8  reason;           /* enum xtap_drop_reason */
	__u8  hook;             /* enum xtap_obs_hook */
	__u32 cpu;
	__u8  data[XTAP_OBS_SNAP_MAX];
};

/* ---- xtapctl trace: a frame through a program's trace copy (bpf/trace.h) ---- */
/* The stages a frame meets, in order; a trace records those it reached. */
enum xtap_trace_stage {
	XTAP_TRACE_PARSE      = 0,  /* headers (docs/packet-rules.md) */
	XTAP_TRACE_ANTISPOOF  = 1,  /* from VM: source MAC/IP, ARP, ND, DHCP, router messages */
	XTAP_TRACE_L2         = 2,  /* to VM: untagged, addressed to the VM's MAC (or multicast) */
	XTAP_TRACE_ACL        = 3,
	XTAP_TRACE_MTU        = 4,  /* to VM: the port's MTU */
	XTAP_TRACE_RATE       = 5,
	XTAP_TRACE_STEER      = 6,  /* from VM: where the frame goes */
	XTAP_TRACE_STAGES     = 7,
};

#define XTAP_TRACE_ACL_DEFAULT 0xFFFFFFFFU  /* acl_slot: no rule matched, the default applied */

/* map xtap_trace, array of one: in the trace variants only (bpf/trace.h), what the last run recorded. */
struct xtap_trace {
	__u32 stages;                        /* bit (1 << enum xtap_trace_stage) per stage reached */
	__u32 result[XTAP_TRACE_STAGES];     /* 0: passed; else the drop reason it gave */
	__u32 acl_slot;                      /* hit slot of the rule that matched, or XTAP_TRACE_ACL_DEFAULT */
	__u32 verdict;                       /* enum xtap_verdict: what the frame's counters would get */
	__u32 reason;
	__u32 target;                        /* steer: ifindex (to port/uplink) or segment id (flood) */
	__u32 counted;                       /* 1: the program reached its counting point */
};

/* ---- overlay (VXLAN over an IPv4 underlay, bpf/overlay.h) ---- */
#define XTAP_VXLAN_PORT          4789
#define XTAP_VXLAN_OVERHEAD      50    /* outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 */
#define XTAP_VNI_MAX             0xFFFFFF
#define XTAP_MAX_SEGMENT_VTEPS   64    /* remote VTEPs of one segment */
#define XTAP_MAX_REMOTE_MACS     65536

/* array xtap_underlay, one entry: this host's VTEP. ifindex 0: no underlay. */
struct xtap_underlay {
	__u32 ifindex;
	__be32 vtep;           /* this host's VTEP address */
};

/* hash xtap_vni: key VNI (__u32) -> segment id (__u32) */

/*
 * hash xtap_seg_vteps, key segment id: the segment's remote VTEPs, the
 * head-end replication list and the only sources accepted on decapsulation.
 */
struct xtap_segment_vteps {
	__u32 count;
	__be32 vtep[XTAP_MAX_SEGMENT_VTEPS];
};

/* hash xtap_remote_fdb, key struct xtap_fdb_key: a remote VM's MAC -> its host's VTEP */
struct xtap_remote_mac {
	__be32 vtep;
};

/* per-CPU array xtap_ovl_stats, one entry */
enum xtap_overlay_counter {
	XTAP_OVL_ENCAP          = 0,  /* unicast encapsulated to a remote VTEP */
	XTAP_OVL_REPLICATED     = 1,  /* copies of broadcast/multicast sent to remote VTEPs */
	XTAP_OVL_ENCAP_NO_ROUTE = 2,  /* no route or neighbour for the VTEP on the underlay: dropped */
	XTAP_OVL_DECAP          = 3,  /* decapsulated from a known VTEP */
	XTAP_OVL_DECAP_DROPPED  = 4,  /* XTAP_DROP_UNDERLAY: unknown VNI, or a VTEP the segment does not list */
	XTAP_OVL_DECAP_NO_PORT  = 5,  /* decapsulated unicast for no local VM: dropped */
	XTAP_OVL_COUNTERS       = 6,
};

struct xtap_overlay_stats {
	struct xtap_counter c[XTAP_OVL_COUNTERS];
};

#endif /* XTAP_ABI_H */
