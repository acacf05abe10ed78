/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking for stateful ACL rules (XTAP_ACL_ALLOW_STATEFUL).
 *
 * A flow is tracked per port (the zone), keyed by its VM end and remote end
 * (struct xtap_ct_key), so a frame in either direction finds the one entry.
 * A new flow that a stateful rule allows creates the entry; frames of the
 * other direction then pass when the entry's state accepts them and the
 * opener's ACL still allows the flow's first frame: the live rule is checked
 * on every reply, so deleting it cuts the flow at once with nothing to flush
 * and nothing stored that could go stale. ICMP errors whose inner header
 * matches a live flow are related and pass the same way.
 *
 * The hash is not LRU: a port's flood can never evict another port's
 * entries. Each port holds at most xtap_ct_conf.port_max of them (counted in
 * xtap_ct_count); past that a new flow is dropped CT_FULL and existing ones
 * are untouched. An entry idle longer than its state's timeout counts as
 * absent; xtapd's sweeper deletes it and gives the slot back.
 */
#ifndef XTAP_CONNTRACK_H
#define XTAP_CONNTRACK_H

#include "xtap_common.h"
#include "parse.h"
#include "acl.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_CT_MAX_ENTRIES);
	__type(key, struct xtap_ct_key);
	__type(value, struct xtap_ct_entry);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_ct SEC(".maps");

/* Mapped by xtapd, whose sweeper decrements what the programs increment. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XTAP_MAX_PORTS);
	__type(key, __u32);                   /* port_id */
	__type(value, struct xtap_ct_count);
	__uint(map_flags, BPF_F_MMAPABLE);
} xtap_ct_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_ct_conf);
} xtap_ct_conf SEC(".maps");

#define XTAP_NSEC 1000000000ULL
/* last_seen is refreshed at most this often: fewer writes to a line every CPU reads. */
#define XTAP_CT_REFRESH_NS (XTAP_NSEC / 4)

#define XTAP_TCP_FIN 0x01
#define XTAP_TCP_SYN 0x02
#define XTAP_TCP_RST 0x04
#define XTAP_TCP_ACK 0x10

#define XTAP_ICMP_ECHO_REPLY    0
#define XTAP_ICMP_DEST_UNREACH  3
#define XTAP_ICMP_ECHO          8
#define XTAP_ICMP_TIME_EXCEEDED 11
#define XTAP_ICMP_PARAMPROB     12
#define XTAP_ICMPV6_DEST_UNREACH  1
#define XTAP_ICMPV6_PKT_TOOBIG    2
#define XTAP_ICMPV6_TIME_EXCEED   3
#define XTAP_ICMPV6_PARAMPROB     4
#define XTAP_ICMPV6_ECHO_REQUEST  128
#define XTAP_ICMPV6_ECHO_REPLY    129

/*
 * Every write to conntrack state goes through here: a trace (xtapctl trace,
 * bpf/trace.h) must leave the state as it was.
 */
static __always_inline bool xtap_ct_may_write(void)
{
	return !xtap_tracing();
}

/* What a frame is to conntrack. */
enum xtap_ct_kind {
	XTAP_CT_K_UNTRACKED = 0,  /* fragments, other protocols, other ICMP: the ACL alone */
	XTAP_CT_K_OPEN,           /* may open a flow: TCP SYN, UDP, echo request */
	XTAP_CT_K_MID,            /* only ever part of a flow: other TCP, echo reply */
	XTAP_CT_K_RELATED,        /* an ICMP error; the key is its inner packet's flow */
};

static __always_inline __u64 xtap_ct_timeout_ns(__u8 state)
{
	switch (state) {
	case XTAP_CT_SYN_SENT:
		return XTAP_CT_TIMEOUT_SYN_SENT * XTAP_NSEC;
	case XTAP_CT_SYN_RECV:
		return XTAP_CT_TIMEOUT_SYN_RECV * XTAP_NSEC;
	case XTAP_CT_ESTABLISHED:
		return XTAP_CT_TIMEOUT_ESTABLISHED * XTAP_NSEC;
	case XTAP_CT_FIN_WAIT:
		return XTAP_CT_TIMEOUT_FIN_WAIT * XTAP_NSEC;
	case XTAP_CT_CLOSE:
		return XTAP_CT_TIMEOUT_CLOSE * XTAP_NSEC;
	case XTAP_CT_UDP:
		return XTAP_CT_TIMEOUT_UDP * XTAP_NSEC;
	case XTAP_CT_ICMP_ECHO:
		return XTAP_CT_TIMEOUT_ICMP_ECHO * XTAP_NSEC;
	default:
		return 0;
	}
}

static __always_inline const struct xtap_ct_conf *xtap_ct_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xtap_ct_conf, &zero);
}

