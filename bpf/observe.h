/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Events for xtapctl monitor and capture: a frame's port, direction, verdict,
 * reason and its first bytes, through one ring buffer. Off (nobody listens),
 * a frame pays one array lookup and a branch. On, matching frames are sampled
 * and then limited per CPU (a GCRA, like bpf/ratelimit.h) before they reach
 * the ring, so a storm of drops costs the datapath a bounded amount; what the
 * limiter or a full ring refuses is counted per CPU in xtap_obs_cpu.
 */
#ifndef XTAP_OBSERVE_H
#define XTAP_OBSERVE_H

#include "xtap_common.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_obs_conf);
} xtap_obs_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xtap_obs_cpu);
} xtap_obs_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XTAP_OBS_RING_BYTES);
} xtap_obs_events SEC(".maps");

/*
 * The frame matches what the listener asked, and the sample and the
 * limiter let it through: an event reserved in the ring, its header filled
 * in (caplen set to what to copy), or NULL.
 */
static __always_inline struct xtap_obs_event *
xtap_obs_begin(struct xtap_obs_conf *c, __u32 port_id, __u32 dir, __u32 verdict,
	       __u32 reason, __u32 hook, __u32 ifindex, __u32 len)
{
	struct xtap_obs_event *ev;
	struct xtap_obs_cpu *st;
	__u32 zero = 0, caplen;
	__u64 now, tat, lease = c->lease_until_ns;

	if ((c->port_id != XTAP_OBS_ALL_PORTS && c->port_id != port_id) ||
	    !(c->dirs & (1U << dir)) ||
	    ((c->flags & XTAP_OBS_F_DROPS) && verdict != XTAP_VERDICT_DROP))
		return NULL;
	now = bpf_ktime_get_ns();
	if (now > lease) {
		/*
		 * The listener died without letting go: events off, back to one lookup
		 * and a branch a frame. A compare-and-swap, so that a new listener's
		 * lease written meanwhile stays.
		 */
		__sync_val_compare_and_swap(&c->lease_until_ns, lease, 0);
		return NULL;
	}
	st = bpf_map_lookup_elem(&xtap_obs_cpu, &zero);
	if (!st)
		return NULL;
	st->seen++;
	if (c->sample > 1 && st->seen % c->sample)
		return NULL;
	tat = st->tat_ns > now ? st->tat_ns : now;
	if (tat - now > c->burst_ns) {
		st->lost_rate++;
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&xtap_obs_events, sizeof(*ev), 0);
	if (!ev) {
		st->lost_ring++;
		return NULL;
	}
	st->tat_ns = tat + c->ns_per_event;
	st->sent++;
	caplen = len < c->snaplen ? len : c->snaplen;
	ev->ts_ns = now;
	ev->port_id = port_id;
	ev->ifindex = ifindex;
	ev->len = len;
	ev->caplen = caplen < XTAP_OBS_SNAP_MAX ? caplen : XTAP_OBS_SNAP_MAX;
	ev->dir = dir;
	ev->verdict = verdict;
	ev->reason = reason;
	ev->hook = hook;
	ev->cpu = bpf_get_smp_processor_id();
	return ev;
}

/* The listener's conf when one listens (lease set): the whole cost when nobody does. */
static __always_inline struct xtap_obs_conf *xtap_obs_on(void)
{
	__u32 zero = 0;
	struct xtap_obs_conf *c = bpf_map_lookup_elem(&xtap_obs_conf, &zero);

	return c && c->lease_until_ns && !xtap_tracing() ? c : NULL;
}

/*
 * Bytes that could not be copied are not shown: caplen 0 then. No wakeup:
 * waking the listener for each event costs more than the rest of the frame
 * (bench/README.md); it reads the ring on a timer instead.
 */
static __always_inline void xtap_obs_submit(struct xtap_obs_event *ev, long copied)
{
	if (copied)
		ev->caplen = 0;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

/*
 * The bytes to copy into ev, bounded for the verifier; 0: none. The size is
 * built as m + 1 from a bounded m so that even the 6.1 verifier, which learns
 * no lower bound from a "!= 0" test, sees it in [1, XTAP_OBS_SNAP_MAX].
 */
static __always_inline __u32 xtap_obs_caplen(const struct xtap_obs_event *ev)
{
	__u32 m = ev->caplen - 1;   /* 0 wraps to the top and is refused below */

	if (m >= XTAP_OBS_SNAP_MAX)
		return 0;
	xtap_barrier_var(m);
	return m + 1;
}

static __always_inline void xtap_obs_xdp(struct xdp_md *ctx, __u32 port_id, __u32 dir,
					 __u32 verdict, __u32 reason, __u32 hook, __u32 ifindex,
					 __u32 len)
{
	struct xtap_obs_conf *c = xtap_obs_on();
	struct xtap_obs_event *ev;
	__u32 n;

	if (likely(!c))
		return;
	ev = xtap_obs_begin(c, port_id, dir, verdict, reason, hook, ifindex, len);
	if (!ev)
		return;
	n = xtap_obs_caplen(ev);
	xtap_obs_submit(ev, n ? bpf_xdp_load_bytes(ctx, 0, ev->data, n) : -1);
}

static __always_inline void xtap_obs_skb(struct __sk_buff *skb, __u32 port_id, __u32 dir,
					 __u32 verdict, __u32 reason, __u32 hook)
{
	struct xtap_obs_conf *c = xtap_obs_on();
	struct xtap_obs_event *ev;
	__u32 n;

	if (likely(!c))
		return;
	ev = xtap_obs_begin(c, port_id, dir, verdict, reason, hook, skb->ifindex, skb->len);
	if (!ev)
		return;
	n = xtap_obs_caplen(ev);
	xtap_obs_submit(ev, n ? bpf_skb_load_bytes(skb, 0, ev->data, n) : -1);
}

#endif /* XTAP_OBSERVE_H */
