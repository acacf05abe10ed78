// SPDX-License-Identifier: GPL-2.0
/*
 * Per-packet cost of each xtap program, measured with BPF_PROG_TEST_RUN
 * (repeat >= 1e6, the kernel's own per-run average), next to a bare
 * XDP_REDIRECT and XDP_DROP measured in the same run. Runs in a private
 * network namespace with taps; prints a table and one headline line.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_bare.skel.h"
#include "conntrack.h"
#include "datapath.h"
#include "pktbuild.h"
#include "policy.h"
#include "sandbox.h"

#define REPEAT  1000000
#define ROUNDS  5

static struct xtap_datapath dp;
static struct test_tap tap_a, tap_b;
static struct xtap_port_spec spec_a, spec_b;

static double run_ns(int prog_fd, int ifindex, const struct pkt *p, int tc)
{
	struct xdp_md xctx = { .data_end = p->len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex };
	double best[ROUNDS];
	int i, j;

	for (i = 0; i < ROUNDS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
			    .repeat = REPEAT);
		if (tc) {
			o.ctx_in = &sctx;
			o.ctx_size_in = sizeof(sctx);
		} else {
			o.ctx_in = &xctx;
			o.ctx_size_in = sizeof(xctx);
		}
		if (bpf_prog_test_run_opts(prog_fd, &o)) {
			fprintf(stderr, "test run: %s\n", strerror(errno));
			exit(1);
		}
		best[i] = o.duration;
	}
	/* median of the rounds */
	for (i = 0; i < ROUNDS; i++)
		for (j = i + 1; j < ROUNDS; j++)
			if (best[j] < best[i]) {
				double t = best[i];
				best[i] = best[j];
				best[j] = t;
			}
	return best[ROUNDS / 2];
}

static void port_spec(struct xtap_port_spec *s, const struct test_tap *t, int id, const char *mac,
		      const char *ip)
{
	uint32_t a = pkt_ip4(ip);

	memset(s, 0, sizeof(*s));
	s->port_id = id;
	s->ifindex = t->ifindex;
	s->segment_id = 1;
	s->mtu = 1500;
	pkt_mac(s->mac, mac);
	s->n_addrs = 1;
	s->addrs[0].family = 4;
	s->addrs[0].prefixlen = 32;
	memcpy(s->addrs[0].addr, &a, 4);
	s->acl[0].default_action = XTAP_ACL_ALLOW;
	s->acl[1].default_action = XTAP_ACL_ALLOW;
}

static void write_port(struct xtap_port_spec *s)
{
	struct xtap_err err = {};

	if (xtap_port_write(&dp, s, &err)) {
		fprintf(stderr, "port: %s\n", err.msg);
		exit(1);
	}
}

/* n rules that do not match the benchmark frame's destination, but one /0 allow last. */
static void add_rules(struct xtap_acl_spec *acl, int n)
{
	int i;

	acl->n_rules = n;
	for (i = 0; i < n; i++) {
		struct xtap_acl_rule_spec *r = &acl->rules[i];
		uint32_t a = htonl(0xC0000000u + ((uint32_t)i << 8));   /* 192.0.i.0/24 */

		memset(r, 0, sizeof(*r));
		r->rule_id = i + 1;
		r->priority = i;
		r->action = XTAP_ACL_DENY;
		r->proto = IPPROTO_TCP;
		r->port_min = 1;
		r->port_max = 1024;
		r->cidr.family = 4;
		r->cidr.prefixlen = 24;
		memcpy(r->cidr.addr, &a, 4);
	}
	if (n) {
		struct xtap_acl_rule_spec *last = &acl->rules[n - 1];

		memset(&last->cidr, 0, sizeof(last->cidr));
		last->cidr.family = 4;
		last->action = XTAP_ACL_ALLOW;
		last->proto = 0;
		last->port_min = 0;
		last->port_max = 0xFFFF;
	}
}

/* A persistent tap that outlives its fd: thousands of ports, not thousands of open fds. */
static int persistent_tap(const char *name)
{
	struct ifreq ifr = {};
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ifindex = -1;

	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(fd, TUNSETIFF, &ifr) && !ioctl(fd, TUNSETPERSIST, 1))
		ifindex = if_nametoindex(name);
	close(fd);
	return ifindex;
}

