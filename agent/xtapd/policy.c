// SPDX-License-Identifier: GPL-2.0
/*
 * The map writer's entry points for ports: they compose the parts in
 * maps_*.c (see maps.h). A port's entry in xtap_ports names its address set
 * and its ACL sets; a set that must change as a whole is written under its
 * other generation and the entry switches to it in one update. An ACL
 * change the set can take in place (rules added or removed) writes only
 * what those rules touch, when nothing else of the port changes with it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "map_txn.h"
#include "maps.h"
#include "validate.h"

/* The generation of an ACL set id (see xtap_acl_set_id()). */
static __u32 acl_set_gen(__u32 set)
{
	return xtap_set_gen(set / XTAP_DIRS);
}

/* What a port write changes, and what it must take back on failure or delete on success. */
struct port_change {
	int new_addrs;                 /* p.addr_set written anew: the old set goes after the switch */
	int new_acl[XTAP_DIRS];        /* p.acl[d].set written anew: the old set goes after the switch */
	int in_place[XTAP_DIRS];       /* the old set changed in place: next[d] is what it holds now */
	struct xtap_acl_set cur[XTAP_DIRS], next[XTAP_DIRS];
	__u32 slots[XTAP_DIRS][XTAP_MAX_ACL_RULES];
	__u32 fresh[XTAP_DIRS * XTAP_MAX_ACL_RULES];
	int n_fresh;
};

/* Whether a rule or default of the port is stateful: then the programs track its flows. */
static int port_is_stateful(const struct xtap_port_spec *s)
{
	__u32 d, i;

	for (d = 0; d < XTAP_DIRS; d++) {
		if (s->acl[d].default_action == XTAP_ACL_ALLOW_STATEFUL)
			return 1;
		for (i = 0; i < s->acl[d].n_rules; i++)
			if (s->acl[d].rules[i].action == XTAP_ACL_ALLOW_STATEFUL)
				return 1;
	}
	return 0;
}

static void port_entry_of(const struct xtap_port_spec *s, struct xtap_port *p)
{
	__u32 d;

	memset(p, 0, sizeof(*p));
	p->port_id = s->port_id;
	p->ifindex = s->ifindex;
	p->segment_id = s->segment_id;
	p->flags = s->flags | (port_is_stateful(s) ? XTAP_PORT_F_CONNTRACK : 0);
	memcpy(p->mac, s->mac, 6);
	p->mtu = s->mtu;
	xtap_addr_hosts(s, p);
	for (d = 0; d < XTAP_DIRS; d++) {
		p->acl[d].rule_count = s->acl[d].n_rules;
		p->acl[d].default_action = s->acl[d].default_action;
		xtap_rate_conf_from_spec(&p->rate[d], &s->rate[d]);
	}
}

/* Does the port entry change in nothing but its rule counts? */
static int only_rule_counts_change(const struct xtap_port *old, const struct xtap_port *p)
{
	struct xtap_port t = *p;
	__u32 d;

	for (d = 0; d < XTAP_DIRS; d++)
		t.acl[d].rule_count = old->acl[d].rule_count;
	return !memcmp(&t, old, sizeof(t));
}

/* Takes back what was written before the switch. */
static void port_change_undo(const struct xtap_datapath *dp, const struct xtap_port *old,
			     const struct xtap_port *p, struct port_change *c)
{
	__u32 d;

	for (d = 0; d < XTAP_DIRS; d++) {
		if (c->new_acl[d])
			xtap_acl_delete(dp, p->acl[d].set);
		if (c->in_place[d])
			xtap_acl_revert(dp, old->acl[d].set, &c->next[d], &c->cur[d]);
	}
	if (c->new_addrs)
		xtap_addrs_delete(dp, p->addr_set);
	xtap_hit_slots_release(dp, c->fresh, c->n_fresh);
}

/* The ACL sets of direction d: kept (perhaps changed in place) or written anew. */
static int acl_sets_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
			  const struct xtap_port *old, int in_place_ok, struct xtap_port *p,
			  struct port_change *c, struct xtap_err *err)
{
	int d, ret;

