// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "policy.h"

#define MAX_BYTES_PER_SEC   (400ULL * 1000 * 1000 * 1000 / 8)   /* 400 Gbit/s */
#define MAX_PACKETS_PER_SEC (1000ULL * 1000 * 1000)
#define NSEC_PER_SEC        1000000000ULL

static int map_fail(struct xtap_err *err, const char *what, int code)
{
	if (code == -E2BIG || code == -ENOSPC || code == -ENOMEM)
		return xtap_fail(err, code, "map %s is full: remove unused entries or raise the limit in include/xtap_abi.h",
			    what);
	return xtap_fail(err, code, "writing map %s failed: %s", what, strerror(-code));
}

/* ---- derived values ---- */

static __u64 div_round(unsigned __int128 a, __u64 b)
{
	return (__u64)((a + b / 2) / b);
}

void xtap_rate_conf_from_spec(struct xtap_rate_conf *rc, const struct xtap_rate_spec *rs)
{
	memset(rc, 0, sizeof(*rc));
	rc->bytes_per_sec = rs->bytes_per_sec;
	rc->packets_per_sec = rs->packets_per_sec;
	rc->burst_bytes = rs->burst_bytes;
	rc->burst_packets = rs->burst_packets;
	if (rs->bytes_per_sec) {
		rc->ns_per_byte_fp = div_round((unsigned __int128)NSEC_PER_SEC << XTAP_RATE_FP_SHIFT,
					       rs->bytes_per_sec);
		rc->burst_bytes_ns = div_round((unsigned __int128)rs->burst_bytes * NSEC_PER_SEC,
					       rs->bytes_per_sec);
	}
	if (rs->packets_per_sec) {
		rc->ns_per_packet_fp = div_round((unsigned __int128)NSEC_PER_SEC << XTAP_RATE_FP_SHIFT,
						 rs->packets_per_sec);
		rc->burst_packets_ns = div_round((unsigned __int128)rs->burst_packets * NSEC_PER_SEC,
						 rs->packets_per_sec);
	}
}

void xtap_ipv6_link_local(__u8 out[16], const __u8 mac[6])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

static int prefix_max_len(__u8 family)
{
	return family == 4 ? 32 : family == 6 ? 128 : 0;
}

/* Clears the host bits so equal prefixes compare equal. */
static void prefix_normalize(struct xtap_prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		int bits = p->prefixlen - i * 8;

		if (bits <= 0)
			p->addr[i] = 0;
		else if (bits < 8)
			p->addr[i] &= (__u8)(0xFF << (8 - bits));
	}
	if (bytes == 4)
		memset(p->addr + 4, 0, 12);
}

/* Does prefix a contain prefix b (same family)? */
static int prefix_contains(const struct xtap_prefix *a, const struct xtap_prefix *b)
{
	struct xtap_prefix t = *b;

	if (a->prefixlen > b->prefixlen)
		return 0;
	t.prefixlen = a->prefixlen;
	prefix_normalize(&t);
	return memcmp(t.addr, a->addr, 16) == 0;
}

/* ---- validation ---- */

static int validate_rate(const struct xtap_rate_spec *rs, const char *dir, struct xtap_err *err)
{
	if (rs->bytes_per_sec) {
		if (rs->bytes_per_sec > MAX_BYTES_PER_SEC)
			return xtap_fail(err, -EINVAL, "rate %s: %llu bytes/s is more than 400 Gbit/s", dir,
				    (unsigned long long)rs->bytes_per_sec);
		if (rs->burst_bytes < XTAP_MIN_BURST_BYTES)
			return xtap_fail(err, -EINVAL,
				    "rate %s: burst of %llu bytes is below %u: GSO frames up to 64 KiB would never pass",
				    dir, (unsigned long long)rs->burst_bytes, XTAP_MIN_BURST_BYTES);
	}
	if (rs->packets_per_sec) {
		if (rs->packets_per_sec > MAX_PACKETS_PER_SEC)
			return xtap_fail(err, -EINVAL, "rate %s: %llu packets/s is more than 1e9", dir,
				    (unsigned long long)rs->packets_per_sec);
		if (rs->burst_packets < 1)
			return xtap_fail(err, -EINVAL, "rate %s: packet burst must be at least 1", dir);
	}
	return 0;
}

static int validate_prefix(const struct xtap_prefix *p, int any_ok, const char *what,
			   struct xtap_err *err)
{
	if (p->family == 0 && any_ok && p->prefixlen == 0)
		return 0;
	if (p->family != 4 && p->family != 6)
		return xtap_fail(err, -EINVAL, "%s: address family must be IPv4 or IPv6", what);
	if (p->prefixlen > prefix_max_len(p->family))
		return xtap_fail(err, -EINVAL, "%s: prefix length %u is longer than /%d", what, p->prefixlen,
			    prefix_max_len(p->family));
	return 0;
}

