// SPDX-License-Identifier: GPL-2.0
/*
 * Events for monitor and capture (bpf/observe.h), as a fixture table: a
 * listener's conf, a frame through a hook, and the event that must (or must
 * not) reach the ring, read back with libbpf's ring buffer reader.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "tests.h"

#define ALL_DIRS ((1U << XTAP_DIR_FROM_VM) | (1U << XTAP_DIR_TO_VM))

static struct xtap_obs_event got[8];
static int n_got;

static int take(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(got[0]) && n_got < 8)
		memcpy(&got[n_got++], data, sizeof(got[0]));
	return 0;
}

static void read_ring(void)
{
	struct ring_buffer *rb = ring_buffer__new(xtap_map_fd(&fx_dp, XTAP_MAP_OBS_EVENTS), take, NULL, NULL);

	assert_non_null(rb);
	n_got = 0;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
}

static void set_conf(const struct xtap_obs_conf *c)
{
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_OBS_CONF), &zero, c, 0), 0);
}

/* A listener's conf: a lease a minute long, 1000 events/s per CPU. */
static struct xtap_obs_conf listening(__u32 port_id, __u32 dirs, __u32 flags, __u32 snaplen)
{
	struct xtap_obs_conf c = {
		.port_id = port_id, .dirs = dirs, .flags = flags, .snaplen = snaplen,
		.ns_per_event = 1000000, .burst_ns = 1000000000ULL,
	};
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c.lease_until_ns = (ts.tv_sec + 60) * 1000000000ULL;
	return c;
}

enum hook_run { RUN_FROM_VM_XDP, RUN_TO_VM_TC };

struct obs_case {
	const char *what;
	enum hook_run run;
	int frame;            /* 0: A -> B UDP; 1: A -> B with a spoofed source; 2: A -> B, B's MAC wrong */
	int listen_port;      /* FX_A, FX_B, or -1: every port */
	__u32 dirs, flags, snaplen;
	int expired;          /* the lease ran out */
	int want;             /* events expected: 0, 1, or 2 (the second: B's to-VM decision in A's run) */
	__u32 dir, verdict, reason, hook;
};

static const struct obs_case cases[] = {
	/* and B's to-VM decision, made in A's program for a unicast redirect (bpf/deliver.h) */
	{ "from VM, --all: the redirect", RUN_FROM_VM_XDP, 0, -1, ALL_DIRS, 0, 1536, 0, 2,
	  XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_PORT, 0, XTAP_OBS_HOOK_FROM_VM_XDP },
	{ "from VM, --drops: a spoof", RUN_FROM_VM_XDP, 1, FX_A, ALL_DIRS, XTAP_OBS_F_DROPS, 128, 0, 1,
	  XTAP_DIR_FROM_VM, XTAP_VERDICT_DROP, XTAP_DROP_SPOOF_IPV4, XTAP_OBS_HOOK_FROM_VM_XDP },
	{ "from VM, --drops: a pass makes none", RUN_FROM_VM_XDP, 0, FX_A, ALL_DIRS, XTAP_OBS_F_DROPS, 128, 0, 0,
	  0, 0, 0, 0 },
	{ "from VM, another port listened to", RUN_FROM_VM_XDP, 1, FX_B, ALL_DIRS, 0, 128, 0, 0, 0, 0, 0, 0 },
	{ "from VM, only to-vm listened to", RUN_FROM_VM_XDP, 1, FX_A, 1U << XTAP_DIR_TO_VM, 0, 128, 0, 0,
	  0, 0, 0, 0 },
	{ "from VM, the lease ran out", RUN_FROM_VM_XDP, 1, -1, ALL_DIRS, 0, 128, 1, 0, 0, 0, 0, 0 },
	{ "to VM (tc egress), cut at 20 bytes", RUN_TO_VM_TC, 0, FX_B, ALL_DIRS, 0, 20, 0, 1,
	  XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER, 0, XTAP_OBS_HOOK_TO_VM_TC },
	{ "to VM (tc egress), --drops: not its MAC", RUN_TO_VM_TC, 2, FX_B, 1U << XTAP_DIR_TO_VM, XTAP_OBS_F_DROPS, 128,
	  0, 1, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP, XTAP_DROP_DST_MAC, XTAP_OBS_HOOK_TO_VM_TC },
};

