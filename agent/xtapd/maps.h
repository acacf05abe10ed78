/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The map writer's parts, one file per concern as bpf/ is split: what each
 * offers the others and policy.c, which composes them into the public
 * entry points of policy.h. Every write goes through map_io.h.
 *
 *   maps_prefix.c    prefixes and their LPM trie keys (xtap_ip4_key/ip6_key)
 *   maps_port.c      the port entry's neighbours: port ids, per-port state
 *   maps_addr.c      address sets: xtap_addr4/6, xtap_addr_sets, host copies
 *   maps_acl.c       ACL sets: xtap_acl4/6, xtap_acl_rules
 *   maps_acl_hits.c  ACL hit counters: slots of xtap_acl_hits
 *   maps_rate.c      rate limits: derived conf, xtap_rate_state
 *   maps_segment.c   segments and membership: FDB, devmaps, seg_ports, uplinks
 *   maps_overlay.c   the overlay: underlay, remote VTEPs, remote MACs (policy.h)
 */
#ifndef XTAP_MAPS_H
#define XTAP_MAPS_H

#include "map_io.h"
#include "policy.h"

/*
 * Set ids: a port's address set and each direction's ACL set have two
 * generations (XTAP_POLICY_GENS) each, switched independently: a change
 * that needs a new set is written under the other generation.
 */
static inline __u32 xtap_addr_set_id(__u32 port_id, __u32 gen)
{
	return port_id * XTAP_POLICY_GENS + gen;
}

static inline __u32 xtap_acl_set_id(__u32 port_id, __u32 gen, __u32 dir)
{
	return xtap_addr_set_id(port_id, gen) * XTAP_DIRS + dir;
}

static inline __u32 xtap_set_gen(__u32 addr_set)
{
	return addr_set % XTAP_POLICY_GENS;
}

/* ---- maps_prefix.c ---- */
/* Clears the host bits so equal prefixes compare equal. */
void xtap_prefix_normalize(struct xtap_prefix *p);
/* Does prefix a contain prefix b (same family, both normalized)? */
int xtap_prefix_contains(const struct xtap_prefix *a, const struct xtap_prefix *b);
/* Writes/deletes p (family 4 or 6) of set `set` in the trie map4 or map6. 0 or -errno. */
int xtap_lpm_write(const struct xtap_datapath *dp, enum xtap_map_id map4, enum xtap_map_id map6,
		   __u32 set, const struct xtap_prefix *p, const void *value);
int xtap_lpm_delete(const struct xtap_datapath *dp, enum xtap_map_id map4, enum xtap_map_id map6,
		    __u32 set, const struct xtap_prefix *p);

/* ---- maps_port.c ---- */
/* Does another port than the one on ifindex have port id port_id? */
int xtap_port_id_taken(const struct xtap_datapath *dp, __u32 port_id, __u32 ifindex);
/* Zeroes the port's counters and rate-limiter state (a previous port with its id may have left some). */
int xtap_port_state_reset(const struct xtap_datapath *dp, __u32 port_id);
/* Slot gen (0 or 1) of port port_id in xtap_port_by_id. */
static inline __u32 xtap_port_slot(__u32 port_id, __u32 gen)
{
	return port_id * 2 + (gen & 1);
}
/* Points the hint of tap ifindex at slot (taking it from a tap sharing it). */
int xtap_port_hint_set(const struct xtap_datapath *dp, __u32 ifindex, __u32 slot);
/* Clears the hint of tap ifindex when it points at slot. */
int xtap_port_hint_clear(const struct xtap_datapath *dp, __u32 ifindex, __u32 slot);

/* ---- maps_addr.c ---- */
/* The port's host addresses copied into its entry (from the spec: the set it will name). */
void xtap_addr_hosts(const struct xtap_port_spec *s, struct xtap_port *port);
/* Does address set `set` hold exactly the spec's addresses? */
int xtap_addrs_same(const struct xtap_datapath *dp, __u32 set, const struct xtap_port_spec *s);
/* Writes the spec's addresses as set `set` (empty before). */
int xtap_addrs_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s, __u32 set,
		     struct xtap_err *err);
/* Deletes set `set` and its trie entries, found from its record. */
int xtap_addrs_delete(const struct xtap_datapath *dp, __u32 set);

