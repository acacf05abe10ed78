/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-port, per-direction ACL: CIDR + protocol + destination port range,
 * allow/deny, first match by priority, default verdict, hit counters.
 *
 * Lookup cost does not grow with the rule count: one LPM lookup on the remote
 * address yields a bitmap of the rules whose CIDR contains it (see
 * struct xtap_acl_match); only those rules of the port's rule set are
 * checked, in priority order.
 */
#ifndef XTAP_ACL_H
#define XTAP_ACL_H

#include "xtap_common.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XTAP_MAX_ACL_SETS * XTAP_MAX_ACL_RULES);
	__type(key, struct xtap_ip4_key);
	__type(value, struct xtap_acl_match);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_acl4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XTAP_MAX_ACL_SETS * XTAP_MAX_ACL_RULES);
	__type(key, struct xtap_ip6_key);
	__type(value, struct xtap_acl_match);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_acl6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XTAP_MAX_ACL_SETS);
	__type(key, __u32);                   /* ACL set id */
	__type(value, struct xtap_acl_set);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_acl_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, XTAP_MAX_TOTAL_ACL_RULES);
	__type(key, struct xtap_acl_hit_key);
	__type(value, struct xtap_counter);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} xtap_acl_hits SEC(".maps");

/*
 * Candidates (rules whose CIDR contains the remote address) checked inline,
 * lowest rank first, before the rest is handed to bpf_loop: the common case
 * (a deny or two and the final allow) needs no callback and one rule set
 * lookup.
 */
#define XTAP_ACL_INLINE 4
_Static_assert(XTAP_ACL_WORDS == 4, "xtap_acl_check walks four bitmap words");

struct xtap_acl_walk {
	__u64 bits[XTAP_ACL_WORDS];
	__u32 set;
	__u32 port_id;
	__u32 len;
	__u32 word;
	__u16 dport;
	__u8  proto;
	__u8  l4_ports;
	int   action;      /* -1 until a rule matches */
};

/*
 * Index of the only set bit of a power of two: the population count of the
 * bits below it. Branch-free, so the verifier walks it as one path.
 */