static void test_events_table(void **state)
{
	static const struct xtap_obs_conf off;
	struct fx_result r;
	size_t i, want_len;
	struct pkt p;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct obs_case *c = &cases[i];
		struct xtap_obs_conf conf = listening(c->listen_port < 0 ? XTAP_OBS_ALL_PORTS :
						      fx_ports[c->listen_port].spec.port_id,
						      c->dirs, c->flags, c->snaplen);
		struct fx_port *at = c->run == RUN_FROM_VM_XDP ? PA : PB;

		print_message("%s\n", c->what);
		fx_udp4(&p, PA, PB, 5000, 100);
		if (c->frame == 1) {
			p.data[14 + 15] ^= 0x40;   /* IPv4 source */
		} else if (c->frame == 2) {
			p.data[5] ^= 0x01;         /* destination MAC */
		}
		if (c->expired)
			conf.lease_until_ns = 1;
		read_ring();                        /* what earlier cases left */
		set_conf(&conf);
		if (c->run == RUN_FROM_VM_XDP)
			fx_run_xdp(XTAP_PROG_FROM_VM_XDP, at->tap.ifindex, &p, &r);
		else
			fx_run_tc(XTAP_PROG_TO_VM_TC, at->tap.ifindex, &p, &r);
		set_conf(&off);
		read_ring();
		assert_int_equal(n_got, c->want);
		if (!c->want)
			continue;
		want_len = p.len < c->snaplen ? p.len : c->snaplen;
		assert_int_equal(got[0].port_id, at->spec.port_id);
		assert_int_equal(got[0].ifindex, at->tap.ifindex);
		assert_int_equal(got[0].dir, c->dir);
		assert_int_equal(got[0].verdict, c->verdict);
		assert_int_equal(got[0].reason, c->reason);
		assert_int_equal(got[0].hook, c->hook);
		assert_int_equal(got[0].len, p.len);
		assert_int_equal(got[0].caplen, want_len);
		assert_memory_equal(got[0].data, p.data, want_len);
		if (c->want < 2)
			continue;
		/* the to-VM decision for the redirected frame, as devmap egress reported it */
		assert_int_equal(got[1].port_id, PB->spec.port_id);
		assert_int_equal(got[1].ifindex, PB->tap.ifindex);
		assert_int_equal(got[1].dir, XTAP_DIR_TO_VM);
		assert_int_equal(got[1].verdict, XTAP_VERDICT_DELIVER);
		assert_int_equal(got[1].reason, 0);
		assert_int_equal(got[1].hook, XTAP_OBS_HOOK_TO_VM_DEVMAP);
		assert_int_equal(got[1].len, p.len);
		assert_int_equal(got[1].caplen, want_len);
		assert_memory_equal(got[1].data, p.data, want_len);
	}
}

/* --sample 3: one frame in three becomes an event, the others are not counted lost. */
static void test_sampling(void **state)
{
	static const struct xtap_obs_conf off;
	struct xtap_obs_conf conf = listening(XTAP_OBS_ALL_PORTS, ALL_DIRS, 0, 64);
	struct fx_result r;
	struct pkt p;
	int i;

	cpu_set_t one, was;

	(void)state;
	/* one CPU, so one per-CPU sample counter */
	sched_getaffinity(0, sizeof(was), &was);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	conf.sample = 3;
	fx_udp4(&p, PA, PB, 5000, 10);
	read_ring();
	set_conf(&conf);
	for (i = 0; i < 9; i++)
		fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p, &r);
	set_conf(&off);
	sched_setaffinity(0, sizeof(was), &was);
	read_ring();
	/* 18 frames matched: each run is A's from-VM and B's to-VM decision (bpf/deliver.h) */
	assert_int_equal(n_got, 6);
}

XTAP_TEST_LIST(observe,
	T(test_events_table),
	T(test_sampling),
);