static int validate_acl(const struct xtap_acl_spec *acl, const char *dir, struct xtap_err *err)
{
	int i, j, ret;
	char what[64];

	if (acl->default_action > XTAP_ACL_ALLOW)
		return xtap_fail(err, -EINVAL, "acl %s: default must be allow or deny", dir);
	if (acl->n_rules > XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "acl %s: %u rules, at most %d per port and direction", dir,
			    acl->n_rules, XTAP_MAX_ACL_RULES);
	for (i = 0; i < acl->n_rules; i++) {
		const struct xtap_acl_rule_spec *r = &acl->rules[i];
		int ports = !(r->port_min == 0 && r->port_max == 0xFFFF);

		snprintf(what, sizeof(what), "acl %s rule %u", dir, r->rule_id);
		ret = validate_prefix(&r->cidr, 1, what, err);
		if (ret)
			return ret;
		if (r->action > XTAP_ACL_ALLOW)
			return xtap_fail(err, -EINVAL, "%s: action must be allow or deny", what);
		if (r->port_min > r->port_max)
			return xtap_fail(err, -EINVAL, "%s: port range %u-%u is reversed", what, r->port_min,
				    r->port_max);
		if (ports && r->proto && r->proto != 6 && r->proto != 17 && r->proto != 132)
			return xtap_fail(err, -EINVAL, "%s: ports need tcp, udp or sctp (protocol %u has none)",
				    what, r->proto);
		for (j = 0; j < i; j++)
			if (acl->rules[j].rule_id == r->rule_id)
				return xtap_fail(err, -EEXIST, "%s: rule id used twice", what);
	}
	return 0;
}