static __always_inline __u32 xtap_bit_index(__u64 bit)
{
	__u64 x = bit - 1;

	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

static __always_inline int xtap_acl_rule_matches(const struct xtap_acl_rule *r, __u8 proto,
						 __u8 l4_ports, __u16 dport)
{
	if (r->proto && r->proto != proto)
		return 0;
	if (r->port_min == 0 && r->port_max == 0xFFFF)
		return 1;
	return l4_ports && dport >= r->port_min && dport <= r->port_max;
}

static __always_inline void xtap_acl_count_hit(__u32 port_id, __u32 rule_id, __u32 len)
{
	struct xtap_acl_hit_key hit_key = { .port_id = port_id, .rule_id = rule_id };
	struct xtap_counter *hits;

	hits = bpf_map_lookup_elem(&xtap_acl_hits, &hit_key);
	if (hits) {
		hits->packets++;
		hits->bytes += len;
	}
}

/* bpf_loop callback: checks the next candidate rule, lowest rank first. */
static long xtap_acl_step(__u32 i, void *ctx)
{
	struct xtap_acl_walk *w = ctx;
	const struct xtap_acl_set *rules;
	const struct xtap_acl_rule *r;
	__u64 bits, low;
	__u32 word = w->word, rank;

	while (word < XTAP_ACL_WORDS && w->bits[word] == 0)
		word++;
	w->word = word;
	if (word >= XTAP_ACL_WORDS)
		return 1;
	bits = w->bits[word];
	low = bits & -bits;
	w->bits[word] = bits & ~low;

	rank = word * 64 + xtap_bit_index(low);
	if (rank >= XTAP_MAX_ACL_RULES)
		return 1;
	/* Looked up here: the verifier does not keep map pointers stored in the loop context. */
	rules = bpf_map_lookup_elem(&xtap_acl_rules, &w->set);
	if (!rules)
		return 1;
	r = &rules->rules[rank];
	if (!xtap_acl_rule_matches(r, w->proto, w->l4_ports, w->dport))
		return 0;
	w->action = r->action;
	xtap_acl_count_hit(w->port_id, r->rule_id, w->len);
	return 1;
}

/* Returns XTAP_DROP_NONE when the frame is allowed, XTAP_DROP_ACL otherwise. */
static __always_inline int xtap_acl_check(const struct xtap_port *port, __u32 dir,
					  const struct xtap_flow *f, __u32 len)
{
	const struct xtap_acl_conf *conf = &port->acl[dir & 1];
	const __u8 *remote = dir == XTAP_DIR_FROM_VM ? f->daddr.v6 : f->saddr.v6;
	const struct xtap_acl_set *rules;
	struct xtap_acl_match *m = NULL;
	__u64 b0, b1, b2, b3;
	__u32 set = conf->set;
	int i;

	if (!f->l3_family)
		return XTAP_DROP_NONE;  /* ARP is not filtered: IP needs it */
	if (conf->rule_count == 0)
		goto dflt;
	if (f->l3_family == 4) {
		struct xtap_ip4_key k = { .prefixlen = 64, .set = set };

		__builtin_memcpy(&k.addr, remote, 4);
		m = bpf_map_lookup_elem(&xtap_acl4, &k);
	} else {
		struct xtap_ip6_key k = { .prefixlen = 160, .set = set };

		__builtin_memcpy(k.addr, remote, 16);
		m = bpf_map_lookup_elem(&xtap_acl6, &k);
	}
	if (!m)
		goto dflt;
	b0 = m->rules[0];
	b1 = m->rules[1];
	b2 = m->rules[2];
	b3 = m->rules[3];
	if (!(b0 | b1 | b2 | b3))
		goto dflt;
	rules = bpf_map_lookup_elem(&xtap_acl_rules, &set);
	if (!rules)
		goto dflt;

#pragma unroll
	for (i = 0; i < XTAP_ACL_INLINE; i++) {
		const struct xtap_acl_rule *r;
		__u64 low;
		__u32 rank;

		if (b0) {
			low = b0 & -b0;
			b0 &= ~low;
			rank = 0;
		} else if (b1) {
			low = b1 & -b1;
			b1 &= ~low;
			rank = 64;
		} else if (b2) {
			low = b2 & -b2;
			b2 &= ~low;
			rank = 128;
		} else if (b3) {
			low = b3 & -b3;
			b3 &= ~low;
			rank = 192;
		} else {
			goto dflt;
		}
		rank += xtap_bit_index(low);
		r = &rules->rules[rank & (XTAP_MAX_ACL_RULES - 1)];
		if (xtap_acl_rule_matches(r, f->l4_proto, f->l4_ports, f->dport)) {
			xtap_acl_count_hit(port->port_id, r->rule_id, len);
			return r->action == XTAP_ACL_ALLOW ? XTAP_DROP_NONE : XTAP_DROP_ACL;
		}
	}
	if (b0 | b1 | b2 | b3) {
		/* More candidates than checked inline: the rest, in order, in a loop. */
		struct xtap_acl_walk w = {
			.bits = { b0, b1, b2, b3 },
			.set = set,
			.port_id = port->port_id,
			.len = len,
			.dport = f->dport,
			.proto = f->l4_proto,
			.l4_ports = f->l4_ports,
			.action = -1,
		};

		bpf_loop(XTAP_MAX_ACL_RULES, xtap_acl_step, &w, 0);
		if (w.action >= 0)
			return w.action == XTAP_ACL_ALLOW ? XTAP_DROP_NONE : XTAP_DROP_ACL;
	}
dflt:
	return conf->default_action == XTAP_ACL_ALLOW ? XTAP_DROP_NONE : XTAP_DROP_ACL;
}

#endif /* XTAP_ACL_H */
