// SPDX-License-Identifier: GPL-2.0
/*
 * ACL hit counters (bpf/acl.h): a rule's counter is the slot of
 * xtap_acl_hits its record names. The allocator (struct xtap_hit_slots) is
 * built from the ports' current ACL sets when first needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

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

	for (d = 0; sets && d < XTAP_DIRS; d++)
		xtap_acl_set_read(dp, p->acl[d].set, &sets[d]);
	return sets;
}

/* The slots in use are those of the live rules in the ports' current ACL sets. */
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
				if (xtap_acl_rule_live(&sets[d], i))
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
	int ret;

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
		ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_ACL_HITS), &s, zero);
		if (ret)
			return ret;
		slot_mark(hs, s);
		hs->next = (s + 1) % XTAP_MAX_TOTAL_ACL_RULES;
		*slot = s;
		return 0;
	}
	return -ENOSPC;
}

long xtap_hit_slot_of(const struct xtap_acl_set *sets, __u32 rule_id)
{
	__u32 d, i;

	for (d = 0; sets && d < XTAP_DIRS; d++)
		for (i = 0; i < sets[d].count; i++)
			if (sets[d].rules[i].rule_id == rule_id && xtap_acl_rule_live(&sets[d], i))
				return sets[d].rules[i].hit_slot;
	return -1;
}

struct id_slot {
	__u32 id, slot;
};

static int id_slot_cmp(const void *a, const void *b)
{
	const struct id_slot *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The live rules of the sets (XTAP_DIRS of them) by id, sorted; *n of them. */
static struct id_slot *ids_of_sets(const struct xtap_acl_set *sets, int *n)
{
	struct id_slot *v = malloc(XTAP_DIRS * XTAP_MAX_ACL_RULES * sizeof(*v));
	__u32 d, i;

	*n = 0;
	for (d = 0; v && sets && d < XTAP_DIRS; d++)
		for (i = 0; i < sets[d].count; i++)
			if (xtap_acl_rule_live(&sets[d], i)) {
				v[*n].id = sets[d].rules[i].rule_id;
				v[(*n)++].slot = sets[d].rules[i].hit_slot;
			}
	if (v)
		qsort(v, *n, sizeof(*v), id_slot_cmp);
	return v;
}

int xtap_hit_slots_assign(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
			  const struct xtap_acl_set *cur, __u32 slots[XTAP_DIRS][XTAP_MAX_ACL_RULES],
			  __u32 *fresh, int *n_fresh, struct xtap_err *err)
{
	struct id_slot *old, key;
	int d, i, n_old, ret;

	*n_fresh = 0;
	ret = hit_slots_build(dp);
	if (ret)
		return xtap_fail(err, ret, "reading which ACL hit slots are in use: %s", strerror(-ret));
	old = ids_of_sets(cur, &n_old);
	if (!old)
		return xtap_fail(err, -ENOMEM, "port %u: out of memory reading its ACL rules", s->port_id);
	for (d = 0; d < XTAP_DIRS; d++) {
		for (i = 0; i < s->acl[d].n_rules; i++) {
			const struct id_slot *kept;

			key.id = s->acl[d].rules[i].rule_id;
			kept = bsearch(&key, old, n_old, sizeof(*old), id_slot_cmp);
			if (kept) {
				slots[d][i] = kept->slot;
				continue;
			}
			ret = hit_slot_alloc(dp, &slots[d][i]);
			if (ret) {
				free(old);
				xtap_hit_slots_release(dp, fresh, *n_fresh);
				return xtap_map_fail(err, "xtap_acl_hits", ret);
			}
			fresh[(*n_fresh)++] = slots[d][i];
		}
	}
	free(old);
	return 0;
}

void xtap_hit_slots_release(const struct xtap_datapath *dp, const __u32 *slots, int n)
{
	int i;

	for (i = 0; i < n; i++)
		slot_release(dp->hit_slots, slots[i]);
}

void xtap_hit_slots_leaving(const struct xtap_datapath *dp, const struct xtap_acl_set *sets,
			    const struct xtap_port_spec *next)
{
	struct id_slot *kept = malloc(XTAP_DIRS * XTAP_MAX_ACL_RULES * sizeof(*kept)), key;
	__u32 d, i;
	int n = 0;

	if (!dp->hit_slots->built || !sets || !kept) {
		free(kept);
		return;
	}
	for (d = 0; next && d < XTAP_DIRS; d++)
		for (i = 0; i < next->acl[d].n_rules; i++)
			kept[n++].id = next->acl[d].rules[i].rule_id;
	qsort(kept, n, sizeof(*kept), id_slot_cmp);
	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < sets[d].count; i++) {
			key.id = sets[d].rules[i].rule_id;
			if (xtap_acl_rule_live(&sets[d], i) && !bsearch(&key, kept, n, sizeof(*kept), id_slot_cmp))
				slot_release(dp->hit_slots, sets[d].rules[i].hit_slot);
		}
	free(kept);
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
	slot = xtap_hit_slot_of(sets, rule_id);
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

void xtap_hit_slots_forget(const struct xtap_datapath *dp)
{
	dp->hit_slots->built = 0;
}