static __always_inline int xtap_ct_live(const struct xtap_ct_entry *e, __u64 now)
{
	return now - e->last_seen < xtap_ct_timeout_ns(e->state);
}

/*
 * Fills the key's ends from the addresses and ports of a packet that went in
 * direction dir. Addresses are copied as 16 bytes: an IPv4 flow's are zero
 * beyond the first 4 (the parser's struct starts zeroed; inner headers are
 * copied by the caller the same way).
 */
static __always_inline void xtap_ct_key_ends(struct xtap_ct_key *k, __u32 dir,
					     const __u64 *saddr, const __u64 *daddr,
					     __u16 sport, __u16 dport)
{
	if (dir == XTAP_DIR_FROM_VM) {
		__builtin_memcpy(k->vm_addr, saddr, 16);
		__builtin_memcpy(k->remote_addr, daddr, 16);
		k->vm_port = sport;
		k->remote_port = dport;
	} else {
		__builtin_memcpy(k->vm_addr, daddr, 16);
		__builtin_memcpy(k->remote_addr, saddr, 16);
		k->vm_port = dport;
		k->remote_port = sport;
	}
}

/*
 * An ICMP error's inner packet, which went the opposite way (dir ^ 1): its
 * flow's key. The inner IPv6 header must be followed directly by TCP, UDP or
 * ICMPv6 (errors quoting extension headers are not matched).
 */
