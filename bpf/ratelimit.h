/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-port, per-direction rate limits (bytes/s and packets/s, each with a
 * burst) as a lock-free GCRA: the state is one "theoretical arrival time"
 * per limit. A frame costs len * ns_per_byte; it conforms when the arrival
 * time, pushed on by its cost, stays within the burst of now. Costs are
 * fixed point (XTAP_RATE_FP_SHIFT, XTAP_RATE_TAT_SHIFT), so no refill
 * rounding leaks rate.
 */
#ifndef XTAP_RATELIMIT_H
#define XTAP_RATELIMIT_H

#include "xtap_common.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XTAP_MAX_PORTS * XTAP_DIRS);
	__type(key, __u32);                   /* port_id * XTAP_DIRS + dir */
	__type(value, struct xtap_rate_state);
} xtap_rate_state SEC(".maps");

/*
 * Charges cost_ns to *tat if the frame conforms. Idle limiters restart from
 * now with a compare-and-swap; busy ones are charged with an atomic add and
 * refunded when the frame does not conform, so CPUs never wait on a lock.
 */
static __always_inline int xtap_gcra_charge(__u64 *tat, __u64 now, __u64 cost, __u64 burst)
{
	__u64 old = READ_ONCE(*tat);

	/* a trace asks whether the frame would conform, and charges nothing */
	if (xtap_tracing())
		return (old > now ? old : now) + cost - now <= burst;
	if (old <= now) {
		if (cost > burst)
			return 0;
		if (__sync_val_compare_and_swap(tat, old, now + cost) == old)
			return 1;
	}
	old = __sync_fetch_and_add(tat, cost);
	if (old < now)
		old = now;
	if (old + cost - now <= burst)
		return 1;
	__sync_fetch_and_add(tat, -cost);
	return 0;
}

/*
 * The frame's clocks for every limiter it meets, each read once, by the
 * first limiter that needs it (0 until then), so a frame that passes the
 * from-VM and the target's to-VM limits in one program pays for one read,
 * and one with no limit set for none.
 *
 * A limiter whose burst is at least XTAP_RATE_COARSE_BURST_NS runs on the
 * coarse clock (bpf_ktime_get_coarse_ns: the last tick's time, a few ns),
 * the others on the exact one (bpf_ktime_get_ns: ~25 ns on a VM, where it
 * reads kvm-clock; bench/README.md). A clock that lags by up to one tick
 * (4 ms at HZ=250, 10 ms at HZ=100) keeps GCRA's long-run rate exact and
 * moves its burst by at most a tick's worth: within 10% of a burst of
 * 100 ms, 1.3% of the default 300 ms. A shorter burst would be eaten by
 * the lag (a burst under a tick would let through only a burst a tick), so
 * it keeps the exact clock. Both are CLOCK_MONOTONIC; a limiter always
 * reads the same one while its burst stays on one side of the line.
 */
#define XTAP_RATE_COARSE_BURST_NS (100ULL * 1000 * 1000)

/*
 * *clock caches the coarse clock's first reading in the frame (0 until
 * then). A limiter with a shorter burst reads the exact clock besides:
 * caching that one too, or caching only on one branch, multiplies the
 * states the verifier walks through (xtap_from_vm is near its limit).
 */
static __always_inline __u64 xtap_rate_now(__u64 *clock, __u64 burst_ns)
{
	if (!*clock)
		*clock = bpf_ktime_get_coarse_ns() << XTAP_RATE_TAT_SHIFT;
	if (burst_ns < XTAP_RATE_COARSE_BURST_NS)
		return bpf_ktime_get_ns() << XTAP_RATE_TAT_SHIFT;
	return *clock;
}

/* Returns XTAP_DROP_NONE or the limit the frame exceeded; *clock: xtap_rate_now. */
static __always_inline int xtap_rate_check(const struct xtap_port *port, __u32 dir, __u32 len,
					   __u64 *clock)
{
	const struct xtap_rate_conf *rc = &port->rate[dir & 1];
	struct xtap_rate_state *st;
	__u64 pkt_cost;
	__u32 idx;

	if (!rc->bytes_per_sec && !rc->packets_per_sec)
		return XTAP_DROP_NONE;
	idx = port->port_id * XTAP_DIRS + (dir & 1);
	st = bpf_map_lookup_elem(&xtap_rate_state, &idx);
	if (!st)
		return XTAP_DROP_NONE;
	pkt_cost = rc->ns_per_packet_fp >> (XTAP_RATE_FP_SHIFT - XTAP_RATE_TAT_SHIFT);
	if (rc->packets_per_sec &&
	    !xtap_gcra_charge(&st->tat_packets, xtap_rate_now(clock, rc->burst_packets_ns), pkt_cost,
			      rc->burst_packets_ns << XTAP_RATE_TAT_SHIFT))
		return XTAP_DROP_RATE_PACKETS;
	if (rc->bytes_per_sec &&
	    !xtap_gcra_charge(&st->tat_bytes, xtap_rate_now(clock, rc->burst_bytes_ns),
			      (len * rc->ns_per_byte_fp) >> (XTAP_RATE_FP_SHIFT - XTAP_RATE_TAT_SHIFT),
			      rc->burst_bytes_ns << XTAP_RATE_TAT_SHIFT)) {
		/* A dropped frame must not use up the packet budget. */
		if (rc->packets_per_sec && !xtap_tracing())
			__sync_fetch_and_add(&st->tat_packets, -pkt_cost);
		return XTAP_DROP_RATE_BYTES;
	}
	return XTAP_DROP_NONE;
}

#endif /* XTAP_RATELIMIT_H */
