// SPDX-License-Identifier: GPL-2.0
/* Tracked flows from the agent's side: list, flush, sweep (agent/xtapd/conntrack.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <bpf/bpf.h>

#include "conntrack.h"

/* Entries read per batch syscall; a hash bucket never holds this many. */
#define CT_BATCH 1024

__u64 xtap_ct_now(const struct xtap_datapath *dp)
{
	struct xtap_ct_conf conf = {};
	struct timespec ts;
	__u32 zero = 0;

	bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_CT_CONF), &zero, &conf);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec + conf.clock_offset_ns;
}

__u64 xtap_ct_timeout_ns(__u8 state)
{
	static const __u32 secs[XTAP_CT_STATES] = {
		[XTAP_CT_SYN_SENT] = XTAP_CT_TIMEOUT_SYN_SENT,
		[XTAP_CT_SYN_RECV] = XTAP_CT_TIMEOUT_SYN_RECV,
		[XTAP_CT_ESTABLISHED] = XTAP_CT_TIMEOUT_ESTABLISHED,
		[XTAP_CT_FIN_WAIT] = XTAP_CT_TIMEOUT_FIN_WAIT,
		[XTAP_CT_CLOSE] = XTAP_CT_TIMEOUT_CLOSE,
		[XTAP_CT_UDP] = XTAP_CT_TIMEOUT_UDP,
		[XTAP_CT_ICMP_ECHO] = XTAP_CT_TIMEOUT_ICMP_ECHO,
	};

	return state < XTAP_CT_STATES ? secs[state] * 1000000000ULL : 0;
}

const char *xtap_ct_state_name(__u8 state)
{
	static const char *const names[XTAP_CT_STATES] = {
		[XTAP_CT_NONE] = "none",
		[XTAP_CT_SYN_SENT] = "syn_sent",
		[XTAP_CT_SYN_RECV] = "syn_recv",
		[XTAP_CT_ESTABLISHED] = "established",
		[XTAP_CT_FIN_WAIT] = "fin_wait",
		[XTAP_CT_CLOSE] = "close",
		[XTAP_CT_UDP] = "udp",
		[XTAP_CT_ICMP_ECHO] = "icmp_echo",
	};

	return state < XTAP_CT_STATES ? names[state] : "?";
}

static int ct_expired(const struct xtap_ct_entry *e, __u64 now)
{
	return now - e->last_seen >= xtap_ct_timeout_ns(e->state);
}

/* The per-port counts, shared with the programs: decremented with atomics, like they increment. */
static struct xtap_ct_count *counts_map(const struct xtap_datapath *dp)
{
	void *m = mmap(NULL, XTAP_MAX_PORTS * sizeof(struct xtap_ct_count), PROT_READ | PROT_WRITE,
		       MAP_SHARED, xtap_map_fd(dp, XTAP_MAP_CT_COUNT), 0);

	return m == MAP_FAILED ? NULL : m;
}

static void counts_unmap(struct xtap_ct_count *c)
{
	if (c)
		munmap(c, XTAP_MAX_PORTS * sizeof(*c));
}

/*
 * Gives one slot back to port_id's count, never below 0: a count that wrapped
 * would hold the port at its cap for good.
 */