static int validate_port(const struct xtap_port_spec *s, struct xtap_err *err)
{
	int n4 = 0, n6 = 0, i, ret;

	if (s->port_id >= XTAP_MAX_PORTS)
		return xtap_fail(err, -EINVAL, "port id %u: must be below %d", s->port_id, XTAP_MAX_PORTS);
	if (!s->ifindex)
		return xtap_fail(err, -EINVAL, "port %u: no interface", s->port_id);
	if ((s->mac[0] & 1) || !(s->mac[0] | s->mac[1] | s->mac[2] | s->mac[3] | s->mac[4] | s->mac[5]))
		return xtap_fail(err, -EINVAL, "port %u: MAC must be unicast and not zero", s->port_id);
	if (s->mtu < 68 || s->mtu > 65521)
		return xtap_fail(err, -EINVAL, "port %u: MTU %u outside 68-65521", s->port_id, s->mtu);
	if (s->flags & ~(XTAP_PORT_F_ALLOW_DHCP_SERVER | XTAP_PORT_F_ALLOW_ROUTER))
		return xtap_fail(err, -EINVAL, "port %u: unknown flags 0x%x", s->port_id, s->flags);
	if (s->n_addrs > 2 * XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "port %u: too many addresses", s->port_id);
	for (i = 0; i < s->n_addrs; i++) {
		ret = validate_prefix(&s->addrs[i], 0, "address", err);
		if (ret)
			return ret;
		if (s->addrs[i].family == 4)
			n4++;
		else
			n6++;
	}
	if (n4 > XTAP_MAX_PORT_ADDRS || n6 + 1 > XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "port %u: at most %d addresses per family (IPv6 includes the link-local)",
			    s->port_id, XTAP_MAX_PORT_ADDRS);
	ret = validate_acl(&s->acl[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_acl(&s->acl[XTAP_DIR_TO_VM], "to-vm", err);
	/* A hit counter follows its rule id across policy changes: ids are unique across directions too. */
	for (i = 0; !ret && i < s->acl[XTAP_DIR_FROM_VM].n_rules; i++) {
		int j;

		for (j = 0; j < s->acl[XTAP_DIR_TO_VM].n_rules; j++)
			if (s->acl[XTAP_DIR_TO_VM].rules[j].rule_id == s->acl[XTAP_DIR_FROM_VM].rules[i].rule_id)
				return xtap_fail(err, -EEXIST, "acl rule id %u is used in both directions",
					    s->acl[XTAP_DIR_FROM_VM].rules[i].rule_id);
	}
	if (!ret)
		ret = validate_rate(&s->rate[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_rate(&s->rate[XTAP_DIR_TO_VM], "to-vm", err);
	return ret;
}

/* ---- sets (address and ACL), keyed by set id ---- */

static __u32 addr_set_id(__u32 port_id, __u32 gen)
{
	return port_id * XTAP_POLICY_GENS + gen;
}

static __u32 acl_set_id(__u32 port_id, __u32 gen, __u32 dir)
{
	return addr_set_id(port_id, gen) * XTAP_DIRS + dir;
}

typedef int (*key_pred)(const void *key, const void *ctx);

/*
 * Deletes every key of a map the predicate selects. Keys are collected
 * first: deleting while walking would restart the walk.
 */
static int delete_keys_if(int fd, size_t key_size, key_pred pred, const void *ctx)
{
	size_t cap = 64, n = 0, i;
	char *keys = malloc(cap * key_size);
	char prev[64], next[64];
	int have_prev = 0, err = 0;

	if (!keys)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, have_prev ? prev : NULL, next) == 0) {
		if (pred(next, ctx)) {
			if (n == cap) {
				char *grown = realloc(keys, 2 * cap * key_size);

				if (!grown) {
					err = -ENOMEM;
					break;
				}
				keys = grown;
				cap *= 2;
			}
			memcpy(keys + n++ * key_size, next, key_size);
		}
		memcpy(prev, next, key_size);
		have_prev = 1;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
	free(keys);
	return err;
}

struct u32_at {
	size_t off;
	__u32 value;
};

static int key_has_u32_at(const void *key, const void *ctx)
{
	const struct u32_at *m = ctx;
	__u32 v;

	memcpy(&v, (const char *)key + m->off, sizeof(v));
	return v == m->value;
}

static int lpm_write(const struct xtap_datapath *dp, int family, enum xtap_map_id map4,
		     enum xtap_map_id map6, __u32 set, const struct xtap_prefix *p,
		     const void *value)
{
	int ret;

	if (family == 4) {
		struct xtap_ip4_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(&k.addr, p->addr, 4);
		ret = bpf_map_update_elem(xtap_map_fd(dp, map4), &k, value, BPF_ANY);
	} else {
		struct xtap_ip6_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(k.addr, p->addr, 16);
		ret = bpf_map_update_elem(xtap_map_fd(dp, map6), &k, value, BPF_ANY);
	}
	return ret ? -errno : 0;
}

static void lpm_delete(const struct xtap_datapath *dp, int family, enum xtap_map_id map4,
		       enum xtap_map_id map6, __u32 set, const struct xtap_prefix *p)
{
	if (family == 4) {
		struct xtap_ip4_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(&k.addr, p->addr, 4);
		bpf_map_delete_elem(xtap_map_fd(dp, map4), &k);
	} else {
		struct xtap_ip6_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(k.addr, p->addr, 16);
		bpf_map_delete_elem(xtap_map_fd(dp, map6), &k);
	}
}

/* The port's allowed prefixes, normalized, the EUI-64 link-local first. */
static int addr_set_of(const struct xtap_port_spec *s, struct xtap_addr_set *rec)
{
	int i;

	memset(rec, 0, sizeof(*rec));
	rec->addrs[0].family = 6;
	rec->addrs[0].prefixlen = 128;
	xtap_ipv6_link_local(rec->addrs[0].addr, s->mac);
	for (i = 0; i < s->n_addrs; i++) {
		struct xtap_prefix p = s->addrs[i];

		prefix_normalize(&p);
		rec->addrs[i + 1].family = p.family;
		rec->addrs[i + 1].prefixlen = p.prefixlen;
		memcpy(rec->addrs[i + 1].addr, p.addr, 16);
	}
	rec->count = s->n_addrs + 1;
	return 0;
}

static struct xtap_prefix prefix_of_rec(const struct xtap_prefix_rec *r)
{
	struct xtap_prefix p = { .family = r->family, .prefixlen = r->prefixlen };

	memcpy(p.addr, r->addr, 16);
	return p;
}

/* The set's first host addresses go into the port entry (anti-spoofing's fast path). */
static void port_hosts_of(const struct xtap_addr_set *rec, struct xtap_port *p)
{
	__u32 i;

	for (i = 0; i < rec->count; i++) {
		const struct xtap_prefix_rec *r = &rec->addrs[i];

		if (r->family == 4 && r->prefixlen == 32 && p->host4_count < XTAP_PORT_HOST4)
			memcpy(&p->host4[p->host4_count++], r->addr, 4);
		else if (r->family == 4)
			p->addr_flags |= XTAP_PORT_ADDR_F_TRIE4;
		else if (r->prefixlen == 128 && p->host6_count < XTAP_PORT_HOST6)
			memcpy(p->host6[p->host6_count++], r->addr, 16);
		else
			p->addr_flags |= XTAP_PORT_ADDR_F_TRIE6;
	}
}

/* The record goes in before the entries: deleting by it always finds them all. */
static int write_addrs(const struct xtap_datapath *dp, const struct xtap_port_spec *s, __u32 set,
		       struct xtap_port *port, struct xtap_err *err)
{
	struct xtap_addr_set *rec = malloc(sizeof(*rec));
	__u32 i;
	int ret = 0;

	if (!rec)
		return -ENOMEM;
	addr_set_of(s, rec);
	port_hosts_of(rec, port);
	if (bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set, rec, BPF_ANY))
		ret = map_fail(err, "xtap_addr_sets", -errno);
	for (i = 0; i < rec->count && !ret; i++) {
		struct xtap_prefix p = prefix_of_rec(&rec->addrs[i]);
		struct xtap_addr_entry v = { .prefixlen = p.prefixlen };

		ret = lpm_write(dp, p.family, XTAP_MAP_ADDR4, XTAP_MAP_ADDR6, set, &p, &v);
		if (ret)
			ret = map_fail(err, p.family == 4 ? "xtap_addr4" : "xtap_addr6", ret);
	}
	free(rec);
	return ret;
}

static void delete_addrs(const struct xtap_datapath *dp, __u32 set)
{
	struct xtap_addr_set *rec = malloc(sizeof(*rec));
	__u32 i;

	if (rec && !bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set, rec)) {
		for (i = 0; i < rec->count && i < 2 * XTAP_MAX_PORT_ADDRS; i++) {
			struct xtap_prefix p = prefix_of_rec(&rec->addrs[i]);

			lpm_delete(dp, p.family, XTAP_MAP_ADDR4, XTAP_MAP_ADDR6, set, &p);
		}
		bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set);
	}
	free(rec);
}

struct ranked_rule {
	const struct xtap_acl_rule_spec *r;
	int index;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct ranked_rule *x = a, *y = b;

	if (x->r->priority != y->r->priority)
		return x->r->priority < y->r->priority ? -1 : 1;
	return x->index - y->index;
}

/* The rule's address as a prefix of family fam, or 0 when it does not apply to fam. */
static int rule_prefix(const struct xtap_acl_rule_spec *r, int fam, struct xtap_prefix *out)
{
	if (r->cidr.family == 0) {
		memset(out, 0, sizeof(*out));
		out->family = fam;
		return 1;
	}
	if (r->cidr.family != fam)
		return 0;
	*out = r->cidr;
	prefix_normalize(out);
	return 1;
}