/*
 * Cost as the host fills up: the same frame from port A with 2, 64 and 4096
 * ports configured, with the baseline policy and with 256 ACL rules on A.
 */
static void scale(const struct pkt *frame)
{
	static const int targets[] = { 2, 64, XTAP_MAX_PORTS };
	int fd_from = xtap_prog_fd(&dp, XTAP_PROG_FROM_VM_XDP), n = 2, t, last_seg = 0;
	double base1 = 0, ns = 0, ns_rules;
	struct xtap_segment seg = {};
	struct xtap_port_spec *s = malloc(sizeof(*s));
	struct xtap_err err = {};
	char name[IF_NAMESIZE];

	printf("\nscaling: from VM, 64 B (ns/packet)\n%-10s %14s %14s %14s\n", "ports", "baseline",
	       "256 rules", "vs 2 ports");
	for (t = 0; t < 3 && s; t++) {
		for (; n < targets[t]; n++) {
			int ifindex, seg_id = 2 + n / 256;
			char ip[32];

			snprintf(name, sizeof(name), "bs%d", n);
			ifindex = persistent_tap(name);
			/* A segment floods to at most 512 ports: 256 each here. */
			if (ifindex < 0 || (seg_id != last_seg && xtap_segment_write(&dp, seg_id, &seg, &err))) {
				fprintf(stderr, "scale: port %d: %s\n", n, err.msg[0] ? err.msg : strerror(errno));
				free(s);
				return;
			}
			last_seg = seg_id;
			snprintf(ip, sizeof(ip), "10.%d.%d.%d", 100 + (n >> 16), (n >> 8) & 0xff, n & 0xff);
			/* Ids 1 and 2 are A and B: the others take 3.., the last one 0. */
			port_spec(s, &(struct test_tap){ .ifindex = ifindex }, (n + 1) % XTAP_MAX_PORTS,
				  "02:00:00:00:00:00", ip);
			s->mac[3] = n >> 16;
			s->mac[4] = n >> 8;
			s->mac[5] = n;
			s->segment_id = seg_id;
			if (xtap_port_write(&dp, s, &err)) {
				fprintf(stderr, "scale: port %d: %s\n", n, err.msg);
				free(s);
				return;
			}
		}
		spec_a.acl[XTAP_DIR_FROM_VM].n_rules = 0;
		memset(&spec_a.rate, 0, sizeof(spec_a.rate));
		write_port(&spec_a);
		ns = run_ns(fd_from, tap_a.ifindex, frame, 0);
		add_rules(&spec_a.acl[XTAP_DIR_FROM_VM], 256);
		write_port(&spec_a);
		ns_rules = run_ns(fd_from, tap_a.ifindex, frame, 0);
		if (t == 0)
			base1 = ns;
		printf("%-10d %14.1f %14.1f %14.2f\n", targets[t], ns, ns_rules, ns / base1);
	}
	printf("headline scale-4096 cost/cost1=%.2f\n", ns / base1);
	free(s);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One run of each frame (repeat 1): the kernel's mean duration, ns. */
static double run_each_ns(int prog_fd, int ifindex, struct pkt *frames, int n)
{
	struct xdp_md xctx = { .ingress_ifindex = ifindex };
	double sum = 0;
	int i;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frames[i].data, .data_size_in = frames[i].len,
			    .repeat = 1, .ctx_in = &xctx, .ctx_size_in = sizeof(xctx));
		xctx.data_end = frames[i].len;
		if (bpf_prog_test_run_opts(prog_fd, &o) || o.retval == XDP_DROP) {
			fprintf(stderr, "conntrack: frame %d: %s (verdict %u)\n", i, strerror(errno), o.retval);
			exit(1);
		}
		sum += o.duration;
	}
	return sum / n;
}

#define CT_NEW_FLOWS 20000

/*
 * Conntrack on the full policy: its last (allow) rule made stateful. The
 * established row runs one tracked flow's frame; the new-flow rows run
 * CT_NEW_FLOWS frames of distinct flows once each (repeat 1: each creates its
 * entry), then the same frames again (each finds its entry); then the table
 * is filled to 1M entries (other ports' flows) and the established flow runs
 * again. Last, xtapd's sweeper on the full table.
 */
