// SPDX-License-Identifier: GPL-2.0
/*
 * ACL sets (bpf/acl.h): a set's rules by position in xtap_acl_rules, and
 * for every distinct rule prefix P an entry in the trie xtap_acl4/6: the
 * bitmap of the positions whose CIDR contains P, the first of those rules
 * copied (struct xtap_acl_match). Positions follow the priority order
 * wherever two rules' CIDRs overlap, which is all the programs need: they
 * only ever compare rules that one entry names together.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"

#define FAMS 2   /* index 0: IPv4, 1: IPv6 */

static int fam_of(int i)
{
	return i ? 6 : 4;
}

/* A set with each position's prefix per family worked out once. */
struct acl_view {
	const struct xtap_acl_set *set;
	__u8 has[FAMS][XTAP_MAX_ACL_RULES];
	struct xtap_prefix pfx[FAMS][XTAP_MAX_ACL_RULES];
};

/* The rule's CIDR as a normalized prefix of family fam; 0 when it does not apply to fam. */
static int rule_prefix(const struct xtap_acl_rule *r, int fam, struct xtap_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->family = fam;
	if (r->family == 0)
		return 1;      /* any address: /0 of both families */
	if (r->family != fam)
		return 0;
	out->prefixlen = r->prefixlen;
	memcpy(out->addr, r->addr, 16);
	xtap_prefix_normalize(out);
	return 1;
}

static void view_of(const struct xtap_acl_set *set, struct acl_view *v)
{
	__u32 i;
	int f;

	v->set = set;
	for (i = 0; i < set->count; i++)
		for (f = 0; f < FAMS; f++)
			v->has[f][i] = xtap_acl_rule_live(set, i) &&
				       rule_prefix(&set->rules[i], fam_of(f), &v->pfx[f][i]);
}

static int prefix_equal(const struct xtap_prefix *a, const struct xtap_prefix *b)
{
	return a->prefixlen == b->prefixlen && !memcmp(a->addr, b->addr, 16);
}

/* Is p (family index f) the prefix of one of the view's live rules? */
static int view_has_prefix(const struct acl_view *v, int f, const struct xtap_prefix *p)
{
	__u32 i;

	for (i = 0; i < v->set->count; i++)
		if (v->has[f][i] && prefix_equal(&v->pfx[f][i], p))
			return 1;
	return 0;
}

/* The trie value of prefix p: the live rules containing it, by position. */
static void match_of(const struct acl_view *v, int f, const struct xtap_prefix *p,
		     struct xtap_acl_match *m)
{
	__u32 i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < v->set->count; i++) {
		const struct xtap_acl_rule *r = &v->set->rules[i];
		struct xtap_acl_cand *c = &m->first[m->n_first];

		if (!v->has[f][i] || !xtap_prefix_contains(&v->pfx[f][i], p))
			continue;
		m->rules[i / 64] |= 1ULL << (i % 64);
		if (m->n_first == XTAP_ACL_INLINE) {
			m->n_more++;
			continue;
		}
		c->hit_slot = r->hit_slot;
		c->port_min = r->port_min;
		c->port_max = r->port_max;
		c->action = r->action;
		c->proto = r->proto;
		m->n_first++;
	}
}

struct ranked_rule {
	const struct xtap_acl_rule_spec *r;
	int index;
};

/* Priority order: by priority, then as given (insertion order). */
static int rank_cmp(const void *a, const void *b)
{
	const struct ranked_rule *x = a, *y = b;

	if (x->r->priority != y->r->priority)
		return x->r->priority < y->r->priority ? -1 : 1;
	return x->index - y->index;
}

static void rank_rules(const struct xtap_acl_spec *acl, struct ranked_rule *rk)
{
	int i;

	for (i = 0; i < acl->n_rules; i++) {
		rk[i].r = &acl->rules[i];
		rk[i].index = i;
	}
	qsort(rk, acl->n_rules, sizeof(rk[0]), rank_cmp);
}

static void record_of(const struct xtap_acl_rule_spec *r, __u32 hit_slot, __u16 rank,
		      struct xtap_acl_rule *v)
{
	memset(v, 0, sizeof(*v));
	v->rule_id = r->rule_id;
	v->hit_slot = hit_slot;
	v->priority = r->priority;
	v->action = r->action;
	v->proto = r->proto;
	v->port_min = r->port_min;
	v->port_max = r->port_max;
	v->family = r->cidr.family;
	v->prefixlen = r->cidr.prefixlen;
	memcpy(v->addr, r->cidr.addr, 16);
	v->rank = rank;
}