static struct xtap_acl_rule_spec spec_of_rule(const struct xtap_acl_rule *r)
{
	struct xtap_acl_rule_spec s = {
		.rule_id = r->rule_id, .priority = r->priority, .action = r->action, .proto = r->proto,
		.port_min = r->port_min, .port_max = r->port_max,
		.cidr = { .family = r->family, .prefixlen = r->prefixlen },
	};

	memcpy(s.cidr.addr, r->addr, 16);
	return s;
}

/* Deletes an ACL set: its LPM prefixes, found from its rules, then the rules. */
static void delete_acl(const struct xtap_datapath *dp, __u32 set)
{
	struct xtap_acl_set *rs = malloc(sizeof(*rs));
	__u32 i;
	int fam;

	if (rs && !bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, rs)) {
		for (i = 0; i < rs->count && i < XTAP_MAX_ACL_RULES; i++) {
			struct xtap_acl_rule_spec r = spec_of_rule(&rs->rules[i]);
			struct xtap_prefix p;

			for (fam = 4; fam <= 6; fam += 2)
				if (rule_prefix(&r, fam, &p))
					lpm_delete(dp, fam, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &p);
		}
		bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set);
	}
	free(rs);
}

static void delete_gen(const struct xtap_datapath *dp, __u32 port_id, __u32 gen)
{
	__u32 dir;

	delete_addrs(dp, addr_set_id(port_id, gen));
	for (dir = 0; dir < XTAP_DIRS; dir++)
		delete_acl(dp, acl_set_id(port_id, gen, dir));
}

/*
 * Writes one ACL set: the rules by rank, and for every distinct rule prefix
 * the bitmap of ranks whose prefix contains it, the first of those rules
 * copied (struct xtap_acl_match).
 */
static int write_acl(const struct xtap_datapath *dp, const struct xtap_acl_spec *acl, __u32 set,
		     const __u32 *slots, struct xtap_err *err)
{
	struct ranked_rule rk[XTAP_MAX_ACL_RULES];
	int n = acl->n_rules, i, j, fam, ret;
	struct xtap_acl_set *rs;

	for (i = 0; i < n; i++) {
		rk[i].r = &acl->rules[i];
		rk[i].index = i;
	}
	qsort(rk, n, sizeof(rk[0]), rank_cmp);

	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->count = n;
	for (i = 0; i < n; i++) {
		const struct xtap_acl_rule_spec *r = rk[i].r;
		struct xtap_acl_rule *v = &rs->rules[i];

		v->rule_id = r->rule_id;
		v->hit_slot = slots[rk[i].index];
		v->priority = r->priority;
		v->action = r->action;
		v->proto = r->proto;
		v->port_min = r->port_min;
		v->port_max = r->port_max;
		v->family = r->cidr.family;
		v->prefixlen = r->cidr.prefixlen;
		memcpy(v->addr, r->cidr.addr, 16);
	}
	/* The set goes in before its prefixes: deleting by it always finds them all. */
	ret = bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, rs, BPF_ANY) ? -errno : 0;
	free(rs);
	if (ret)
		return map_fail(err, "xtap_acl_rules", ret);

	for (fam = 4; fam <= 6; fam += 2) {
		for (i = 0; i < n; i++) {
			struct xtap_prefix p, q, prev;
			struct xtap_acl_match m = {};
			int seen = 0;

			if (!rule_prefix(rk[i].r, fam, &p))
				continue;
			for (j = 0; j < i && !seen; j++)
				seen = rule_prefix(rk[j].r, fam, &prev) && prev.prefixlen == p.prefixlen &&
				       !memcmp(prev.addr, p.addr, 16);
			if (seen)
				continue;
			for (j = 0; j < n; j++) {
				const struct xtap_acl_rule_spec *r = rk[j].r;
				struct xtap_acl_cand *c = &m.first[m.n_first];

				if (!rule_prefix(r, fam, &q) || !prefix_contains(&q, &p))
					continue;
				m.rules[j / 64] |= 1ULL << (j % 64);
				if (m.n_first == XTAP_ACL_INLINE) {
					m.n_more++;
					continue;
				}
				c->hit_slot = slots[rk[j].index];
				c->port_min = r->port_min;
				c->port_max = r->port_max;
				c->action = r->action;
				c->proto = r->proto;
				m.n_first++;
			}
			ret = lpm_write(dp, fam, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &p, &m);
			if (ret)
				return map_fail(err, fam == 4 ? "xtap_acl4" : "xtap_acl6", ret);
		}
	}
	return 0;
}

static int spec_has_rule(const struct xtap_port_spec *s, __u32 rule_id)
{
	int d, i;

	for (d = 0; s && d < XTAP_DIRS; d++)
		for (i = 0; i < s->acl[d].n_rules; i++)
			if (s->acl[d].rules[i].rule_id == rule_id)
				return 1;
	return 0;
}

/* ---- ACL hit counter slots (struct xtap_hit_slots) ---- */

static int slot_used(const struct xtap_hit_slots *hs, __u32 slot)
{
	return (hs->bits[slot / 64] >> (slot % 64)) & 1;
}

static void slot_mark(struct xtap_hit_slots *hs, __u32 slot)
{
	if (slot < XTAP_MAX_TOTAL_ACL_RULES && !slot_used(hs, slot)) {
		hs->bits[slot / 64] |= 1ULL << (slot % 64);
		hs->used++;
	}
}

static void slot_release(struct xtap_hit_slots *hs, __u32 slot)
{
	if (slot < XTAP_MAX_TOTAL_ACL_RULES && slot_used(hs, slot)) {
		hs->bits[slot / 64] &= ~(1ULL << (slot % 64));
		hs->used--;
	}
}

