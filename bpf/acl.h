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
#include "trace.h"

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

/* Hit counters, indexed by the rule's hit_slot (an array lookup, inlined by the verifier). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XTAP_MAX_TOTAL_ACL_RULES);
	__type(key, __u32);
	__type(value, struct xtap_counter);
} xtap_acl_hits SEC(".maps");

/*
 * Candidates are the rules whose CIDR contains the remote address. The
 * first XTAP_ACL_INLINE come with the LPM match (struct xtap_acl_match), so
 * the common case (a deny or two and the final allow) needs no callback and
 * no rule set lookup; the rest are checked in a bpf_loop.
 */
_Static_assert(XTAP_ACL_WORDS == 4, "xtap_acl_step walks four bitmap words");

struct xtap_acl_walk {
	__u64 bits[XTAP_ACL_WORDS];
	__u32 set;
	__u32 len;
	__u32 word;
	__u32 skip;        /* candidates already checked inline */
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

static __always_inline int xtap_acl_ports_match(__u8 r_proto, __u16 port_min, __u16 port_max,
						__u8 proto, __u8 l4_ports, __u16 dport)
{
	if (r_proto && r_proto != proto)
		return 0;
	if (port_min == 0 && port_max == 0xFFFF)
		return 1;
	return l4_ports && dport >= port_min && dport <= port_max;
}

static __always_inline void xtap_acl_count_hit(__u32 slot, __u32 len)
{
	struct xtap_counter *hits;
	struct xtap_trace *t = xtap_trace_rec();

	if (xtap_tracing()) {
		if (t)
			t->acl_slot = slot;
		return;
	}
	hits = bpf_map_lookup_elem(&xtap_acl_hits, &slot);
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
	if (w->skip) {
		w->skip--;
		return 0;
	}

	rank = word * 64 + xtap_bit_index(low);
	if (rank >= XTAP_MAX_ACL_RULES)
		return 1;
	/* Looked up here: the verifier does not keep map pointers stored in the loop context. */
	rules = bpf_map_lookup_elem(&xtap_acl_rules, &w->set);
	if (!rules)
		return 1;
	r = &rules->rules[rank];
	if (!xtap_acl_ports_match(r->proto, r->port_min, r->port_max, w->proto, w->l4_ports,
				  w->dport))
		return 0;
	w->action = r->action;
	xtap_acl_count_hit(r->hit_slot, w->len);
	return 1;
}

/*
 * The action (enum xtap_acl_action) of the port's ACL in direction dir for a
 * frame to or from `remote` (family 4 or 6) with protocol proto and, when
 * l4_ports, destination port dport. Conntrack asks it about a flow's first
 * frame too, to check that the rule that allowed the flow is still there.
 */
static __always_inline int xtap_acl_eval(const struct xtap_port *port, __u32 dir, __u8 family,
					 const __u8 *remote, __u8 proto, __u8 l4_ports,
					 __u16 dport, __u32 len)
{
	const struct xtap_acl_conf *conf = &port->acl[dir & 1];
	struct xtap_acl_match *m = NULL;
	__u32 set = conf->set, n;
	int i;

	struct xtap_trace *t = xtap_trace_rec();

	if (t)
		t->acl_slot = XTAP_TRACE_ACL_DEFAULT;
	if (conf->rule_count == 0)
		goto dflt;
	if (family == 4) {
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
	n = m->n_first;

#pragma unroll
	for (i = 0; i < XTAP_ACL_INLINE; i++) {
		const struct xtap_acl_cand *c = &m->first[i];

		if (i >= n)
			goto dflt;
		if (xtap_acl_ports_match(c->proto, c->port_min, c->port_max, proto, l4_ports, dport)) {
			xtap_acl_count_hit(c->hit_slot, len);
			return c->action;
		}
	}
	if (m->n_more) {
		/* More candidates than come inline: the rest, in order, in a loop. */
		struct xtap_acl_walk w = {
			.bits = { m->rules[0], m->rules[1], m->rules[2], m->rules[3] },
			.set = set,
			.len = len,
			.skip = XTAP_ACL_INLINE,
			.dport = dport,
			.proto = proto,
			.l4_ports = l4_ports,
			.action = -1,
		};

		bpf_loop(XTAP_MAX_ACL_RULES, xtap_acl_step, &w, 0);
		if (w.action >= 0)
			return w.action;
	}
dflt:
	return conf->default_action;
}

/* The remote end of a frame: its destination leaving the VM, its source entering. */
static __always_inline const __u8 *xtap_acl_remote(__u32 dir, const struct xtap_flow *f)
{
	return dir == XTAP_DIR_FROM_VM ? f->daddr.v6 : f->saddr.v6;
}

#endif /* XTAP_ACL_H */
