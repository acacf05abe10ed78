/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-port, per-direction rate limits (bytes/s and packets/s, each with a
 * burst) as a lock-free GCRA: the state is one "theoretical arrival time"
 * per limit. A frame costs len * ns_per_byte; it conforms when the arrival
 * time, pushed on by its cost, stays within the burst of now. Costs are
 * fixed point (XTAP_RATE_FP_SHIFT, XTAP_RATE_TAT_SHIFT), so no refill
 * rounding leaks rate. Each CPU charges the arrival time a lease at a time
 * and spends it frame by frame (xtap_rate_credit), so most frames pay no
 * atomic operation (~6 ns each: bench/README.md).
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XTAP_MAX_PORTS * XTAP_DIRS);
	__type(key, __u32);                   /* as xtap_rate_state */
	__type(value, struct xtap_rate_credit);
} xtap_rate_credit SEC(".maps");

/*
 * Charges cost to *tat if the frame conforms, spending this CPU's *credit
 * first. Idle limiters restart from now with a compare-and-swap; busy ones
 * are charged with an atomic add and refunded when the frame does not
 * conform, so CPUs never wait on a lock.
 *
 * A lease is taken only when the frame and the whole lease conform now, so
 * every frame that spends it later conforms too (the arrival time it
 * pushed on only comes nearer). An idle limiter (arrival time passed)
 * forgets this CPU's credit as it forgets the past. The credit is what
 * this passes beyond the exact limiter: spent slower than the rate, up to
 * one lease (1/64 of the burst) a CPU; another CPU's credit outlives an
 * idle restart. The long-run rate is unchanged.
 */
static __always_inline int xtap_gcra_charge(__u64 *tat, __u64 *credit, __u64 now, __u64 cost,
					    __u64 burst)
{
	__u64 lease = burst >> XTAP_RATE_LEASE_SHIFT, need;
	__u64 old = READ_ONCE(*tat);

	/* a trace asks whether the frame would conform, and charges nothing */
	if (xtap_tracing()) {
		if (old <= now)
			return cost <= burst;
		return *credit >= cost || old + cost - *credit - now <= burst;
	}
	if (old > now && *credit >= cost) {
		*credit -= cost;
		return 1;
	}
	if (old <= now) {
		*credit = 0;
		if (cost > burst)
			return 0;
		need = cost + lease <= burst ? cost + lease : cost;
		if (__sync_val_compare_and_swap(tat, old, now + need) == old) {
			*credit = need - cost;
			return 1;
		}
	}
	need = cost - *credit;
	old = __sync_fetch_and_add(tat, need + lease);
	if (old < now)
		old = now;
	if (old + need + lease - now <= burst) {
		*credit = lease;
		return 1;
	}
	if (old + need - now <= burst) {
		__sync_fetch_and_add(tat, -lease);
		*credit = 0;
		return 1;
	}
	__sync_fetch_and_add(tat, -(need + lease));
	return 0;
}

/*
 * The frame's clock for the limiters it meets: the coarse one is read once,
 * by the first limiter (xtap_rate_now), so a frame that passes the from-VM
 * and the target's to-VM limits in one program pays for one read, and one
 * with no limit set for none.
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
	struct xtap_rate_credit *cr;
	struct xtap_rate_state *st;
	__u64 pkt_cost;
	__u32 idx;

	if (!rc->bytes_per_sec && !rc->packets_per_sec)
		return XTAP_DROP_NONE;
	idx = port->port_id * XTAP_DIRS + (dir & 1);
	st = bpf_map_lookup_elem(&xtap_rate_state, &idx);
	cr = bpf_map_lookup_elem(&xtap_rate_credit, &idx);
	if (!st || !cr)
		return XTAP_DROP_NONE;
	pkt_cost = rc->ns_per_packet_fp >> (XTAP_RATE_FP_SHIFT - XTAP_RATE_TAT_SHIFT);
	if (rc->packets_per_sec &&
	    !xtap_gcra_charge(&st->tat_packets, &cr->packets,
			      xtap_rate_now(clock, rc->burst_packets_ns), pkt_cost,
			      rc->burst_packets_ns << XTAP_RATE_TAT_SHIFT))
		return XTAP_DROP_RATE_PACKETS;
	if (rc->bytes_per_sec &&
	    !xtap_gcra_charge(&st->tat_bytes, &cr->bytes, xtap_rate_now(clock, rc->burst_bytes_ns),
			      (len * rc->ns_per_byte_fp) >> (XTAP_RATE_FP_SHIFT - XTAP_RATE_TAT_SHIFT),
			      rc->burst_bytes_ns << XTAP_RATE_TAT_SHIFT)) {
		/* A dropped frame must not use up the packet budget: its charge goes back as credit. */
		if (rc->packets_per_sec && !xtap_tracing())
			cr->packets += pkt_cost;
		return XTAP_DROP_RATE_BYTES;
	}
	return XTAP_DROP_NONE;
}

#endif /* XTAP_RATELIMIT_H */