/*
 * The ACL sets the port's entry names (an empty one where a set is missing),
 * in a buffer of XTAP_DIRS sets to free(); NULL when out of memory.
 */
static struct xtap_acl_set *port_acl_sets(const struct xtap_datapath *dp, const struct xtap_port *p)
{
	struct xtap_acl_set *sets = malloc(XTAP_DIRS * sizeof(*sets));
	__u32 d;

	for (d = 0; sets && d < XTAP_DIRS; d++) {
		if (!p || bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &p->acl[d].set, &sets[d]))
			sets[d].count = 0;
		if (sets[d].count > XTAP_MAX_ACL_RULES)
			sets[d].count = XTAP_MAX_ACL_RULES;
	}
	return sets;
}

/*
 * The slots in use are those of the rules in the ports' current ACL sets
 * (a generation no port names is deleted before it is written again).
 */
static int hit_slots_build(const struct xtap_datapath *dp)
{
	struct xtap_hit_slots *hs = dp->hit_slots;
	int fd = xtap_map_fd(dp, XTAP_MAP_PORTS);
	__u32 key, next, *cur = NULL, d, i;
	struct xtap_acl_set *sets;
	struct xtap_port p;

	if (hs->built)
		return 0;
	memset(hs, 0, sizeof(*hs));
	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		key = next;
		cur = &key;
		if (bpf_map_lookup_elem(fd, &key, &p))
			continue;
		sets = port_acl_sets(dp, &p);
		if (!sets)
			return -ENOMEM;
		for (d = 0; d < XTAP_DIRS; d++)
			for (i = 0; i < sets[d].count; i++)
				slot_mark(hs, sets[d].rules[i].hit_slot);
		free(sets);
	}
	hs->built = 1;
	return 0;
}

/* Takes a free slot and zeroes its counters (a rule that was deleted may have left some). */
static int hit_slot_alloc(const struct xtap_datapath *dp, __u32 *slot)
{
	struct xtap_hit_slots *hs = dp->hit_slots;
	unsigned int ncpu = libbpf_num_possible_cpus();
	struct xtap_counter zero[ncpu];
	__u32 n, s;

	if (hs->used >= XTAP_MAX_TOTAL_ACL_RULES)
		return -ENOSPC;
	for (n = 0; n < XTAP_MAX_TOTAL_ACL_RULES; n++) {
		s = (hs->next + n) % XTAP_MAX_TOTAL_ACL_RULES;
		if (hs->bits[s / 64] == ~0ULL) {
			n += 63 - s % 64;   /* the rest of a full word */
			continue;
		}
		if (slot_used(hs, s))
			continue;
		memset(zero, 0, sizeof(zero));
		if (bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_ACL_HITS), &s, zero, BPF_ANY))
			return -errno;
		slot_mark(hs, s);
		hs->next = (s + 1) % XTAP_MAX_TOTAL_ACL_RULES;
		*slot = s;
		return 0;
	}
	return -ENOSPC;
}

/* The slot of rule rule_id in the sets, or -1. */
static long find_slot(const struct xtap_acl_set *sets, __u32 rule_id)
{
	__u32 d, i;

	for (d = 0; sets && d < XTAP_DIRS; d++)
		for (i = 0; i < sets[d].count; i++)
			if (sets[d].rules[i].rule_id == rule_id)
				return sets[d].rules[i].hit_slot;
	return -1;
}

/*
 * The hit slot of every rule of s, by direction and spec index: a rule the
 * port's current sets (cur) have keeps its slot and counts, a new one gets
 * a zeroed slot, listed in fresh so a failed write can give it back.
 */
static int assign_hit_slots(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
			    const struct xtap_acl_set *cur, __u32 slots[XTAP_DIRS][XTAP_MAX_ACL_RULES],
			    __u32 *fresh, int *n_fresh, struct xtap_err *err)
{
	int d, i, ret;
	long old;

	*n_fresh = 0;
	ret = hit_slots_build(dp);
	if (ret)
		return xtap_fail(err, ret, "reading which ACL hit slots are in use: %s", strerror(-ret));
	for (d = 0; d < XTAP_DIRS; d++) {
		for (i = 0; i < s->acl[d].n_rules; i++) {
			old = find_slot(cur, s->acl[d].rules[i].rule_id);
			if (old >= 0) {
				slots[d][i] = old;
				continue;
			}
			ret = hit_slot_alloc(dp, &slots[d][i]);
			if (ret)
				return map_fail(err, "xtap_acl_hits", ret);
			fresh[(*n_fresh)++] = slots[d][i];
		}
	}
	return 0;
}

/* Gives back the slots of the rules in sets (the port's old ones) that next no longer has (NULL: all). */
static void release_hit_slots(const struct xtap_datapath *dp, const struct xtap_acl_set *sets,
			      const struct xtap_port_spec *next)
{
	__u32 d, i;

	if (!dp->hit_slots->built || !sets)
		return;
	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < sets[d].count; i++)
			if (!spec_has_rule(next, sets[d].rules[i].rule_id))
				slot_release(dp->hit_slots, sets[d].rules[i].hit_slot);
}

int xtap_acl_hits_read(const struct xtap_datapath *dp, __u32 ifindex, __u32 rule_id,
		       struct xtap_counter *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct xtap_counter v[ncpu];
	struct xtap_acl_set *sets;
	struct xtap_port p;
	long slot;
	__u32 k;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex, &p))
		return -ENOENT;
	sets = port_acl_sets(dp, &p);
	if (!sets)
		return -ENOMEM;
	slot = find_slot(sets, rule_id);
	free(sets);
	if (slot < 0)
		return -ENOENT;
	k = slot;
	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_HITS), &k, v))
		return -errno;
	for (c = 0; c < ncpu; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
	}
	return 0;
}