/* ---- maps_acl.c ---- */
/* ACL set `set` as in xtap_acl_rules (count 0 when there is none). */
void xtap_acl_set_read(const struct xtap_datapath *dp, __u32 set, struct xtap_acl_set *out);
/* Is rule i of the set a rule (not a free position)? */
static inline int xtap_acl_rule_live(const struct xtap_acl_set *set, __u32 i)
{
	return set->rules[i].rank != XTAP_ACL_RANK_FREE;
}
/* Writes the spec's rules as set `set` (empty before), slots[i] the hit slot of acl->rules[i]. */
int xtap_acl_write(const struct xtap_datapath *dp, const struct xtap_acl_spec *acl, __u32 set,
		   const __u32 *slots, struct xtap_err *err);
/*
 * Changes set `set` (now cur) into the spec's rules in place, writing only
 * the rule record and the trie entries the added and removed rules touch
 * (nothing when the rules are the same); next gets the record written. A
 * frame sees the set before or after (see docs/maps.md). -EAGAIN (nothing
 * written) when the change cannot be made in place: a kept rule changed or
 * moved in the order, or no free position fits an added rule; the set must
 * then be written anew under the other generation.
 */
int xtap_acl_update(const struct xtap_datapath *dp, const struct xtap_acl_set *cur,
		    const struct xtap_acl_spec *acl, __u32 set, const __u32 *slots,
		    struct xtap_acl_set *next, struct xtap_err *err);
/* Does set cur hold exactly the spec's rules (so that the set can stay)? */
int xtap_acl_same(const struct xtap_acl_set *cur, const struct xtap_acl_spec *acl, const __u32 *slots);
/* Takes an xtap_acl_update() back: set `set` from next to cur again. */
int xtap_acl_revert(const struct xtap_datapath *dp, __u32 set, const struct xtap_acl_set *next,
		    const struct xtap_acl_set *cur);
/* Deletes set `set` and its trie entries, found from its rules (free positions included). */
int xtap_acl_delete(const struct xtap_datapath *dp, __u32 set);

/* ---- maps_acl_hits.c ---- */
/*
 * The hit slot of every rule of s, by direction and spec index: a rule the
 * port's current sets (cur, XTAP_DIRS of them) have keeps its slot and
 * counts; a new one gets a zeroed slot, listed in fresh (n_fresh) so that a
 * failed write can give it back with xtap_hit_slots_release().
 */
int xtap_hit_slots_assign(const struct xtap_datapath *dp, const struct xtap_port_spec *s,
			  const struct xtap_acl_set *cur, __u32 slots[XTAP_DIRS][XTAP_MAX_ACL_RULES],
			  __u32 *fresh, int *n_fresh, struct xtap_err *err);
void xtap_hit_slots_release(const struct xtap_datapath *dp, const __u32 *slots, int n);
/* Gives back the slots of the rules in sets (a port's old ones) that next no longer has (NULL: all). */
void xtap_hit_slots_leaving(const struct xtap_datapath *dp, const struct xtap_acl_set *sets,
			    const struct xtap_port_spec *next);
/* Forgets which slots are in use: read again from the maps when next needed (after an undo put them back). */
void xtap_hit_slots_forget(const struct xtap_datapath *dp);
/* The slot of live rule rule_id in the sets (XTAP_DIRS of them), or -1. */
long xtap_hit_slot_of(const struct xtap_acl_set *sets, __u32 rule_id);

/* ---- maps_rate.c ---- */
/* A changed limit starts afresh: debt run up under the old rate must not hold back the new one. */
int xtap_rate_state_reset(const struct xtap_datapath *dp, __u32 port_id, __u32 dir);

/* ---- maps_segment.c ---- */
/* Adds (replaces) ifindex in a devmap, with the egress program prog_fd (-1: none). */
int xtap_devmap_add(int fd, __u32 ifindex, int prog_fd);
/* The port's membership in its segment: FDB entry, redirect and flood devmaps, xtap_seg_ports. */
int xtap_membership_add(const struct xtap_datapath *dp, const struct xtap_port *p, struct xtap_err *err);
int xtap_membership_remove(const struct xtap_datapath *dp, const struct xtap_port *p, struct xtap_err *err);

#endif /* XTAP_MAPS_H */
