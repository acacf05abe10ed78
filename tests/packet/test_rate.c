// SPDX-License-Identifier: GPL-2.0
/* Rate limits: GCRA bursts, bytes vs packets, per direction, measured rates, validation. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "tests.h"

#define FROM_VM XTAP_DIR_FROM_VM
#define TO_VM   XTAP_DIR_TO_VM

/* Clears the debt of the port's limiters, as after a long quiet spell. */
static void rate_idle_state_only(const struct fx_port *p)
{
	struct xtap_rate_state idle = {};
	__u32 dir, idx;

	for (dir = 0; dir < XTAP_DIRS; dir++) {
		idx = p->spec.port_id * XTAP_DIRS + dir;
		assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_RATE_STATE), &idx,
						     &idle, BPF_ANY), 0);
	}
}

/* The same, and every CPU's credit, which a quiet spell leaves (a test may move CPUs). */
static void rate_idle(const struct fx_port *p)
{
	struct xtap_rate_credit *none = calloc(libbpf_num_possible_cpus(), sizeof(*none));
	__u32 dir, idx;

	assert_non_null(none);
	rate_idle_state_only(p);
	for (dir = 0; dir < XTAP_DIRS; dir++) {
		idx = p->spec.port_id * XTAP_DIRS + dir;
		assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_RATE_CREDIT), &idx,
						     none, BPF_ANY), 0);
	}
	free(none);
}

/*
 * The first n CPUs this thread may run on into cpus[]; how many there are.
 * Tests pin themselves to one of them; the mask goes back (restore_cpus)
 * at their end and in their teardown, so that a failure leaves the next
 * test unpinned.
 */
static cpu_set_t allowed_cpus;
static int allowed_cpus_saved;