/* ---- segments and membership ---- */

static int flood_map_fd(const struct xtap_datapath *dp, __u32 segment_id)
{
	__u32 inner_id;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_FLOOD), &segment_id, &inner_id))
		return -errno;
	return bpf_map_get_fd_by_id(inner_id);
}

static int devmap_add(int fd, __u32 ifindex, int prog_fd)
{
	struct bpf_devmap_val v = { .ifindex = ifindex, .bpf_prog.fd = prog_fd };

	return bpf_map_update_elem(fd, &ifindex, &v, BPF_ANY) ? -errno : 0;
}

int xtap_segment_write(const struct xtap_datapath *dp, __u32 segment_id,
		       const struct xtap_segment *seg, struct xtap_err *err)
{
	int seg_fd = xtap_map_fd(dp, XTAP_MAP_SEGMENTS), upl_fd = xtap_map_fd(dp, XTAP_MAP_UPLINKS);
	struct xtap_uplink_vlan_key uk = { .ifindex = seg->uplink_ifindex, .vlan = seg->vlan };
	struct xtap_segment old;
	int has_old, flood_fd, ret;
	__u32 other;

	if (seg->vlan > 4094)
		return xtap_fail(err, -EINVAL, "segment %u: VLAN %u outside 0-4094", segment_id, seg->vlan);
	if (seg->vlan && !seg->uplink_ifindex)
		return xtap_fail(err, -EINVAL, "segment %u: a VLAN needs an uplink", segment_id);
	if (seg->flags & ~XTAP_SEGMENT_F_FLOOD_HOST)
		return xtap_fail(err, -EINVAL, "segment %u: unknown flags 0x%x", segment_id, seg->flags);
	if (seg->uplink_ifindex && !bpf_map_lookup_elem(upl_fd, &uk, &other) && other != segment_id)
		return xtap_fail(err, -EEXIST, "segment %u: uplink ifindex %u VLAN %u already carries segment %u",
			    segment_id, seg->uplink_ifindex, seg->vlan, other);
	has_old = !bpf_map_lookup_elem(seg_fd, &segment_id, &old);

	flood_fd = flood_map_fd(dp, segment_id);
	if (flood_fd < 0) {
		LIBBPF_OPTS(bpf_map_create_opts, o);
		int outer = xtap_map_fd(dp, XTAP_MAP_FLOOD);

		flood_fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "xtap_flood_seg", sizeof(__u32),
					  sizeof(struct bpf_devmap_val), XTAP_MAX_SEGMENT_PORTS + 1, &o);
		if (flood_fd < 0)
			return map_fail(err, "xtap_flood (inner devmap)", -errno);
		if (bpf_map_update_elem(outer, &segment_id, &flood_fd, BPF_ANY)) {
			ret = map_fail(err, "xtap_flood", -errno);
			close(flood_fd);
			return ret;
		}
	}

	if (has_old && old.uplink_ifindex &&
	    (old.uplink_ifindex != seg->uplink_ifindex || old.vlan != seg->vlan)) {
		struct xtap_uplink_vlan_key ok = { .ifindex = old.uplink_ifindex, .vlan = old.vlan };

		bpf_map_delete_elem(upl_fd, &ok);
		if (old.uplink_ifindex != seg->uplink_ifindex)
			bpf_map_delete_elem(flood_fd, &old.uplink_ifindex);
	}
	if (seg->uplink_ifindex) {
		int prog = xtap_prog_fd(dp, XTAP_PROG_TO_UPLINK_DEVMAP);

		ret = devmap_add(xtap_map_fd(dp, XTAP_MAP_REDIRECT), seg->uplink_ifindex, prog);
		if (!ret)
			ret = devmap_add(flood_fd, seg->uplink_ifindex, prog);
		if (!ret && bpf_map_update_elem(upl_fd, &uk, &segment_id, BPF_ANY))
			ret = -errno;
		if (ret) {
			close(flood_fd);
			return xtap_fail(err, ret, "segment %u: adding uplink ifindex %u failed: %s (is it an Ethernet device that is up?)",
				    segment_id, seg->uplink_ifindex, strerror(-ret));
		}
	}
	close(flood_fd);
	if (bpf_map_update_elem(seg_fd, &segment_id, seg, BPF_ANY))
		return map_fail(err, "xtap_segments", -errno);
	return 0;
}

int xtap_segment_delete(const struct xtap_datapath *dp, __u32 segment_id, struct xtap_err *err)
{
	struct u32_at in_segment = { .off = 0, .value = segment_id };
	struct xtap_segment_ports sp;
	struct xtap_segment seg;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &segment_id, &seg))
		return xtap_fail(err, -ENOENT, "segment %u does not exist", segment_id);
	if (!bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), &segment_id, &sp) && sp.count)
		return xtap_fail(err, -EBUSY, "segment %u still has %u ports: delete them first", segment_id,
			    sp.count);
	if (seg.uplink_ifindex) {
		struct xtap_uplink_vlan_key uk = { .ifindex = seg.uplink_ifindex, .vlan = seg.vlan };

		bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_UPLINKS), &uk);
	}
	/* Host MACs of the segment. */
	delete_keys_if(xtap_map_fd(dp, XTAP_MAP_FDB), sizeof(struct xtap_fdb_key), key_has_u32_at,
		       &in_segment);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), &segment_id);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_FLOOD), &segment_id);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &segment_id);
	return 0;
}