	for (d = 0; d < XTAP_DIRS; d++) {
		const struct xtap_acl_spec *acl = &s->acl[d];

		if (old) {
			p->acl[d].set = old->acl[d].set;
			if (in_place_ok && acl->default_action == old->acl[d].default_action) {
				/* Writes nothing when the rules are the same. */
				ret = xtap_acl_update(dp, &c->cur[d], acl, p->acl[d].set, c->slots[d], &c->next[d], err);
				if (ret != -EAGAIN) {
					c->in_place[d] = !ret;
					if (ret)
						return ret;
					continue;
				}
			} else if (xtap_acl_same(&c->cur[d], acl, c->slots[d])) {
				continue;
			}
			p->acl[d].set = xtap_acl_set_id(s->port_id, acl_set_gen(old->acl[d].set) ^ 1, d);
		} else {
			p->acl[d].set = xtap_acl_set_id(s->port_id, 0, d);
		}
		xtap_acl_delete(dp, p->acl[d].set);   /* empty unless a crash left it */
		c->new_acl[d] = 1;
		ret = xtap_acl_write(dp, acl, p->acl[d].set, c->slots[d], err);
		if (ret)
			return ret;
	}
	return 0;
}

static int port_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
		      struct port_change *c, struct xtap_err *err)
{
	int ports_fd = xtap_map_fd(dp, XTAP_MAP_PORTS), has_old, in_place_ok, changed, ret;
	struct xtap_fdb_key fk = { .segment_id = s->segment_id };
	struct xtap_port old, p;
	struct xtap_fdb_entry fe;
	struct xtap_segment seg;
	__u32 d;

	ret = xtap_validate_port_spec(s, err);
	if (ret)
		return ret;
	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &s->segment_id, &seg))
		return xtap_fail(err, -ENOENT, "port %u: segment %u does not exist: create it first",
			    s->port_id, s->segment_id);
	has_old = !bpf_map_lookup_elem(ports_fd, &s->ifindex, &old);
	if (has_old && old.port_id != s->port_id)
		return xtap_fail(err, -EEXIST, "ifindex %u already belongs to port %u", s->ifindex, old.port_id);
	if (!has_old && xtap_port_id_taken(dp, s->port_id, s->ifindex))
		return xtap_fail(err, -EEXIST, "port id %u is already in use", s->port_id);
	memcpy(fk.mac, s->mac, 6);
	if (!bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_FDB), &fk, &fe) && fe.ifindex != s->ifindex)
		return xtap_fail(err, -EEXIST, "port %u: MAC %02x:%02x:%02x:%02x:%02x:%02x is already used in segment %u",
			    s->port_id, s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5],
			    s->segment_id);

	for (d = 0; d < XTAP_DIRS; d++) {
		c->cur[d].count = 0;
		if (has_old)
			xtap_acl_set_read(dp, old.acl[d].set, &c->cur[d]);
	}
	ret = xtap_hit_slots_assign(dp, s, c->cur, c->slots, c->fresh, &c->n_fresh, err);
	if (ret)
		return ret;
	port_entry_of(s, &p);

	/* Addresses: the set stays when they are the same. */
	if (has_old && xtap_addrs_same(dp, old.addr_set, s)) {
		p.addr_set = old.addr_set;
	} else {
		p.addr_set = xtap_addr_set_id(s->port_id, has_old ? xtap_set_gen(old.addr_set) ^ 1 : 0);
		xtap_addrs_delete(dp, p.addr_set);   /* empty unless a crash left it */
		c->new_addrs = 1;
		ret = xtap_addrs_write(dp, s, p.addr_set, err);
	}
	if (!ret && !has_old && (ret = xtap_port_state_reset(dp, s->port_id)))
		ret = xtap_map_fail(err, "xtap_port_stats", ret);
	for (d = 0; d < XTAP_DIRS && !ret && has_old; d++)
		if (memcmp(&old.rate[d], &p.rate[d], sizeof(p.rate[d])) &&
		    (ret = xtap_rate_state_reset(dp, s->port_id, d)))
			ret = xtap_map_fail(err, "xtap_rate_state", ret);
	/*
	 * ACL sets last: in place only when nothing else changes, so that a
	 * frame never sees a new ACL with, say, an old rate.
	 */
	if (!ret) {
		for (d = 0; d < XTAP_DIRS && has_old; d++)
			p.acl[d].set = old.acl[d].set;
		in_place_ok = has_old && !c->new_addrs && only_rule_counts_change(&old, &p);
		ret = acl_sets_write(dp, s, has_old ? &old : NULL, in_place_ok, &p, c, err);
	}

	/*
	 * The entry is written whole into the port's other slot, where no frame
	 * reads it; then the switch: xtap_ports' entry names the new slot (one
	 * hash update), then the hint (bpf/port.h). Frames see the old port or
	 * the new one.
	 */
	p.slot = has_old ? old.slot : xtap_port_slot(s->port_id, 0);
	changed = !has_old || memcmp(&old, &p, sizeof(p));
	if (changed && has_old)
		p.slot = old.slot ^ 1;
	if (!ret && changed &&
	    (ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_PORT_BY_ID), &p.slot, &p)))
		ret = xtap_map_fail(err, "xtap_port_by_id", ret);
	if (!ret && changed && (ret = xtap_map_update(ports_fd, &s->ifindex, &p)))
		ret = xtap_map_fail(err, "xtap_ports", ret);
	if (ret) {
		port_change_undo(dp, has_old ? &old : NULL, &p, c);
		return ret;
	}

	/*
	 * After the switch every step may still fail: the request's journal
	 * (map_txn.h) then puts back the entry, the hint, the membership and the
	 * old sets.
	 */
	ret = xtap_port_hint_set(dp, p.ifindex, p.slot);
	if (ret)
		ret = xtap_map_fail(err, "xtap_port_hint", ret);
	if (!ret && has_old && (old.segment_id != p.segment_id || memcmp(old.mac, p.mac, 6)))
		ret = xtap_membership_remove(dp, &old, err);
	if (!ret)
		ret = xtap_membership_add(dp, &p, err);
	if (!ret && has_old) {
		xtap_hit_slots_leaving(dp, c->cur, s);
		if (c->new_addrs && (ret = xtap_addrs_delete(dp, old.addr_set)))
			ret = xtap_map_fail(err, "xtap_addr_sets", ret);
		for (d = 0; d < XTAP_DIRS && !ret; d++)
			if (c->new_acl[d] && (ret = xtap_acl_delete(dp, old.acl[d].set)))
				ret = xtap_map_fail(err, "xtap_acl_rules", ret);
	}
	return ret;
}