void xtap_acl_set_read(const struct xtap_datapath *dp, __u32 set, struct xtap_acl_set *out)
{
	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, out))
		out->count = 0;
	if (out->count > XTAP_MAX_ACL_RULES)
		out->count = XTAP_MAX_ACL_RULES;
}

int xtap_acl_write(const struct xtap_datapath *dp, const struct xtap_acl_spec *acl, __u32 set,
		   const __u32 *slots, struct xtap_err *err)
{
	struct ranked_rule rk[XTAP_MAX_ACL_RULES];
	struct xtap_acl_set *rs = calloc(1, sizeof(*rs));
	struct acl_view *v = malloc(sizeof(*v));
	int n = acl->n_rules, i, j, f, ret = -ENOMEM;

	if (!rs || !v)
		goto out;
	rank_rules(acl, rk);
	/*
	 * Spread over the positions, the last rule at the top: a rule added in
	 * place later, before a catch-all say, finds free positions below it.
	 */
	for (i = 0; i < XTAP_MAX_ACL_RULES; i++)
		rs->rules[i].rank = XTAP_ACL_RANK_FREE;
	for (i = 0; i < n; i++) {
		j = n == 1 ? 0 : i + (XTAP_MAX_ACL_RULES - n) * i / (n - 1);
		record_of(rk[i].r, slots[rk[i].index], i, &rs->rules[j]);
		rs->count = j + 1;
	}
	/* The set goes in before its prefixes: deleting by it always finds them all. */
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, rs);
	if (ret) {
		ret = xtap_map_fail(err, "xtap_acl_rules", ret);
		goto out;
	}
	view_of(rs, v);
	for (f = 0; f < FAMS && !ret; f++) {
		for (i = 0; i < (int)rs->count && !ret; i++) {
			struct xtap_acl_match m;
			int seen = 0;

			if (!v->has[f][i])
				continue;
			for (j = 0; j < i && !seen; j++)
				seen = v->has[f][j] && prefix_equal(&v->pfx[f][j], &v->pfx[f][i]);
			if (seen)
				continue;
			match_of(v, f, &v->pfx[f][i], &m);
			ret = xtap_lpm_write(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &v->pfx[f][i], &m);
			if (ret)
				ret = xtap_map_fail(err, f ? "xtap_acl6" : "xtap_acl4", ret);
		}
	}
out:
	free(rs);
	free(v);
	return ret;
}

/* ---- in place ---- */

/* Do two rules' CIDRs overlap (one contains the other), so that one trie entry can name both? */
static int rules_overlap(const struct acl_view *v, __u32 a, __u32 b)
{
	int f;

	for (f = 0; f < FAMS; f++)
		if (v->has[f][a] && v->has[f][b] &&
		    (xtap_prefix_contains(&v->pfx[f][a], &v->pfx[f][b]) ||
		     xtap_prefix_contains(&v->pfx[f][b], &v->pfx[f][a])))
			return 1;
	return 0;
}

static int same_rule(const struct xtap_acl_rule *a, const struct xtap_acl_rule *b)
{
	struct xtap_acl_rule x = *a, y = *b;

	x.rank = y.rank = 0;
	return !memcmp(&x, &y, sizeof(x));
}

struct id_pos {
	__u32 id, pos;
};