static __always_inline int xtap_ct_inner_key(void *data, void *data_end, const struct xtap_flow *f,
					     __u32 dir, struct xtap_ct_key *k)
{
	__u8 *in = (__u8 *)xtap_at(data, f->l4_off) + 8;
	__u64 s[2] = {}, d[2] = {};
	__u8 *il4;
	__u16 sp, dp;

	if (f->l3_family == 4) {
		__u32 ihl;

		if ((void *)(in + 20) > data_end || (in[0] >> 4) != 4)
			return -1;
		ihl = (in[0] & 0xF) * 4;
		if (ihl < 20)
			return -1;
		k->proto = in[9];
		__builtin_memcpy(s, in + 12, 4);
		__builtin_memcpy(d, in + 16, 4);
		il4 = in + ihl;
	} else {
		if ((void *)(in + 40) > data_end || (in[0] >> 4) != 6)
			return -1;
		k->proto = in[6];
		__builtin_memcpy(s, in + 8, 16);
		__builtin_memcpy(d, in + 24, 16);
		il4 = in + 40;
	}
	if ((void *)(il4 + 8) > data_end)
		return -1;
	switch (k->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		sp = ((__u16)il4[0] << 8) | il4[1];
		dp = ((__u16)il4[2] << 8) | il4[3];
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (k->proto != (f->l3_family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
			return -1;
		/* The echo's identifier names the flow whichever way it went. */
		xtap_ct_key_ends(k, dir ^ 1, s, d, 0, 0);
		k->vm_port = ((__u16)il4[4] << 8) | il4[5];
		return 0;
	default:
		return -1;
	}
	xtap_ct_key_ends(k, dir ^ 1, s, d, sp, dp);
	return 0;
}

/* Sorts the frame (enum xtap_ct_kind) and builds its flow's key; *tcp_flags for TCP. */
static __always_inline int xtap_ct_classify(void *data, void *data_end, const struct xtap_flow *f,
					    __u32 dir, struct xtap_ct_key *k, __u8 *tcp_flags)
{
	__u8 *l4;

	if (f->fragment || !f->l4_off)
		return XTAP_CT_K_UNTRACKED;
	k->family = f->l3_family;
	k->proto = f->l4_proto;
	switch (f->l4_proto) {
	case IPPROTO_TCP:
		l4 = xtap_at(data, f->l4_off);
		if ((void *)(l4 + 14) > data_end)
			return XTAP_CT_K_UNTRACKED;
		*tcp_flags = l4[13];
		xtap_ct_key_ends(k, dir, f->saddr.v6w, f->daddr.v6w, f->sport, f->dport);
		return (l4[13] & (XTAP_TCP_SYN | XTAP_TCP_ACK | XTAP_TCP_RST)) == XTAP_TCP_SYN ?
		       XTAP_CT_K_OPEN : XTAP_CT_K_MID;
	case IPPROTO_UDP:
		xtap_ct_key_ends(k, dir, f->saddr.v6w, f->daddr.v6w, f->sport, f->dport);
		return XTAP_CT_K_OPEN;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		break;
	default:
		return XTAP_CT_K_UNTRACKED;
	}
	if (f->l4_proto != (f->l3_family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
		return XTAP_CT_K_UNTRACKED;
	switch (f->icmp_type | (f->l3_family == 6 ? 0x100 : 0)) {
	case XTAP_ICMP_ECHO:
	case XTAP_ICMP_ECHO_REPLY:
	case 0x100 | XTAP_ICMPV6_ECHO_REQUEST:
	case 0x100 | XTAP_ICMPV6_ECHO_REPLY:
		l4 = xtap_at(data, f->l4_off);
		if ((void *)(l4 + 8) > data_end)
			return XTAP_CT_K_UNTRACKED;
		/* The identifier names the flow whichever way the echo goes. */
		xtap_ct_key_ends(k, dir, f->saddr.v6w, f->daddr.v6w, 0, 0);
		k->vm_port = ((__u16)l4[4] << 8) | l4[5];
		return f->icmp_type == XTAP_ICMP_ECHO || f->icmp_type == XTAP_ICMPV6_ECHO_REQUEST ?
		       XTAP_CT_K_OPEN : XTAP_CT_K_MID;
	case XTAP_ICMP_DEST_UNREACH:
	case XTAP_ICMP_TIME_EXCEEDED:
	case XTAP_ICMP_PARAMPROB:
	case 0x100 | XTAP_ICMPV6_DEST_UNREACH:
	case 0x100 | XTAP_ICMPV6_PKT_TOOBIG:
	case 0x100 | XTAP_ICMPV6_TIME_EXCEED:
	case 0x100 | XTAP_ICMPV6_PARAMPROB:
		return xtap_ct_inner_key(data, data_end, f, dir, k) ? XTAP_CT_K_UNTRACKED :
		       XTAP_CT_K_RELATED;
	default:
		return XTAP_CT_K_UNTRACKED;
	}
}

/*
 * The state after a frame of the flow, sent by its opener or not; 0 when the
 * state does not accept it (CT_INVALID). TCP follows the flags only (no
 * sequence windows, like Cilium): a RST closes from any state, a SYN from
 * the opener starts over (a reused port), a SYN-ACK must come from the
 * other end, and data needs the handshake done.
 */
static __always_inline __u8 xtap_ct_next(__u8 state, __u8 proto, int opener, __u8 fl, __u8 kind)
{
	if (proto == IPPROTO_UDP)
		return XTAP_CT_UDP;
	if (proto != IPPROTO_TCP)
		/* Echo: requests from the opener, replies from the other end. */
		return (kind == XTAP_CT_K_OPEN) == !!opener ? XTAP_CT_ICMP_ECHO : 0;
	if (fl & XTAP_TCP_RST)
		return XTAP_CT_CLOSE;
	if (fl & XTAP_TCP_SYN) {
		if (!(fl & XTAP_TCP_ACK))
			return opener ? XTAP_CT_SYN_SENT : 0;
		if (opener)
			return 0;
		if (state == XTAP_CT_SYN_SENT || state == XTAP_CT_SYN_RECV)
			return XTAP_CT_SYN_RECV;
		/* A SYN-ACK sent again because the opener's ACK was lost. */
		return state == XTAP_CT_ESTABLISHED ? state : 0;
	}
	switch (state) {
	case XTAP_CT_SYN_RECV:
		if (fl & XTAP_TCP_FIN)
			return XTAP_CT_FIN_WAIT;
		return opener ? XTAP_CT_ESTABLISHED : state;
	case XTAP_CT_ESTABLISHED:
		return fl & XTAP_TCP_FIN ? XTAP_CT_FIN_WAIT : state;
	case XTAP_CT_FIN_WAIT:
		return state;
	default:
		/* SYN_SENT: nothing but a SYN-ACK or RST answers a SYN; CLOSE: over. */
		return 0;
	}
}

/* The state a flow's first frame creates. */
static __always_inline __u8 xtap_ct_first_state(__u8 proto)
{
	if (proto == IPPROTO_TCP)
		return XTAP_CT_SYN_SENT;
	return proto == IPPROTO_UDP ? XTAP_CT_UDP : XTAP_CT_ICMP_ECHO;
}

/*
 * Whether the flow of key k, opened in direction opener, is still allowed by
 * a stateful rule (or default) there: the ACL asked about its first frame.
 */
static __always_inline int xtap_ct_flow_allowed(const struct xtap_port *port,
						const struct xtap_ct_key *k, __u32 opener, __u32 len)
{
	int ports = k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP;
	__u16 dport = opener == XTAP_DIR_FROM_VM ? k->remote_port : k->vm_port;

	return xtap_acl_eval(port, opener, k->family, k->remote_addr, k->proto, ports, dport, len) ==
	       XTAP_ACL_ALLOW_STATEFUL;
}

/*
 * A new flow's entry, within the port's cap. stale: an expired entry holds
 * the key already (it was counted when created, and is overwritten in place).
 */
static __always_inline int xtap_ct_create(const struct xtap_port *port,
					  const struct xtap_ct_key *k, __u32 dir, __u64 now,
					  int stale)
{
	const struct xtap_ct_conf *conf = xtap_ct_config();
	struct xtap_ct_entry e = {
		.last_seen = now,
		.state = xtap_ct_first_state(k->proto),
		.opener = dir,
	};
	struct xtap_ct_count *cnt;
	__u32 id = port->port_id, max;
	long err;

	max = conf && conf->port_max ? conf->port_max : XTAP_CT_PORT_MAX_DEFAULT;
	cnt = bpf_map_lookup_elem(&xtap_ct_count, &id);
	if (!cnt)
		return XTAP_DROP_CT_FULL;
	if (!xtap_ct_may_write())
		return stale || READ_ONCE(cnt->flows) < max ? XTAP_DROP_NONE : XTAP_DROP_CT_FULL;
	if (stale) {
		err = bpf_map_update_elem(&xtap_ct, k, &e, BPF_EXIST);
		/* Unless the sweeper deleted it meanwhile: then it is created, and counted, anew. */
		if (err != -2 /* ENOENT */)
			return err ? XTAP_DROP_CT_FULL : XTAP_DROP_NONE;
	}
	if (__sync_fetch_and_add(&cnt->flows, 1) >= max) {
		__sync_fetch_and_add(&cnt->flows, -1);
		return XTAP_DROP_CT_FULL;
	}
	err = bpf_map_update_elem(&xtap_ct, k, &e, BPF_NOEXIST);
	if (err) {
		__sync_fetch_and_add(&cnt->flows, -1);
		/* Another CPU created it first: the flow is tracked. Else the table is full. */
		return err == -17 /* EEXIST */ ? XTAP_DROP_NONE : XTAP_DROP_CT_FULL;
	}
	return XTAP_DROP_NONE;
}

/*
 * The policy of a frame on a port that tracks flows, given the ACL's action
 * for it in its direction: XTAP_DROP_NONE or the reason to drop it.
 */
static __always_inline int xtap_ct_check(const struct xtap_port *port, __u32 dir, void *data,
					 void *data_end, const struct xtap_flow *f, __u32 len,
					 int action)
{
	struct xtap_ct_key k = { .port_id = port->port_id };
	const struct xtap_ct_conf *conf;
	struct xtap_ct_entry *e;
	__u8 flags = 0, next;
	__u64 now;
	int kind, live;

	kind = xtap_ct_classify(data, data_end, f, dir, &k, &flags);
	if (kind == XTAP_CT_K_UNTRACKED)
		return action == XTAP_ACL_DENY ? XTAP_DROP_ACL : XTAP_DROP_NONE;
	conf = xtap_ct_config();
	/* Timeouts are seconds: the tick-grained clock is enough, and cheaper. */
	now = bpf_ktime_get_coarse_ns() + (conf ? conf->clock_offset_ns : 0);
	e = bpf_map_lookup_elem(&xtap_ct, &k);
	live = e && xtap_ct_live(e, now);
	if (kind == XTAP_CT_K_RELATED) {
		if (action != XTAP_ACL_DENY)
			return XTAP_DROP_NONE;
		if (!live)
			return XTAP_DROP_CT_INVALID;
		return xtap_ct_flow_allowed(port, &k, e->opener, len) ? XTAP_DROP_NONE : XTAP_DROP_ACL;
	}
	if (live) {
		int opener = e->opener == dir;

		/* The opener's frames need its ACL; the other end's, the flow still allowed. */
		if (action == XTAP_ACL_DENY &&
		    (opener || !xtap_ct_flow_allowed(port, &k, e->opener, len)))
			return XTAP_DROP_ACL;
		next = xtap_ct_next(e->state, k.proto, opener, flags, kind);
		if (!next)
			return XTAP_DROP_CT_INVALID;
		if (xtap_ct_may_write()) {
			if (e->state != next)
				e->state = next;
			if (now - e->last_seen > XTAP_CT_REFRESH_NS)
				e->last_seen = now;
		}
		return XTAP_DROP_NONE;
	}
	if (action == XTAP_ACL_DENY)
		return kind == XTAP_CT_K_MID ? XTAP_DROP_CT_INVALID : XTAP_DROP_ACL;
	if (action == XTAP_ACL_ALLOW)
		return XTAP_DROP_NONE;
	/* Allowed by a stateful rule: a flow starts here, or this is no flow's frame. */
	if (kind == XTAP_CT_K_MID)
		return XTAP_DROP_CT_INVALID;
	return xtap_ct_create(port, &k, dir, now, e != NULL);
}

#endif /* XTAP_CONNTRACK_H */