static void seg_ports_remove(const struct xtap_datapath *dp, __u32 segment_id, __u32 ifindex)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_SEG_PORTS);
	struct xtap_segment_ports sp;
	__u32 i;

	if (bpf_map_lookup_elem(fd, &segment_id, &sp))
		return;
	for (i = 0; i < sp.count; i++) {
		if (sp.ifindex[i] == ifindex) {
			sp.ifindex[i] = sp.ifindex[--sp.count];
			break;
		}
	}
	bpf_map_update_elem(fd, &segment_id, &sp, BPF_ANY);
}

static void membership_remove(const struct xtap_datapath *dp, const struct xtap_port *p)
{
	struct xtap_fdb_key fk = { .segment_id = p->segment_id };
	int flood_fd = flood_map_fd(dp, p->segment_id);

	memcpy(fk.mac, p->mac, 6);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_FDB), &fk);
	if (flood_fd >= 0) {
		bpf_map_delete_elem(flood_fd, &p->ifindex);
		close(flood_fd);
	}
	seg_ports_remove(dp, p->segment_id, p->ifindex);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_REDIRECT), &p->ifindex);
}

static int membership_add(const struct xtap_datapath *dp, const struct xtap_port *p,
			  struct xtap_err *err)
{
	int sp_fd = xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), prog = xtap_prog_fd(dp, XTAP_PROG_TO_VM_DEVMAP);
	struct xtap_fdb_key fk = { .segment_id = p->segment_id };
	struct xtap_fdb_entry fe = { .ifindex = p->ifindex, .port_id = p->port_id, .mtu = p->mtu };
	struct xtap_segment_ports sp = {};
	int flood_fd, ret;
	__u32 i;

	ret = devmap_add(xtap_map_fd(dp, XTAP_MAP_REDIRECT), p->ifindex, prog);
	if (ret)
		return xtap_fail(err, ret, "port %u: adding ifindex %u to xtap_redirect failed: %s",
			    p->port_id, p->ifindex, strerror(-ret));
	flood_fd = flood_map_fd(dp, p->segment_id);
	if (flood_fd < 0)
		return xtap_fail(err, flood_fd, "segment %u has no flood map: write the segment first",
			    p->segment_id);
	ret = devmap_add(flood_fd, p->ifindex, prog);
	close(flood_fd);
	if (ret)
		return map_fail(err, "xtap_flood (inner devmap)", ret);

	bpf_map_lookup_elem(sp_fd, &p->segment_id, &sp);
	for (i = 0; i < sp.count && sp.ifindex[i] != p->ifindex; i++)
		;
	if (i == sp.count) {
		if (sp.count >= XTAP_MAX_SEGMENT_PORTS)
			return xtap_fail(err, -E2BIG, "segment %u already has %d ports", p->segment_id,
				    XTAP_MAX_SEGMENT_PORTS);
		sp.ifindex[sp.count++] = p->ifindex;
		if (bpf_map_update_elem(sp_fd, &p->segment_id, &sp, BPF_ANY))
			return map_fail(err, "xtap_seg_ports", -errno);
	}
	memcpy(fk.mac, p->mac, 6);
	if (bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_FDB), &fk, &fe, BPF_ANY))
		return map_fail(err, "xtap_fdb", -errno);
	return 0;
}

/* A changed limit starts afresh: debt run up under the old rate must not hold back the new one. */
static int reset_rate_state(const struct xtap_datapath *dp, __u32 port_id, __u32 dir)
{
	struct xtap_rate_state rs = {};
	__u32 idx = port_id * XTAP_DIRS + dir;

	return bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_RATE_STATE), &idx, &rs, BPF_ANY) ? -errno : 0;
}

/* Zeroes the per-port arrays a previous port with the same id left behind. */
static int reset_port_state(const struct xtap_datapath *dp, __u32 port_id)
{
	unsigned int ncpu = libbpf_num_possible_cpus();
	struct xtap_port_stats *zero = calloc(ncpu, sizeof(*zero));
	struct xtap_rate_state rs = {};
	__u32 i, idx;
	int ret = 0;

	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_PORT_STATS), &port_id, zero, BPF_ANY))
		ret = -errno;
	for (i = 0; i < XTAP_DIRS && !ret; i++) {
		idx = port_id * XTAP_DIRS + i;
		if (bpf_map_update_elem(xtap_map_fd(dp, XTAP_MAP_RATE_STATE), &idx, &rs, BPF_ANY))
			ret = -errno;
	}
	free(zero);
	return ret;
}

static int port_id_taken(const struct xtap_datapath *dp, __u32 port_id, __u32 ifindex)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_PORTS);
	__u32 key, next, *cur = NULL;
	struct xtap_port p;

	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		if (next != ifindex && !bpf_map_lookup_elem(fd, &next, &p) && p.port_id == port_id)
			return 1;
		key = next;
		cur = &key;
	}
	return 0;
}

int xtap_port_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
		    struct xtap_err *err)
{
	int ports_fd = xtap_map_fd(dp, XTAP_MAP_PORTS);
	struct xtap_fdb_key fk = { .segment_id = s->segment_id };
	struct xtap_fdb_entry fe;
	struct xtap_segment seg;
	struct xtap_port old, p = {};
	struct xtap_acl_set *cur = NULL;
	__u32 gen, dir, slots[XTAP_DIRS][XTAP_MAX_ACL_RULES], fresh[XTAP_DIRS * XTAP_MAX_ACL_RULES];
	int has_old, ret, n_fresh = 0, i;