static double conntrack_rows(const struct pkt *udp64, double ns_full, double ns_bare)
{
	int fd_from = xtap_prog_fd(&dp, XTAP_PROG_FROM_VM_XDP), fd_to = xtap_prog_fd(&dp, XTAP_PROG_TO_VM_TC);
	struct xtap_acl_spec *acl = &spec_a.acl[XTAP_DIR_FROM_VM];
	struct pkt *frames = calloc(CT_NEW_FLOWS, sizeof(*frames)), reply;
	struct xtap_ct_sweeper sw = {};
	double ns_est, ns_new, ns_again, ns_1m, ns_reply, t0, t_tick, t_full;
	struct xtap_ct_conf conf = { .port_max = XTAP_CT_MAX_ENTRIES };
	int i, fd_ct = xtap_map_fd(&dp, XTAP_MAP_CT), filled = 0;
	__u32 zero = 0;

	if (!frames)
		exit(1);
	bpf_map_update_elem(xtap_map_fd(&dp, XTAP_MAP_CT_CONF), &zero, &conf, 0);
	acl->rules[acl->n_rules - 1].action = XTAP_ACL_ALLOW_STATEFUL;
	write_port(&spec_a);
	ns_est = run_ns(fd_from, tap_a.ifindex, udp64, 0);
	printf("%-52s %8.1f %10.2f  %.2fx stateless\n", "from VM: full policy, stateful, established flow", ns_est,
	       ns_est / ns_bare, ns_est / ns_full);
	/* Its reply, to B's... A's own to-VM: to-vm default deny, passed by the flow. */
	spec_a.acl[XTAP_DIR_TO_VM].default_action = XTAP_ACL_DENY;
	write_port(&spec_a);
	pkt_init(&reply);
	pkt_eth(&reply, spec_a.mac, spec_b.mac, ETH_P_IP);
	pkt_ipv4(&reply, pkt_ip4("10.0.0.11"), pkt_ip4("10.0.0.10"), IPPROTO_UDP);
	pkt_udp(&reply, 2000, 1000, 64 - 42);
	pkt_finish(&reply);
	ns_reply = run_ns(fd_to, tap_a.ifindex, &reply, 1);
	printf("%-52s %8.1f %10.2f\n", "to VM (tc egress): reply of a tracked flow, 64 B", ns_reply,
	       ns_reply / ns_bare);
	for (i = 0; i < CT_NEW_FLOWS; i++) {
		frames[i] = *udp64;
		/* UDP source port and destination's last two bytes: distinct flows. */
		frames[i].data[34] = 0x80 | (i >> 8);
		frames[i].data[35] = i;
		frames[i].data[40] = frames[i].data[41] = 0;   /* no UDP checksum */
	}
	ns_new = run_each_ns(fd_from, tap_a.ifindex, frames, CT_NEW_FLOWS);
	ns_again = run_each_ns(fd_from, tap_a.ifindex, frames, CT_NEW_FLOWS);
	printf("%-52s %8.1f %10.2f\n", "from VM: stateful, new flow (repeat 1, mean)", ns_new, ns_new / ns_bare);
	printf("%-52s %8.1f %10.2f\n", "from VM: stateful, same flows again (repeat 1, mean)", ns_again,
	       ns_again / ns_bare);

	/* Fill the table to 1M entries: flows of other ports (ids 100..), written in batches. */
	{
		enum { B = 8192 };
		struct xtap_ct_key *keys = calloc(B, sizeof(*keys));
		struct xtap_ct_entry *vals = calloc(B, sizeof(*vals));
		__u64 now = xtap_ct_now(&dp);
		__u32 n, j;

		for (i = 0; keys && vals && filled + CT_NEW_FLOWS + 1 < (int)XTAP_CT_MAX_ENTRIES; i++) {
			n = B;
			for (j = 0; j < B; j++) {
				__u32 f = i * B + j;

				keys[j] = (struct xtap_ct_key){ .port_id = 100 + f / 65536, .family = 4,
							      .proto = IPPROTO_UDP, .vm_port = f, .remote_port = 53 };
				memcpy(keys[j].vm_addr, &f, 4);
				keys[j].remote_addr[0] = 198;
				vals[j] = (struct xtap_ct_entry){ .last_seen = now, .state = XTAP_CT_UDP };
			}
			if (filled + CT_NEW_FLOWS + 1 + B > (int)XTAP_CT_MAX_ENTRIES)
				n = XTAP_CT_MAX_ENTRIES - CT_NEW_FLOWS - 1 - filled;
			if (bpf_map_update_batch(fd_ct, keys, vals, &n, NULL))
				break;
			filled += n;
		}
		free(keys);
		free(vals);
	}
	ns_1m = run_ns(fd_from, tap_a.ifindex, udp64, 0);
	printf("%-52s %8.1f %10.2f  %.2fx stateless (%d entries)\n", "from VM: stateful, established, table full",
	       ns_1m, ns_1m / ns_bare, ns_1m / ns_full, filled + CT_NEW_FLOWS + 1);

	/* The sweeper: one tick's budget, then a whole pass, nothing expired (reads only). */
	t0 = now_ns();
	xtap_ct_sweep(&dp, &sw, XTAP_CT_SWEEP_BUDGET);
	t_tick = now_ns() - t0;
	t0 = now_ns();
	while (sw.started && xtap_ct_sweep(&dp, &sw, XTAP_CT_SWEEP_BUDGET) >= 0)
		;
	t_full = now_ns() - t0 + t_tick;
	printf("sweeper at %d entries: one tick (%d entries) %.1f ms, a whole pass %.0f ms (%llu read)\n",
	       filled + CT_NEW_FLOWS + 1, XTAP_CT_SWEEP_BUDGET, t_tick / 1e6, t_full / 1e6,
	       (unsigned long long)sw.visited);
	/* Everything expired: the pass deletes them all. */
	conf.clock_offset_ns = 7200ULL * 1000000000ULL;
	bpf_map_update_elem(xtap_map_fd(&dp, XTAP_MAP_CT_CONF), &zero, &conf, 0);
	sw = (struct xtap_ct_sweeper){};
	t0 = now_ns();
	{
		long deleted = 0, r;

		while ((r = xtap_ct_sweep(&dp, &sw, XTAP_CT_SWEEP_BUDGET)) > 0)
			deleted += r;
		t_full = now_ns() - t0;
		printf("sweeper deleting %ld expired entries: %.0f ms (%.0f ns an entry)\n", deleted, t_full / 1e6,
		       deleted ? t_full / deleted : 0);
	}
	conf = (struct xtap_ct_conf){};
	bpf_map_update_elem(xtap_map_fd(&dp, XTAP_MAP_CT_CONF), &zero, &conf, 0);
	free(frames);
	return ns_est;
}

