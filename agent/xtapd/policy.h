/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing policy into the pinned maps: the only code that turns what an
 * operator asked for (a port spec, a segment) into map entries. Every write
 * validates first and changes nothing on error. policy.c composes the
 * parts, one per concern as bpf/ is split (maps.h: maps_port.c,
 * maps_addr.c, maps_acl.c, maps_acl_hits.c, maps_rate.c, maps_segment.c);
 * every map write goes through map_io.h.
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
 * (FDB, redirect and flood devmaps). Replacing writes only what changed: a
 * set that must change as a whole is written under its other generation and
 * the port switches to it in one map update; ACL rules added or removed
 * (and nothing else) are written in place. A frame sees the old policy or
 * the new one (docs/maps.md).
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

/*
 * The overlay (maps_overlay.c). The underlay: ifindex 0 removes it (the old
 * one leaves the redirect devmap unless keep_old: another segment's uplink).
 */
int xtap_underlay_write(const struct xtap_datapath *dp, __u32 ifindex, __be32 vtep, int keep_old,
			struct xtap_err *err);
/* A segment's remote VTEPs, all n of them (0: none). */
int xtap_seg_vteps_write(const struct xtap_datapath *dp, __u32 segment_id, const __be32 *vteps, __u32 n,
			 struct xtap_err *err);
/* A remote MAC of the segment behind vtep; vtep 0 deletes it. */
int xtap_remote_mac_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6], __be32 vtep,
			  struct xtap_err *err);

/* Derived fields of a rate limit (exposed for tests). */
void xtap_rate_conf_from_spec(struct xtap_rate_conf *rc, const struct xtap_rate_spec *rs);
/* The EUI-64 IPv6 link-local address of a MAC. */
void xtap_ipv6_link_local(__u8 out[16], const __u8 mac[6]);

#endif /* XTAP_POLICY_WRITER_H */
