/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing policy into the pinned maps: the only code that turns what an
 * operator asked for (a port spec, a segment) into map entries. Every write
 * validates first and changes nothing on error; a port's policy switches in
 * one map update (see XTAP_POLICY_GENS).
 */
#ifndef XTAP_POLICY_WRITER_H
#define XTAP_POLICY_WRITER_H

#include <stddef.h>
#include <linux/types.h>

#include "xtap_abi.h"
#include "datapath.h"
#include "err.h"
#include "policy_spec.h"

/* Segments: must exist before ports join them. */
int xtap_segment_write(const struct xtap_datapath *dp, __u32 segment_id,
		       const struct xtap_segment *seg, struct xtap_err *err);
/* Refuses while ports are still in the segment. */
int xtap_segment_delete(const struct xtap_datapath *dp, __u32 segment_id, struct xtap_err *err);

/*
 * Creates or replaces a port: its policy, and its membership in its segment
 * (FDB, redirect and flood devmaps). Replacing switches atomically.
 * These writers are all-or-nothing, and inside a request's transaction
 * (map_txn.h) the request's undo takes their changes back too.
 */
int xtap_port_write(const struct xtap_datapath *dp, const struct xtap_port_spec *spec,
		    struct xtap_err *err);
/* Removes the port, its policy, counters and segment membership. */
int xtap_port_delete(const struct xtap_datapath *dp, __u32 ifindex, struct xtap_err *err);

/*
 * The hit counter of the rule with id rule_id of the port on ifindex, summed
 * over CPUs. -ENOENT when the port has no such rule.
 */
int xtap_acl_hits_read(const struct xtap_datapath *dp, __u32 ifindex, __u32 rule_id,
		       struct xtap_counter *sum);

/* A MAC the host stack owns in a segment (e.g. a tap's own MAC, a gateway). */
int xtap_fdb_host_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6],
			int add, struct xtap_err *err);

/* Derived fields of a rate limit (exposed for tests). */
void xtap_rate_conf_from_spec(struct xtap_rate_conf *rc, const struct xtap_rate_spec *rs);
/* The EUI-64 IPv6 link-local address of a MAC. */
void xtap_ipv6_link_local(__u8 out[16], const __u8 mac[6]);

#endif /* XTAP_POLICY_WRITER_H */