/* ---- monitor and capture (bpf/observe.h): the full-policy frame with the events off and on ---- */

static volatile int obs_consume_stop;

static int obs_discard(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* The listener's side: empties the ring as fast as it can, as xtapctl would. */
static void *obs_consumer(void *arg)
{
	struct ring_buffer *rb = ring_buffer__new(xtap_map_fd(&dp, XTAP_MAP_OBS_EVENTS), obs_discard, NULL, NULL);

	(void)arg;
	/* as xtapctl does: the programs do not wake it (bpf/observe.h) */
	while (rb && !obs_consume_stop) {
		usleep(1000);
		ring_buffer__consume(rb);
	}
	ring_buffer__free(rb);
	return NULL;
}

static void obs_set(__u32 port_id, __u32 flags, __u32 snaplen, __u64 rate)
{
	struct xtap_obs_conf c = {
		.port_id = port_id, .dirs = 3, .flags = flags, .snaplen = snaplen,
		.ns_per_event = 1000000000ULL / rate, .burst_ns = 1000000000ULL,
	};
	struct timespec ts;
	__u32 zero = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c.lease_until_ns = (ts.tv_sec + 3600) * 1000000000ULL;
	bpf_map_update_elem(xtap_map_fd(&dp, XTAP_MAP_OBS_CONF), &zero, &c, 0);
}

static void obs_off(void)
{
	struct xtap_obs_conf off = {};
	__u32 zero = 0;

	bpf_map_update_elem(xtap_map_fd(&dp, XTAP_MAP_OBS_CONF), &zero, &off, 0);
}

static struct xtap_obs_cpu obs_lost(void)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct xtap_obs_cpu *v = calloc(ncpu, sizeof(*v)), s = {};
	__u32 zero = 0;

	if (v && !bpf_map_lookup_elem(xtap_map_fd(&dp, XTAP_MAP_OBS_CPU), &zero, v))
		for (i = 0; i < ncpu; i++) {
			s.sent += v[i].sent;
			s.lost_rate += v[i].lost_rate;
			s.lost_ring += v[i].lost_ring;
		}
	free(v);
	return s;
}

