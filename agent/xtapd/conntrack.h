/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's side of connection tracking (bpf/conntrack.h): reading the
 * tracked flows, flushing them, and the sweeper that deletes expired ones
 * with a bounded cost per call. Per-port counts are kept with the programs
 * through the mmapped xtap_ct_count.
 */
#ifndef XTAP_AGENT_CONNTRACK_H
#define XTAP_AGENT_CONNTRACK_H

#include <stdbool.h>
#include <linux/types.h>

#include "datapath.h"

/* xtapd's sweeper: entries read per tick, and ticks. */
#define XTAP_CT_SWEEP_BUDGET  65536
#define XTAP_CT_SWEEP_SECONDS 1

/* Every port, for xtap_ct_flush() and xtap_ct_foreach(). */
#define XTAP_CT_ALL_PORTS (-1LL)

/* Where a sweep goes on from: the hash bucket after the last one read. */
struct xtap_ct_sweeper {
	__u32 token;
	bool started;
	__u64 visited;    /* totals, for logs and benchmarks */
	__u64 deleted;
};

/* The programs' clock: CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns) plus xtap_ct_conf's offset. */
__u64 xtap_ct_now(const struct xtap_datapath *dp);
/* An entry's idle timeout in its state (ns); 0 for an unknown state. */
__u64 xtap_ct_timeout_ns(__u8 state);
const char *xtap_ct_state_name(__u8 state);

/*
 * Reads entries from where the last call stopped, in batches of up to 1024
 * until `budget` are read or the table's end (the next call starts over),
 * deleting those past their timeout. Returns the number deleted
 * or a negative errno.
 */
int xtap_ct_sweep(const struct xtap_datapath *dp, struct xtap_ct_sweeper *s, __u32 budget);
/* Deletes every entry of port_id (XTAP_CT_ALL_PORTS: all). Returns how many, or -errno. */
long xtap_ct_flush(const struct xtap_datapath *dp, long long port_id);

typedef void (*xtap_ct_fn)(const struct xtap_ct_key *k, const struct xtap_ct_entry *e,
			   __u64 now, void *ctx);
/* Calls fn for each live (not expired) entry of port_id (XTAP_CT_ALL_PORTS: all). */
int xtap_ct_foreach(const struct xtap_datapath *dp, long long port_id, xtap_ct_fn fn, void *ctx);
/*
 * Zeroes every port's count when the flow table is empty: an upgrade that
 * replaced xtap_ct (another layout) keeps the counts of the flows it dropped.
 * Returns 0 or -errno.
 */
int xtap_ct_counts_check(const struct xtap_datapath *dp);
/* How many entries port_id holds (live or waiting for the sweeper), as counted against its cap. */
__u32 xtap_ct_port_count(const struct xtap_datapath *dp, __u32 port_id);

#endif /* XTAP_AGENT_CONNTRACK_H */