static int id_cmp(const void *a, const void *b)
{
	const struct id_pos *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * next: cur with the spec's rules, kept ones where they are, added ones at
 * free positions that keep the priority order among overlapping rules,
 * removed ones left as free positions; nv its view. -EAGAIN when that is
 * not possible.
 */
static int plan_positions(const struct xtap_acl_set *cur, const struct xtap_acl_spec *acl,
			  const __u32 *slots, struct xtap_acl_set *next, struct acl_view *nv)
{
	int pos[XTAP_MAX_ACL_RULES], n = acl->n_rules, i, j, p, last_rank = -1, n_ids = 0;
	struct id_pos ids[XTAP_MAX_ACL_RULES], *hit, key;
	struct ranked_rule rk[XTAP_MAX_ACL_RULES];
	__u8 taken[XTAP_MAX_ACL_RULES] = {};
	__u32 k, count = cur->count;

	rank_rules(acl, rk);
	*next = *cur;
	for (k = 0; k < count; k++) {
		if (!xtap_acl_rule_live(cur, k))
			continue;
		next->rules[k].rank = XTAP_ACL_RANK_FREE;   /* until kept below */
		ids[n_ids].id = cur->rules[k].rule_id;
		ids[n_ids++].pos = k;
	}
	qsort(ids, n_ids, sizeof(ids[0]), id_cmp);
	/* Kept rules: the same record, in the same order as before. */
	for (i = 0; i < n; i++) {
		struct xtap_acl_rule want;

		record_of(rk[i].r, slots[rk[i].index], i, &want);
		pos[i] = -1;
		key.id = want.rule_id;
		hit = bsearch(&key, ids, n_ids, sizeof(ids[0]), id_cmp);
		if (!hit)
			continue;
		k = hit->pos;
		if (!same_rule(&cur->rules[k], &want) || cur->rules[k].rank <= last_rank)
			return -EAGAIN;
		last_rank = cur->rules[k].rank;
		next->rules[k].rank = i;
		pos[i] = k;
	}
	/* The positions of kept and removed rules: removed ones are not reused in this update (frames may still read them). */
	for (k = 0; k < count; k++)
		taken[k] = xtap_acl_rule_live(cur, k);
	/* Added rules, in priority order, each after the overlapping rules before it and before those after it. */
	for (i = 0; i < n; i++) {
		int lo = -1, hi = XTAP_MAX_ACL_RULES;
		struct xtap_acl_rule rec, saved;
		__u32 saved_count;

		if (pos[i] >= 0)
			continue;
		record_of(rk[i].r, slots[rk[i].index], i, &rec);
		for (p = 0; p < XTAP_MAX_ACL_RULES && taken[p]; p++)
			;
		if (p == XTAP_MAX_ACL_RULES)
			return -EAGAIN;
		/* Tried at a free position to see what it overlaps, then that position as it was. */
		saved = next->rules[p];
		saved_count = next->count;
		next->rules[p] = rec;
		if ((__u32)p >= next->count)
			next->count = p + 1;
		view_of(next, nv);
		for (j = 0; j < n; j++) {
			if (j == i || pos[j] < 0 || !rules_overlap(nv, p, pos[j]))
				continue;
			if (j < i && pos[j] > lo)
				lo = pos[j];
			if (j > i && pos[j] < hi)
				hi = pos[j];
		}
		next->rules[p] = saved;
		next->count = saved_count;
		for (p = lo + 1; p < hi && taken[p]; p++)
			;
		if (p >= hi)
			return -EAGAIN;
		next->rules[p] = rec;
		if ((__u32)p >= next->count)
			next->count = p + 1;
		taken[p] = 1;
		pos[i] = p;
	}
	/* Positions the count now covers that no rule took. */
	for (k = count; k < next->count; k++)
		if (!taken[k]) {
			memset(&next->rules[k], 0, sizeof(next->rules[k]));
			next->rules[k].rank = XTAP_ACL_RANK_FREE;
		}
	view_of(next, nv);
	return 0;
}

/* One trie entry the update touches: inserted, rewritten or deleted, and its value before. */
struct entry_change {
	int f;
	struct xtap_prefix p;
	int in_old, in_new;
	struct xtap_acl_match old, new;
};

#define MAX_CHANGES (FAMS * 2 * XTAP_MAX_ACL_RULES)

/* The entries whose value changes: those a changed rule's prefix contains. */
static int entry_changes(const struct acl_view *ov, const struct acl_view *nv, const __u8 *changed,
			 struct entry_change *ch)
{
	const struct acl_view *views[2] = { ov, nv };
	int n = 0, f, a, b, c, dup;
	__u32 x, i;

	for (f = 0; f < FAMS; f++) {
		for (x = 0; x < nv->set->count; x++) {
			for (a = 0; a < 2; a++) {
				const struct acl_view *xv = views[a];

				if (!changed[x] || x >= xv->set->count || !xv->has[f][x])
					continue;
				/* A changed rule: every entry, before or after, its prefix contains. */
				for (b = 0; b < 2; b++) {
					const struct acl_view *ev = views[b];

					for (i = 0; i < ev->set->count; i++) {
						const struct xtap_prefix *p = &ev->pfx[f][i];

						if (!ev->has[f][i] || !xtap_prefix_contains(&xv->pfx[f][x], p))
							continue;
						for (c = 0, dup = 0; c < n && !dup; c++)
							dup = ch[c].f == f && prefix_equal(&ch[c].p, p);
						if (dup || n == MAX_CHANGES)
							continue;
						ch[n].f = f;
						ch[n].p = *p;
						n++;
					}
				}
			}
		}
	}
	for (c = 0; c < n; c++) {
		ch[c].in_old = view_has_prefix(ov, ch[c].f, &ch[c].p);
		ch[c].in_new = view_has_prefix(nv, ch[c].f, &ch[c].p);
		if (ch[c].in_old)
			match_of(ov, ch[c].f, &ch[c].p, &ch[c].old);
		if (ch[c].in_new)
			match_of(nv, ch[c].f, &ch[c].p, &ch[c].new);
	}
	return n;
}

/* Puts entry c back as it was. */
static void entry_undo(const struct xtap_datapath *dp, __u32 set, const struct entry_change *c)
{
	if (c->in_old)
		xtap_lpm_write(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &c->p, &c->old);
	else
		xtap_lpm_delete(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &c->p);
}

/*
 * Makes set `set` go from record `from` to record `to` (the same rules at
 * the same positions, but for those added or removed): the record first
 * (added rules at positions no entry names yet), then new entries, then
 * rewritten ones, then deleted ones, so that a frame's one trie lookup finds
 * the set as it was or as it will be. On failure, puts back what it did.
 */
static int acl_apply(const struct xtap_datapath *dp, __u32 set, const struct xtap_acl_set *from,
		     const struct xtap_acl_set *to, struct xtap_err *err)
{
	struct acl_view *ov = malloc(sizeof(*ov)), *nv = malloc(sizeof(*nv));
	struct entry_change *ch = malloc(MAX_CHANGES * sizeof(*ch));
	__u8 changed[XTAP_MAX_ACL_RULES] = {};
	int n, i, step, done[MAX_CHANGES], n_done = 0, ret = -ENOMEM;
	const char *map = "xtap_acl_rules";
	__u32 k;

	if (!ov || !nv || !ch)
		goto out;
	for (k = 0; k < to->count; k++) {
		int was = k < from->count && xtap_acl_rule_live(from, k), is = xtap_acl_rule_live(to, k);

		changed[k] = was != is || (is && !same_rule(&from->rules[k], &to->rules[k]));
	}
	view_of(from, ov);
	view_of(to, nv);
	n = entry_changes(ov, nv, changed, ch);
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, to);
	for (step = 0; step < 3 && !ret; step++) {
		for (i = 0; i < n && !ret; i++) {
			struct entry_change *c = &ch[i];

			if (step != (c->in_old ? (c->in_new ? 1 : 2) : 0))
				continue;
			ret = c->in_new ? xtap_lpm_write(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &c->p, &c->new)
					: xtap_lpm_delete(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &c->p);
			if (ret)
				map = c->f ? "xtap_acl6" : "xtap_acl4";
			else
				done[n_done++] = i;
		}
	}
	if (ret) {
		while (n_done-- > 0)
			entry_undo(dp, set, &ch[done[n_done]]);
		xtap_map_update(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, from);
		ret = xtap_map_fail(err, map, ret);
	}
out:
	free(ov);
	free(nv);
	free(ch);
	return ret;
}