static void obs_rows(int fd_from, int ifindex, const struct pkt *frame, double ns_bare, __u32 port_id)
{
	struct xtap_obs_cpu a, b;
	pthread_t th;
	double ns;

	printf("\nmonitor/capture: from VM, full policy, 64 B (ns/packet; events off, then on)\n");
	obs_off();
	ns = run_ns(fd_from, ifindex, frame, 0);
	printf("%-52s %8.1f %10.2f\n", "events off (nobody listens)", ns, ns / ns_bare);
	obs_set(port_id + 1, 0, 128, 1000);
	ns = run_ns(fd_from, ifindex, frame, 0);
	printf("%-52s %8.1f %10.2f\n", "monitor --all of the target port (its to-VM events)", ns, ns / ns_bare);
	obs_set(port_id, XTAP_OBS_F_DROPS, 128, 1000);
	ns = run_ns(fd_from, ifindex, frame, 0);
	printf("%-52s %8.1f %10.2f\n", "monitor --drops of this port (frames pass)", ns, ns / ns_bare);
	obs_set(port_id, 0, 128, 1000);
	ns = run_ns(fd_from, ifindex, frame, 0);
	printf("%-52s %8.1f %10.2f\n", "monitor --all, this port: limiter refuses (1000/s)", ns, ns / ns_bare);
	obs_set(port_id, 0, XTAP_OBS_SNAP_MAX, 1000000000ULL);
	obs_consume_stop = 0;
	pthread_create(&th, NULL, obs_consumer, NULL);
	a = obs_lost();
	ns = run_ns(fd_from, ifindex, frame, 0);
	b = obs_lost();
	obs_consume_stop = 1;
	pthread_join(th, NULL);
	printf("%-52s %8.1f %10.2f\n", "capture each frame, no limit, ring read by a thread", ns, ns / ns_bare);
	printf("  (of those frames: %.1f%% in the ring, %.1f%% lost ring full)\n",
	       100.0 * (b.sent - a.sent) / (b.sent - a.sent + b.lost_ring - a.lost_ring + 1e-9),
	       100.0 * (b.lost_ring - a.lost_ring) / (b.sent - a.sent + b.lost_ring - a.lost_ring + 1e-9));
	obs_off();
}