/* An undo puts back map entries that name hit slots: the allocator reads them again. */
static void forget_hit_slots(const struct xtap_datapath *dp)
{
	xtap_hit_slots_forget(dp);
}

int xtap_port_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
		    struct xtap_err *err)
{
	struct port_change *c = calloc(1, sizeof(*c));
	int owner = xtap_map_txn_begin(), ret;

	ret = c ? xtap_map_txn_on_rollback(forget_hit_slots) : -ENOMEM;
	if (ret)
		ret = xtap_fail(err, ret, "port %u: out of memory", s->port_id);
	else
		ret = port_write(dp, s, c, err);
	xtap_map_txn_end(dp, owner, ret);
	free(c);
	return ret;
}

static int port_delete(const struct xtap_datapath *dp, __u32 ifindex, struct xtap_err *err)
{
	struct xtap_acl_set *sets = malloc(XTAP_DIRS * sizeof(*sets));
	struct xtap_port old;
	__u32 gen, d;
	int ret;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex, &old)) {
		free(sets);
		return xtap_fail(err, -ENOENT, "no port on ifindex %u", ifindex);
	}
	for (d = 0; sets && d < XTAP_DIRS; d++)
		xtap_acl_set_read(dp, old.acl[d].set, &sets[d]);
	ret = xtap_membership_remove(dp, &old, err);
	if (!ret && (ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_PORTS), &ifindex)))
		ret = xtap_map_fail(err, "xtap_ports", ret);
	/* No frame finds the slot once hint and entry are gone: then it is zeroed. */
	if (!ret && (ret = xtap_port_hint_clear(dp, old.ifindex, old.slot)))
		ret = xtap_map_fail(err, "xtap_port_hint", ret);
	if (!ret) {
		struct xtap_port none = {};

		if ((ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_PORT_BY_ID), &old.slot, &none)))
			ret = xtap_map_fail(err, "xtap_port_by_id", ret);
	}
	if (!ret)
		xtap_hit_slots_leaving(dp, sets, NULL);
	free(sets);
	for (gen = 0; gen < XTAP_POLICY_GENS && !ret; gen++) {
		ret = xtap_addrs_delete(dp, xtap_addr_set_id(old.port_id, gen));
		for (d = 0; d < XTAP_DIRS && !ret; d++)
			ret = xtap_acl_delete(dp, xtap_acl_set_id(old.port_id, gen, d));
		if (ret)
			ret = xtap_map_fail(err, "the port's address and ACL sets", ret);
	}
	return ret;
}

int xtap_port_delete(const struct xtap_datapath *dp, __u32 ifindex, struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = xtap_map_txn_on_rollback(forget_hit_slots);
	if (!ret)
		ret = port_delete(dp, ifindex, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}