static void count_put(struct xtap_ct_count *counts, __u32 port_id)
{
	__u32 v;

	if (!counts || port_id >= XTAP_MAX_PORTS)
		return;
	v = __atomic_load_n(&counts[port_id].flows, __ATOMIC_RELAXED);
	while (v && !__atomic_compare_exchange_n(&counts[port_id].flows, &v, v - 1, false,
						  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Deletes k, giving its slot back to its port's count. */
static int ct_delete(int fd, struct xtap_ct_count *counts, const struct xtap_ct_key *k)
{
	if (bpf_map_delete_elem(fd, k))
		return 0;
	count_put(counts, k->port_id);
	return 1;
}

/*
 * Deletes the n keys in one batch, each giving its slot back to its port.
 * A key gone already (flushed) is skipped. An expired flow that a new one
 * took over between the sweeper's read and this (microseconds) loses its
 * entry: its next frames are judged as new, as after a flush.
 */
static int ct_delete_keys(int fd, struct xtap_ct_count *counts, const struct xtap_ct_key *keys, int n)
{
	int done = 0, i;

	while (n > 0) {
		__u32 count = n;
		int err = bpf_map_delete_batch(fd, keys, &count, NULL) ? errno : 0;

		for (i = 0; i < (int)count; i++)
			count_put(counts, keys[i].port_id);
		done += count;
		if (!err || (int)count >= n)
			break;
		if (err != ENOENT)
			return done;
		/* keys[count] is gone: on with the ones after it. */
		keys += count + 1;
		n -= count + 1;
	}
	return done;
}

struct ct_batch {
	struct xtap_ct_key keys[CT_BATCH];
	struct xtap_ct_entry vals[CT_BATCH];
};

/*
 * Reads up to CT_BATCH entries after *token (from the start when !*started):
 * whole hash buckets, so never fewer than a bucket holds (a smaller batch
 * fails ENOSPC on a longer bucket).
 * Returns how many, with *end set when the table's end was reached.
 */
static int ct_read_batch(int fd, struct ct_batch *b, __u32 *token, bool *started, bool *end)
{
	__u32 count = CT_BATCH, out;
	int ret;

	ret = bpf_map_lookup_batch(fd, *started ? token : NULL, &out, b->keys, b->vals, &count, NULL);
	*end = ret && errno == ENOENT;
	if (ret && !*end)
		return -errno;
	*token = out;
	*started = !*end;
	return count;
}

int xtap_ct_sweep(const struct xtap_datapath *dp, struct xtap_ct_sweeper *s, __u32 budget)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_CT), n, i, dead, deleted = 0;
	struct xtap_ct_count *counts = NULL;
	struct ct_batch *b = malloc(sizeof(*b));
	__u64 now = xtap_ct_now(dp);
	bool end = false;

	if (!b)
		return -ENOMEM;
	while (budget && !end) {
		n = ct_read_batch(fd, b, &s->token, &s->started, &end);
		if (n < 0) {
			deleted = n;
			break;
		}
		budget -= n < (int)budget ? n : (int)budget;
		s->visited += n;
		for (i = 0, dead = 0; i < n; i++)
			if (ct_expired(&b->vals[i], now))
				b->keys[dead++] = b->keys[i];
		if (dead && !counts && !(counts = counts_map(dp))) {
			deleted = -errno;
			break;
		}
		deleted += ct_delete_keys(fd, counts, b->keys, dead);
		if (!n)
			break;
	}
	if (deleted > 0)
		s->deleted += deleted;
	counts_unmap(counts);
	free(b);
	return deleted;
}

/* Calls fn for every entry of port_id, the whole table in batches. */
static int ct_walk(const struct xtap_datapath *dp, long long port_id,
		   int (*fn)(int fd, const struct xtap_ct_key *k, const struct xtap_ct_entry *e,
			     void *ctx),
		   void *ctx)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_CT), n, i, ret = 0;
	struct ct_batch *b = malloc(sizeof(*b));
	bool started = false, end = false;
	__u32 token = 0;

	if (!b)
		return -ENOMEM;
	while (!end && ret >= 0) {
		n = ct_read_batch(fd, b, &token, &started, &end);
		if (n < 0) {
			ret = n;
			break;
		}
		for (i = 0; i < n && ret >= 0; i++)
			if (port_id == XTAP_CT_ALL_PORTS || b->keys[i].port_id == port_id)
				ret = fn(fd, &b->keys[i], &b->vals[i], ctx);
	}
	free(b);
	return ret < 0 ? ret : 0;
}

struct flush_ctx {
	struct xtap_ct_count *counts;
	long deleted;
};

static int flush_one(int fd, const struct xtap_ct_key *k, const struct xtap_ct_entry *e, void *ctx)
{
	struct flush_ctx *c = ctx;

	(void)e;
	c->deleted += ct_delete(fd, c->counts, k);
	return 0;
}

long xtap_ct_flush(const struct xtap_datapath *dp, long long port_id)
{
	struct flush_ctx c = { .counts = counts_map(dp) };
	int ret;

	if (!c.counts)
		return -errno;
	ret = ct_walk(dp, port_id, flush_one, &c);
	counts_unmap(c.counts);
	return ret < 0 ? ret : c.deleted;
}

struct foreach_ctx {
	xtap_ct_fn fn;
	void *ctx;
	__u64 now;
};

static int foreach_one(int fd, const struct xtap_ct_key *k, const struct xtap_ct_entry *e, void *ctx)
{
	struct foreach_ctx *c = ctx;

	(void)fd;
	if (!ct_expired(e, c->now))
		c->fn(k, e, c->now, c->ctx);
	return 0;
}

int xtap_ct_foreach(const struct xtap_datapath *dp, long long port_id, xtap_ct_fn fn, void *ctx)
{
	struct foreach_ctx c = { .fn = fn, .ctx = ctx, .now = xtap_ct_now(dp) };

	return ct_walk(dp, port_id, foreach_one, &c);
}

__u32 xtap_ct_port_count(const struct xtap_datapath *dp, __u32 port_id)
{
	struct xtap_ct_count c = {};

	bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_CT_COUNT), &port_id, &c);
	return c.flows;
}

int xtap_ct_counts_check(const struct xtap_datapath *dp)
{
	struct xtap_ct_key k;
	struct xtap_ct_count *counts;

	if (!bpf_map_get_next_key(xtap_map_fd(dp, XTAP_MAP_CT), NULL, &k) || errno != ENOENT)
		return 0;
	counts = counts_map(dp);
	if (!counts)
		return -errno;
	memset(counts, 0, XTAP_MAX_PORTS * sizeof(*counts));
	counts_unmap(counts);
	return 0;
}