	ret = validate_port(s, err);
	if (ret)
		return ret;
	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &s->segment_id, &seg))
		return xtap_fail(err, -ENOENT, "port %u: segment %u does not exist: create it first",
			    s->port_id, s->segment_id);
	has_old = !bpf_map_lookup_elem(ports_fd, &s->ifindex, &old);
	if (has_old && old.port_id != s->port_id)
		return xtap_fail(err, -EEXIST, "ifindex %u already belongs to port %u", s->ifindex, old.port_id);
	if (!has_old && port_id_taken(dp, s->port_id, s->ifindex))
		return xtap_fail(err, -EEXIST, "port id %u is already in use", s->port_id);
	memcpy(fk.mac, s->mac, 6);
	if (!bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_FDB), &fk, &fe) && fe.ifindex != s->ifindex)
		return xtap_fail(err, -EEXIST, "port %u: MAC %02x:%02x:%02x:%02x:%02x:%02x is already used in segment %u",
			    s->port_id, s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5],
			    s->segment_id);

	/* Build the new policy under the generation frames are not using. */
	cur = port_acl_sets(dp, has_old ? &old : NULL);
	if (!cur)
		return xtap_fail(err, -ENOMEM, "port %u: out of memory reading its ACL sets", s->port_id);
	ret = assign_hit_slots(dp, s, cur, slots, fresh, &n_fresh, err);
	if (ret)
		goto fail;
	gen = has_old ? (old.addr_set % XTAP_POLICY_GENS) ^ 1 : 0;
	delete_gen(dp, s->port_id, gen);
	p.port_id = s->port_id;
	p.ifindex = s->ifindex;
	p.segment_id = s->segment_id;
	p.flags = s->flags;
	memcpy(p.mac, s->mac, 6);
	p.mtu = s->mtu;
	p.addr_set = addr_set_id(s->port_id, gen);
	ret = write_addrs(dp, s, p.addr_set, &p, err);
	for (dir = 0; dir < XTAP_DIRS && !ret; dir++) {
		p.acl[dir].set = acl_set_id(s->port_id, gen, dir);
		p.acl[dir].rule_count = s->acl[dir].n_rules;
		p.acl[dir].default_action = s->acl[dir].default_action;
		ret = write_acl(dp, &s->acl[dir], p.acl[dir].set, slots[dir], err);
		xtap_rate_conf_from_spec(&p.rate[dir], &s->rate[dir]);
	}
	if (!ret && !has_old && reset_port_state(dp, s->port_id))
		ret = map_fail(err, "xtap_port_stats", -errno);
	for (dir = 0; dir < XTAP_DIRS && !ret && has_old; dir++)
		if (memcmp(&old.rate[dir], &p.rate[dir], sizeof(p.rate[dir])))
			ret = reset_rate_state(dp, s->port_id, dir);
	if (ret) {
		delete_gen(dp, s->port_id, gen);
		goto fail;
	}

	/* The switch: one hash update, frames see the old port or the new one. */
	if (bpf_map_update_elem(ports_fd, &s->ifindex, &p, BPF_ANY)) {
		ret = map_fail(err, "xtap_ports", -errno);
		delete_gen(dp, s->port_id, gen);
		goto fail;
	}

	if (has_old && (old.segment_id != p.segment_id || memcmp(old.mac, p.mac, 6)))
		membership_remove(dp, &old);
	ret = membership_add(dp, &p, err);
	if (has_old) {
		release_hit_slots(dp, cur, s);
		delete_gen(dp, s->port_id, gen ^ 1);
	}
	free(cur);
	return ret;

fail:
	for (i = 0; i < n_fresh; i++)
		slot_release(dp->hit_slots, fresh[i]);
	free(cur);
	return ret;
}

int xtap_port_delete(const struct xtap_datapath *dp, __u32 ifindex, struct xtap_err *err)
{
	struct xtap_acl_set *sets;
	struct xtap_port old;
	__u32 gen;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex, &old))
		return xtap_fail(err, -ENOENT, "no port on ifindex %u", ifindex);
	sets = port_acl_sets(dp, &old);
	membership_remove(dp, &old);
	bpf_map_delete_elem(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex);
	release_hit_slots(dp, sets, NULL);
	free(sets);
	for (gen = 0; gen < XTAP_POLICY_GENS; gen++)
		delete_gen(dp, old.port_id, gen);
	return 0;
}

int xtap_fdb_host_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6],
			int add, struct xtap_err *err)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_FDB);
	struct xtap_fdb_key k = { .segment_id = segment_id };
	struct xtap_fdb_entry e = { .ifindex = XTAP_FDB_HOST };

	memcpy(k.mac, mac, 6);
	if (!add) {
		if (bpf_map_delete_elem(fd, &k))
			return xtap_fail(err, -ENOENT, "segment %u has no host MAC entry for that MAC", segment_id);
		return 0;
	}
	if (!bpf_map_lookup_elem(fd, &k, &e) && e.ifindex != XTAP_FDB_HOST)
		return xtap_fail(err, -EEXIST, "that MAC belongs to a port in segment %u", segment_id);
	e.ifindex = XTAP_FDB_HOST;
	e.port_id = 0;
	if (bpf_map_update_elem(fd, &k, &e, BPF_ANY))
		return map_fail(err, "xtap_fdb", -errno);
	return 0;
}