int xtap_acl_update(const struct xtap_datapath *dp, const struct xtap_acl_set *cur,
		    const struct xtap_acl_spec *acl, __u32 set, const __u32 *slots,
		    struct xtap_acl_set *next, struct xtap_err *err)
{
	struct acl_view *nv = malloc(sizeof(*nv));
	int ret = nv ? plan_positions(cur, acl, slots, next, nv) : -ENOMEM;

	free(nv);
	if (!ret && memcmp(cur, next, offsetof(struct xtap_acl_set, rules[next->count])))
		ret = acl_apply(dp, set, cur, next, err);
	return ret;
}

int xtap_acl_same(const struct xtap_acl_set *cur, const struct xtap_acl_spec *acl, const __u32 *slots)
{
	struct xtap_acl_set *next = malloc(sizeof(*next));
	struct acl_view *nv = malloc(sizeof(*nv));
	int same = next && nv && !plan_positions(cur, acl, slots, next, nv) &&
		   !memcmp(cur, next, offsetof(struct xtap_acl_set, rules[next->count]));

	free(next);
	free(nv);
	return same;
}

int xtap_acl_revert(const struct xtap_datapath *dp, __u32 set, const struct xtap_acl_set *next,
		    const struct xtap_acl_set *cur)
{
	struct xtap_err ignore;

	return memcmp(cur, next, offsetof(struct xtap_acl_set, rules[next->count])) ?
	       acl_apply(dp, set, next, cur, &ignore) : 0;
}

int xtap_acl_delete(const struct xtap_datapath *dp, __u32 set)
{
	struct xtap_acl_set *rs = malloc(sizeof(*rs));
	struct xtap_prefix p;
	__u32 i;
	int f, ret = rs ? 0 : -ENOMEM;

	if (rs && !bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set, rs)) {
		for (i = 0; i < rs->count && i < XTAP_MAX_ACL_RULES && !ret; i++)
			for (f = 0; f < FAMS && !ret; f++)
				if (rule_prefix(&rs->rules[i], fam_of(f), &p))
					ret = xtap_lpm_delete(dp, XTAP_MAP_ACL4, XTAP_MAP_ACL6, set, &p);
		if (!ret)
			ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_ACL_RULES), &set);
	}
	free(rs);
	return ret;
}