int main(void)
{
	struct xtap_segment seg = {};
	struct xtap_err err = {};
	struct bare_bpf *bare;
	struct pkt udp64, udp1514, spoofed;
	double ns_bare, ns_drop, ns;
	__u32 zero = 0;
	struct bpf_devmap_val dv = {};
	int fd_from, fd_to_tc;

	if (sandbox_enter() || tap_open(&tap_a, "bencha", 1500) || tap_open(&tap_b, "benchb", 1500))
		return 1;
	mkdir("/sys/fs/bpf/xtap", 0700);
	if (xtap_datapath_load(&dp, "/sys/fs/bpf/xtap"))
		return 1;
	if (xtap_segment_write(&dp, 1, &seg, &err))
		return fprintf(stderr, "%s\n", err.msg), 1;
	port_spec(&spec_a, &tap_a, 1, "02:00:00:00:00:0a", "10.0.0.10");
	port_spec(&spec_b, &tap_b, 2, "02:00:00:00:00:0b", "10.0.0.11");
	write_port(&spec_a);
	write_port(&spec_b);

	bare = bare_bpf__open_and_load();
	if (!bare)
		return fprintf(stderr, "bare: %s\n", strerror(errno)), 1;
	dv.ifindex = tap_b.ifindex;
	bpf_map_update_elem(bpf_map__fd(bare->maps.bare_target), &zero, &dv, BPF_ANY);

	pkt_init(&udp64);
	pkt_eth(&udp64, spec_b.mac, spec_a.mac, ETH_P_IP);
	pkt_ipv4(&udp64, pkt_ip4("10.0.0.10"), pkt_ip4("10.0.0.11"), IPPROTO_UDP);
	pkt_udp(&udp64, 1000, 2000, 64 - 42);
	pkt_finish(&udp64);
	pkt_init(&udp1514);
	pkt_eth(&udp1514, spec_b.mac, spec_a.mac, ETH_P_IP);
	pkt_ipv4(&udp1514, pkt_ip4("10.0.0.10"), pkt_ip4("10.0.0.11"), IPPROTO_UDP);
	pkt_udp(&udp1514, 1000, 2000, 1514 - 42);
	pkt_finish(&udp1514);

	fd_from = xtap_prog_fd(&dp, XTAP_PROG_FROM_VM_XDP);
	fd_to_tc = xtap_prog_fd(&dp, XTAP_PROG_TO_VM_TC);
	ns_bare = run_ns(bpf_program__fd(bare->progs.bare_redirect), tap_a.ifindex, &udp64, 0);
	ns_drop = run_ns(bpf_program__fd(bare->progs.bare_drop), tap_a.ifindex, &udp64, 0);

	printf("program cost, BPF_PROG_TEST_RUN, repeat %d, median of %d rounds (ns/packet)\n",
	       REPEAT, ROUNDS);
	printf("%-52s %8s %10s\n", "case", "ns/pkt", "vs bare");
	printf("%-52s %8.1f %10.2f\n", "bare XDP_DROP", ns_drop, ns_drop / ns_bare);
	printf("%-52s %8.1f %10.2f\n", "bare XDP_REDIRECT (devmap)", ns_bare, 1.0);
	/* Where the time goes: the same frame stopped at successive stages. */
	spoofed = udp64;
	spoofed.data[11] ^= 0x40;
	ns = run_ns(fd_from, tap_a.ifindex, &spoofed, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: port lookup + parse, drop (bad MAC)", ns, ns / ns_bare);
	spoofed = udp64;
	spoofed.data[14 + 15] ^= 0x40;   /* IPv4 source */
	ns = run_ns(fd_from, tap_a.ifindex, &spoofed, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: + source address, drop (bad IPv4 source)", ns, ns / ns_bare);
	ns = run_ns(fd_from, tap_a.ifindex, &udp64, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: anti-spoof + steer, 64 B", ns, ns / ns_bare);
	ns = run_ns(fd_from, tap_a.ifindex, &udp1514, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: anti-spoof + steer, 1514 B", ns, ns / ns_bare);

	add_rules(&spec_a.acl[XTAP_DIR_FROM_VM], 64);
	write_port(&spec_a);
	ns = run_ns(fd_from, tap_a.ifindex, &udp64, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: + 64 ACL rules", ns, ns / ns_bare);
	add_rules(&spec_a.acl[XTAP_DIR_FROM_VM], 256);
	write_port(&spec_a);
	ns = run_ns(fd_from, tap_a.ifindex, &udp64, 0);
	printf("%-52s %8.1f %10.2f\n", "from VM: + 256 ACL rules", ns, ns / ns_bare);
	spec_a.rate[XTAP_DIR_FROM_VM].bytes_per_sec = 40000000000ULL;
	spec_a.rate[XTAP_DIR_FROM_VM].burst_bytes = 1ULL << 42;
	spec_a.rate[XTAP_DIR_FROM_VM].packets_per_sec = 1000000000ULL;
	spec_a.rate[XTAP_DIR_FROM_VM].burst_packets = 1000000000ULL;
	write_port(&spec_a);
	ns = run_ns(fd_from, tap_a.ifindex, &udp64, 0);
	double ns_full = ns;
	printf("%-52s %8.1f %10.2f\n", "from VM: full policy (256 rules + both rate limits)", ns,
	       ns / ns_bare);
	ns = run_ns(fd_to_tc, tap_b.ifindex, &udp64, 1);
	printf("%-52s %8.1f %10.2f\n", "to VM (tc egress): baseline policy, 64 B", ns, ns / ns_bare);
	obs_rows(fd_from, tap_a.ifindex, &udp64, ns_bare, spec_a.port_id);
	ns = conntrack_rows(&udp64, ns_full, ns_bare);
	spec_a.acl[XTAP_DIR_TO_VM].default_action = XTAP_ACL_ALLOW;
	add_rules(&spec_a.acl[XTAP_DIR_FROM_VM], 256);
	write_port(&spec_a);
	scale(&udp64);
	printf("headline prog-cost xtap/bare=%.2f\n", ns_full / ns_bare);
	printf("headline prog-cost conntrack-established/stateless=%.2f\n", ns / ns_full);

	bare_bpf__destroy(bare);
	xtap_datapath_close(&dp);
	return 0;
}