static int usable_cpus(int *cpus, int n)
{
	int found = 0, i;

	assert_int_equal(sched_getaffinity(0, sizeof(allowed_cpus), &allowed_cpus), 0);
	allowed_cpus_saved = 1;
	for (i = 0; i < CPU_SETSIZE && found < n; i++)
		if (CPU_ISSET(i, &allowed_cpus))
			cpus[found++] = i;
	return found;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void restore_cpus(void)
{
	assert_int_equal(sched_setaffinity(0, sizeof(allowed_cpus), &allowed_cpus), 0);
}

static int restore_cpus_teardown(void **state)
{
	(void)state;
	if (allowed_cpus_saved)
		sched_setaffinity(0, sizeof(allowed_cpus), &allowed_cpus);
	allowed_cpus_saved = 0;
	return 0;
}

/* T() for a test that pins itself. */
#define T_PINNED(fn) cmocka_unit_test_setup_teardown(fn, fx_reset, restore_cpus_teardown)

/* Sets a limit starting from idle, whatever earlier tests left in the limiter. */
static void set_rate(struct fx_port *p, int dir, __u64 bytes_per_sec, __u64 burst_bytes,
		     __u64 packets_per_sec, __u64 burst_packets)
{
	struct xtap_rate_spec *rs = &p->spec.rate[dir];

	rs->bytes_per_sec = bytes_per_sec;
	rs->burst_bytes = burst_bytes;
	rs->packets_per_sec = packets_per_sec;
	rs->burst_packets = burst_packets;
	fx_apply(p);
	rate_idle(p);
}

/* Sends n copies from A; returns how many passed, all before the first drop. */
static int from_a_passes(const struct pkt *p, int n)
{
	int passed = 0, i;

	for (i = 0; i < n; i++) {
		uint32_t v = fx_from_vm(PA, p);

		if (v == XDP_REDIRECT) {
			assert_int_equal(passed, i);
			passed++;
		} else {
			assert_int_equal(v, XDP_DROP);
		}
	}
	return passed;
}

/* The same through B's "to VM" tc program. */
static int to_b_passes(const struct pkt *p, int n)
{
	struct fx_result r;
	int passed = 0, i;

	for (i = 0; i < n; i++) {
		fx_run_tc(XTAP_PROG_TO_VM_TC, PB->tap.ifindex, p, &r);
		if (r.retval == TC_ACT_OK) {
			assert_int_equal(passed, i);
			passed++;
		} else {
			assert_int_equal(r.retval, TC_ACT_SHOT);
		}
	}
	return passed;
}

struct counts {
	uint64_t sent, by_packets, by_bytes;
};

static struct counts from_counts(const struct fx_port *p)
{
	return (struct counts){
		.sent = fx_verdicts(p, FROM_VM, XTAP_VERDICT_TO_PORT),
		.by_packets = fx_drops(p, FROM_VM, XTAP_DROP_RATE_PACKETS),
		.by_bytes = fx_drops(p, FROM_VM, XTAP_DROP_RATE_BYTES),
	};
}

static void expect_from_delta(const struct fx_port *p, struct counts before, uint64_t sent,
			      uint64_t by_packets, uint64_t by_bytes)
{
	struct counts now = from_counts(p);

	assert_int_equal(now.sent - before.sent, sent);
	assert_int_equal(now.by_packets - before.by_packets, by_packets);
	assert_int_equal(now.by_bytes - before.by_bytes, by_bytes);
}

static void test_rate_packet_burst_passes_back_to_back(void **s)
{
	struct counts c = from_counts(PA);
	struct pkt p;

	(void)s;
	set_rate(PA, FROM_VM, 0, 0, 1, 5);
	fx_udp4(&p, PA, PB, 53, 32);
	assert_int_equal(from_a_passes(&p, 8), 5);
	expect_from_delta(PA, c, 5, 3, 0);
}

static void test_rate_byte_burst_passes_65_frames_of_1000_bytes(void **s)
{
	struct counts c = from_counts(PA);
	struct pkt p;

	(void)s;
	set_rate(PA, FROM_VM, 1000, 65536, 0, 0);
	fx_udp4(&p, PA, PB, 53, 1000 - 42);
	assert_int_equal(p.len, 1000);
	assert_int_equal(from_a_passes(&p, 70), 65);
	expect_from_delta(PA, c, 65, 0, 5);
}

static void test_rate_byte_drop_refunds_packet_budget(void **s)
{
	struct counts c = from_counts(PA);
	struct pkt big, small;

	(void)s;
	set_rate(PA, FROM_VM, 1000, 65536, 1, 70);
	fx_udp4(&big, PA, PB, 53, 1000 - 42);
	fx_udp4(&small, PA, PB, 53, 18);
	assert_int_equal(small.len, 60);

	assert_int_equal(from_a_passes(&big, 75), 65);
	expect_from_delta(PA, c, 65, 0, 10);
	/*
	 * 536 bytes of burst are left, enough for 8 small frames: had the 10
	 * byte drops used packet budget, none would pass instead of the 5 left.
	 */
	assert_int_equal(from_a_passes(&small, 8), 5);
	expect_from_delta(PA, c, 70, 3, 10);
}

static void test_rate_to_vm_limit_leaves_from_vm_alone(void **s)
{
	uint64_t shot = fx_drops(PB, TO_VM, XTAP_DROP_RATE_PACKETS);
	uint64_t dlv = fx_verdicts(PB, TO_VM, XTAP_VERDICT_DELIVER);
	struct counts c = from_counts(PB);
	struct pkt a_to_b, b_to_a;
	int i;

	(void)s;
	set_rate(PB, TO_VM, 0, 0, 1, 2);
	fx_udp4(&a_to_b, PA, PB, 53, 32);
	fx_udp4(&b_to_a, PB, PA, 53, 32);
	assert_int_equal(to_b_passes(&a_to_b, 3), 2);
	assert_int_equal(fx_drops(PB, TO_VM, XTAP_DROP_RATE_PACKETS) - shot, 1);
	assert_int_equal(fx_verdicts(PB, TO_VM, XTAP_VERDICT_DELIVER) - dlv, 2);

	for (i = 0; i < 5; i++)
		assert_int_equal(fx_from_vm(PB, &b_to_a), XDP_REDIRECT);
	expect_from_delta(PB, c, 5, 0, 0);
}

/* Both directions limited alike: using up one leaves the other's budget whole. */
static void test_rate_from_vm_limit_leaves_to_vm_alone(void **s)
{
	uint64_t shot = fx_drops(PB, TO_VM, XTAP_DROP_RATE_PACKETS);
	struct counts c = from_counts(PB);
	struct pkt a_to_b, b_to_a;

	(void)s;
	PB->spec.rate[TO_VM].packets_per_sec = 1;
	PB->spec.rate[TO_VM].burst_packets = 2;
	set_rate(PB, FROM_VM, 0, 0, 1, 2);
	fx_udp4(&a_to_b, PA, PB, 53, 32);
	fx_udp4(&b_to_a, PB, PA, 53, 32);

	assert_int_equal(fx_from_vm(PB, &b_to_a), XDP_REDIRECT);
	assert_int_equal(fx_from_vm(PB, &b_to_a), XDP_REDIRECT);
	assert_int_equal(fx_from_vm(PB, &b_to_a), XDP_DROP);
	expect_from_delta(PB, c, 2, 1, 0);
	assert_int_equal(to_b_passes(&a_to_b, 3), 2);
	assert_int_equal(fx_drops(PB, TO_VM, XTAP_DROP_RATE_PACKETS) - shot, 1);
}

/* A limiter's debt under the old rate must not hold frames back under a raised one. */
static void test_rate_raised_limit_applies_at_once(void **s)
{
	struct counts c = from_counts(PA);
	struct pkt p;

	(void)s;
	set_rate(PA, FROM_VM, 0, 0, 1, 5);
	fx_udp4(&p, PA, PB, 53, 32);
	assert_int_equal(from_a_passes(&p, 6), 5);

	PA->spec.rate[FROM_VM].packets_per_sec = 1000000;
	PA->spec.rate[FROM_VM].burst_packets = 100;
	fx_apply(PA);
	assert_int_equal(from_a_passes(&p, 10), 10);
	expect_from_delta(PA, c, 15, 1, 0);
}

/*
 * Runs "from VM" on A repeat times and returns the kernel's time for the loop
 * (ns per run, rounded down, times repeat). Not the wall
 * time: that also covers the XDP dispatcher update the kernel makes around
 * repeated runs, which takes tens to hundreds of ms.
 */
static uint64_t run_from_a(const struct pkt *p, uint32_t repeat, uint32_t *ns_per_run,
			   uint64_t *wall_ns)
{
	struct timespec t0, t1;
	struct xdp_md ctx = { .data_end = p->len, .ingress_ifindex = PA->tap.ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	struct sched_param rt = { .sched_priority = 1 }, normal = { .sched_priority = 0 };
	int ret;

	/*
	 * The kernel leaves its loop to let other tasks run and does not count
	 * that time, while the limiter does: as a real-time task we keep the CPU.
	 */
	if (sched_setscheduler(0, SCHED_FIFO, &rt))
		fail_msg("SCHED_FIFO: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = bpf_prog_test_run_opts(xtap_prog_fd(&fx_dp, XTAP_PROG_FROM_VM_XDP), &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(sched_setscheduler(0, SCHED_OTHER, &normal), 0);
	assert_int_equal(ret, 0);
	*ns_per_run = o.duration;
	*wall_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + t1.tv_nsec - t0.tv_nsec;
	return (uint64_t)o.duration * repeat;
}

/*
 * Offers A's "from VM" far more than its limit for about 0.5 s, from idle:
 * the frames that pass are the burst plus the rate times the time. The
 * kernel's loop time (which leaves out any time the loop was interrupted)
 * is the least time the limiter saw; the wall time around the call is the
 * most, so the bounds hold on a loaded machine too.
 */
static void expect_measured_rate(const struct pkt *p, double frames_per_sec, double burst_frames,
				 double slack_frames, int reason)
{
	uint64_t sent, dropped, ns, wall_ns;
	uint32_t repeat, ns_per_run;
	double low, high;
	struct counts c;

	run_from_a(p, 200000, &ns_per_run, &wall_ns);
	repeat = 500000000 / (ns_per_run + 1);
	rate_idle(PA);
	c = from_counts(PA);
	ns = run_from_a(p, repeat, &ns_per_run, &wall_ns);
	sent = fx_verdicts(PA, FROM_VM, XTAP_VERDICT_TO_PORT) - c.sent;
	dropped = fx_drops(PA, FROM_VM, reason) -
		  (reason == XTAP_DROP_RATE_PACKETS ? c.by_packets : c.by_bytes);
	low = burst_frames + frames_per_sec * (double)ns / 1e9;
	high = burst_frames + frames_per_sec * (double)(wall_ns > ns + repeat ? wall_ns : ns + repeat) / 1e9;

	print_message("%u frames in %.3f s (%.3f s wall): %llu passed, %.0f-%.0f expected\n", repeat,
		      ns / 1e9, wall_ns / 1e9, (unsigned long long)sent, low, high);
	assert_true(ns >= 100000000 && ns <= 3000000000ull);
	assert_true(repeat > 4 * low);   /* the limit, not the CPU, set the pace */
	assert_int_equal(sent + dropped, repeat);
	assert_true(sent <= high * 1.01 + slack_frames);
	assert_true(sent >= low * 0.97 - slack_frames);
}

static void test_rate_packets_measured_over_window(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	set_rate(PA, FROM_VM, 0, 0, 200000, 100);
	expect_measured_rate(&p, 200000, 100, 0, XTAP_DROP_RATE_PACKETS);
}

/*
 * Frames from two CPUs share one limit (1 packet/s, a burst of 640: a
 * lease is 10 packets): between them they pass the burst, and at most a
 * lease a CPU more (bpf/ratelimit.h); the first drop comes only near it.
 */
static void test_rate_packet_burst_shared_by_two_cpus(void **s)
{
	int passed = 0, round, i, cpus[2];
	struct pkt p;

	(void)s;
	if (usable_cpus(cpus, 2) < 2)
		skip();
	fx_udp4(&p, PA, PB, 53, 32);
	set_rate(PA, FROM_VM, 0, 0, 1, 640);
	for (round = 0; round < 100; round++) {
		pin_cpu(cpus[round % 2]);
		for (i = 0; i < 20; i++)
			passed += fx_from_vm(PA, &p) == XDP_REDIRECT;
	}
	restore_cpus();
	print_message("640-packet burst over two CPUs: %d passed\n", passed);
	assert_true(passed >= 640 - 2 * 10 && passed <= 640 + 2 * 10);
}

/*
 * A CPU's credit left from before an idle spell is forgotten with the
 * limiter's past: a burst from idle on one CPU is exact to the frame.
 */
static void test_rate_idle_limiter_forgets_credit(void **s)
{
	int first, passed, cpu;
	struct pkt p;

	(void)s;
	assert_int_equal(usable_cpus(&cpu, 1), 1);
	fx_udp4(&p, PA, PB, 53, 32);
	set_rate(PA, FROM_VM, 0, 0, 1, 640);
	pin_cpu(cpu);
	first = fx_from_vm(PA, &p);   /* takes a lease: 9 packets of credit */
	rate_idle_state_only(PA);
	passed = from_a_passes(&p, 700);
	restore_cpus();
	assert_int_equal(first, XDP_REDIRECT);
	assert_int_equal(passed, 640);
}

/*
 * A burst of 100 ms or more runs on the coarse clock (bpf/ratelimit.h),
 * which lags by up to a tick: the rate over the window still holds, the
 * burst moves by at most a tick's worth of frames at each end.
 */
static void test_rate_packets_measured_with_long_burst(void **s)
{
	struct timespec tick;
	struct pkt p;

	(void)s;
	assert_int_equal(clock_getres(CLOCK_MONOTONIC_COARSE, &tick), 0);
	fx_udp4(&p, PA, PB, 53, 32);
	set_rate(PA, FROM_VM, 0, 0, 200000, 60000);   /* a 300 ms burst */
	expect_measured_rate(&p, 200000, 60000, 2 * 200000 * (tick.tv_nsec / 1e9),
			     XTAP_DROP_RATE_PACKETS);
}

static void test_rate_bytes_measured_over_window(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 1000 - 42);
	set_rate(PA, FROM_VM, 50000000, 65536, 0, 0);
	expect_measured_rate(&p, 50000000 / 1000.0, 65536 / 1000.0, 0, XTAP_DROP_RATE_BYTES);
}

/* The write fails naming the problem and leaves the port's map entry as it was. */
static void expect_rate_rejected(__u64 bytes_per_sec, __u64 burst_bytes, __u64 packets_per_sec,
				 __u64 burst_packets, const char *why)
{
	int fd = xtap_map_fd(&fx_dp, XTAP_MAP_PORTS);
	struct xtap_rate_spec *rs = &PA->spec.rate[FROM_VM];
	struct xtap_port before, after;
	struct xtap_err err = {};

	assert_int_equal(bpf_map_lookup_elem(fd, &PA->spec.ifindex, &before), 0);
	rs->bytes_per_sec = bytes_per_sec;
	rs->burst_bytes = burst_bytes;
	rs->packets_per_sec = packets_per_sec;
	rs->burst_packets = burst_packets;
	assert_true(xtap_port_write(&fx_dp, &PA->spec, &err) < 0);
	assert_non_null(strstr(err.msg, why));
	assert_int_equal(bpf_map_lookup_elem(fd, &PA->spec.ifindex, &after), 0);
	assert_memory_equal(&before, &after, sizeof(before));
}

static void test_rate_byte_burst_below_64k_rejected(void **s)
{
	(void)s;
	expect_rate_rejected(1000000, 1000, 0, 0, "burst");
}

static void test_rate_zero_packet_burst_rejected(void **s)
{
	(void)s;
	expect_rate_rejected(0, 0, 1000, 0, "burst");
}

static void test_rate_above_400_gbit_rejected(void **s)
{
	(void)s;
	expect_rate_rejected(1000000000000000ULL, 65536, 0, 0, "400 Gbit/s");
}

static void test_rate_conf_derived_fields(void **s)
{
	struct xtap_rate_spec rs = {
		.bytes_per_sec = 125000000,   /* 1 Gbit/s: 8 ns per byte */
		.burst_bytes = 125000,
		.packets_per_sec = 1000000,
		.burst_packets = 10,
	};
	struct xtap_rate_conf rc;

	(void)s;
	xtap_rate_conf_from_spec(&rc, &rs);
	assert_int_equal(rc.bytes_per_sec, 125000000);
	assert_int_equal(rc.burst_bytes, 125000);
	assert_int_equal(rc.packets_per_sec, 1000000);
	assert_int_equal(rc.burst_packets, 10);
	assert_int_equal(rc.ns_per_byte_fp, 8ULL << XTAP_RATE_FP_SHIFT);
	assert_int_equal(rc.burst_bytes_ns, 1000000);
	assert_int_equal(rc.ns_per_packet_fp, 1000ULL << XTAP_RATE_FP_SHIFT);
	assert_int_equal(rc.burst_packets_ns, 10000);

	/* 3 B/s: 333333333.33 ns per byte, kept to 2^-16 ns. */
	rs.bytes_per_sec = 3;
	xtap_rate_conf_from_spec(&rc, &rs);
	assert_int_equal(rc.ns_per_byte_fp, 21845333333333ULL);
	assert_int_equal(rc.burst_bytes_ns, 41666666666667ULL);
}

XTAP_TEST_LIST(rate,
	T(test_rate_packet_burst_passes_back_to_back),
	T(test_rate_byte_burst_passes_65_frames_of_1000_bytes),
	T(test_rate_byte_drop_refunds_packet_budget),
	T(test_rate_to_vm_limit_leaves_from_vm_alone),
	T(test_rate_from_vm_limit_leaves_to_vm_alone),
	T(test_rate_raised_limit_applies_at_once),
	T(test_rate_packets_measured_over_window),
	T(test_rate_bytes_measured_over_window),
	T(test_rate_packets_measured_with_long_burst),
	T_PINNED(test_rate_packet_burst_shared_by_two_cpus),
	T_PINNED(test_rate_idle_limiter_forgets_credit),
	T(test_rate_byte_burst_below_64k_rejected),
	T(test_rate_zero_packet_burst_rejected),
	T(test_rate_above_400_gbit_rejected),
	T(test_rate_conf_derived_fields),
);
