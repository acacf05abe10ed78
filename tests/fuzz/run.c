// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzz tier: generated frames (gen.c) through the real programs with
 * BPF_PROG_TEST_RUN, each verdict and counter change compared with the
 * independent model (model.c), and the invariants checked on every frame.
 *
 *   fuzz [--seconds N] [--seed S] [--frames N] [--regress DIR] [--save FILE] [--show N]
 *
 * Runs in the tests' sandbox (own netns, bpffs). Prints the seed; the same
 * seed replays the same frames. Ends with "N passed, N failed".
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "gen.h"
#include "model.h"
#include "policy.h"
#include "sandbox.h"
#include "world.h"


static struct mdl_world world;
static struct xtap_datapath dp;
static struct test_tap taps[MDL_MAX_PORTS], uplink = { .fd = -1 };
static int ncpu, show_max = 20, shown;
static FILE *save_file;
static struct xtap_port_stats *percpu;
static struct xtap_port_stats snap[MDL_MAX_PORTS];

/* The "tests" this tier reports: one per frame kind, the uplink, the regressions, each invariant family. */
enum {
	T_UPLINK = GK_COUNT, T_DEVMAP, T_REGRESS, T_INV_SOURCE, T_INV_SERVER, T_INV_MTU, T_INV_REASSEMBLY,
	T_INV_COUNTED, T_COUNT,
};
static const char *const test_name[T_COUNT - GK_COUNT] = {
	"uplink-steering", "to-VM devmap egress (live redirects)", "regressions", "invariant: no foreign source leaves a VM",
	"invariant: no server-only message without permission", "invariant: nothing above the MTU delivered",
	"invariant: no reassembled datagram through a deny rule", "invariant: every frame counted once, with its reason",
};
static uint64_t checked[T_COUNT], failures[T_COUNT];
static uint64_t frames, rate_drops, unrunnable, disagreements, mtu_deferred, tc_deferred, either_frames;
/* Redirects the kernel refuses before the target's devmap egress (above its MTU: docs/packet-rules.md). */
static uint64_t devmap_over_mtu, uplink_to_tc;

_Static_assert((int)XTAP_DROP_TRAILING == (int)MDL_DROP_TRAILING && (int)XTAP_DROP_FRAGMENT == (int)MDL_DROP_FRAGMENT &&
	       (int)XTAP_DROP_IP_OPTION == (int)MDL_DROP_IP_OPTION && (int)XTAP_DROP_MTU == (int)MDL_DROP_MTU &&
	       (int)XTAP_DROP_REASONS == (int)MDL_DROP_REASONS, "the spec's drop reasons, as the ABI has them");

/* The XDP -> tc hand-over in front of a passed frame's data (as tests/packet/test_steer.c reads it). */
struct xdp_meta {
	uint32_t magic, action, target, vlan, port_id, verdict, max_len;
};
#define XDP_META_MAGIC 0x78746170U   /* "xtap" */

static const char *dir_name(enum mdl_dir d)
{
	return d == MDL_FROM_VM ? "from-vm" : d == MDL_TO_VM ? "to-vm" : "from-uplink";
}

static void print_frame(const uint8_t *p, int len)
{
	int i;

	printf("  hex: ");
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("\n  scapy: Ether(bytes.fromhex('");
	for (i = 0; i < len; i++)
		printf("%02x", p[i]);
	printf("'))\n");
}

/* A frame in the regression format: "DIRECTION PORT HEX [group]". */
static void save_frame_tagged(const struct gen_frame *fr, int group)
{
	int i;

	if (!save_file)
		return;
	fprintf(save_file, "%s %s ", dir_name(fr->dir), world.port[fr->port].name);
	for (i = 0; i < fr->len; i++)
		fprintf(save_file, "%02x", fr->data[i]);
	if (group)
		fprintf(save_file, " g%d", group);
	fprintf(save_file, "\n");
	fflush(save_file);
}

static const struct gen_frame *cur_group;
static int cur_group_n, saved_groups;

static void save_frame(const struct gen_frame *fr)
{
	int i;

	if (!cur_group) {
		save_frame_tagged(fr, 0);
		return;
	}
	saved_groups++;
	for (i = 0; i < cur_group_n; i++)
		save_frame_tagged(&cur_group[i], saved_groups);
}

static void reasons_str(uint32_t mask, char *buf, size_t cap)
{
	size_t n = 0;
	int r;

	buf[0] = 0;
	for (r = 0; r < 32; r++)
		if (mask & (1u << r))
			n += snprintf(buf + n, n < cap ? cap - n : 0, "%s%s", n ? "|" : "", mdl_reason_name(r));
}

/* Records a failure of test t on frame fr and prints it (the first show_max). */
static void fail(int t, const struct gen_frame *fr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(int t, const struct gen_frame *fr, const char *fmt, ...)
{
	va_list ap;

	failures[t]++;
	disagreements++;
	if (save_file) {
		fprintf(save_file, "# [%s] %s on %s (%s): ", t < GK_COUNT ? gen_kind_name[t] : test_name[t - GK_COUNT],
			dir_name(fr->dir), world.port[fr->port].name, gen_kind_name[fr->kind]);
		va_start(ap, fmt);
		vfprintf(save_file, fmt, ap);
		va_end(ap);
		fprintf(save_file, "\n");
	}
	save_frame(fr);
	if (shown++ >= show_max)
		return;
	printf("DISAGREE [%s] %s on %s (%s%s): ", t < GK_COUNT ? gen_kind_name[t] : test_name[t - GK_COUNT],
	       dir_name(fr->dir), world.port[fr->port].name, gen_kind_name[fr->kind],
	       fr->mutated ? ", mutated" : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	print_frame(fr->data, fr->len);
}

/* ---- the world in the maps ---- */

static void to_spec(int i, struct xtap_port_spec *s)
{
	const struct mdl_port *p = &world.port[i];
	int k, d;

	memset(s, 0, sizeof(*s));
	s->port_id = 20 + i;
	s->ifindex = taps[i].ifindex;
	s->segment_id = p->segment;
	s->mtu = p->mtu;
	memcpy(s->mac, p->mac, 6);
	s->flags = (p->dhcp_server ? XTAP_PORT_F_ALLOW_DHCP_SERVER : 0) |
		   (p->router ? XTAP_PORT_F_ALLOW_ROUTER : 0);
	for (k = 0; k < p->n_pfx; k++) {
		s->addrs[k].family = p->pfx[k].family;
		s->addrs[k].prefixlen = p->pfx[k].len;
		memcpy(s->addrs[k].addr, p->pfx[k].addr, 16);
	}
	s->n_addrs = (uint16_t)p->n_pfx;
	for (d = 0; d < XTAP_DIRS; d++) {
		const struct mdl_acl *a = &p->acl[d];

		s->acl[d].default_action = a->default_allow ? XTAP_ACL_ALLOW : XTAP_ACL_DENY;
		s->acl[d].n_rules = (uint16_t)a->n;
		for (k = 0; k < a->n; k++) {
			struct xtap_acl_rule_spec *r = &s->acl[d].rules[k];

			r->rule_id = (uint32_t)(100 * d + k + 1);
			r->priority = (uint16_t)(10 * (k + 1));
			r->action = a->rule[k].allow ? XTAP_ACL_ALLOW : XTAP_ACL_DENY;
			r->proto = a->rule[k].proto;
			r->port_min = a->rule[k].pmin;
			r->port_max = a->rule[k].pmax;
			r->cidr.family = a->rule[k].cidr.family;
			r->cidr.prefixlen = a->rule[k].cidr.len;
			memcpy(r->cidr.addr, a->rule[k].cidr.addr, 16);
		}
		if (p->packet_limited[d]) {
			s->rate[d].packets_per_sec = WORLD_PACKETS_PER_SEC;
			s->rate[d].burst_packets = WORLD_BURST_PACKETS;
		}
	}
}

static int setup(void)
{
	struct xtap_segment seg = {};
	struct xtap_err err = {};
	int i;

	if (sandbox_enter())
		return -1;
	if (tap_open(&uplink, "uplink0", 1500))
		return perror("uplink tap"), -1;
	for (i = 0; i < world.n_ports; i++)
		if (tap_open(&taps[i], world.port[i].name, world.port[i].mtu))
			return perror("vm tap"), -1;
	mkdir("/sys/fs/bpf/xtap", 0700);
	if (xtap_datapath_load(&dp, "/sys/fs/bpf/xtap"))
		return -1;
	for (i = 1; i < 4; i++) {
		seg.uplink_ifindex = world.segment[i].has_uplink ? (uint32_t)uplink.ifindex : 0;
		seg.vlan = world.segment[i].vlan;
		if (xtap_segment_write(&dp, (uint32_t)i, &seg, &err))
			return fprintf(stderr, "segment %d: %s\n", i, err.msg), -1;
	}
	for (i = 0; i < world.n_ports; i++) {
		static struct xtap_port_spec spec;

		to_spec(i, &spec);
		if (xtap_port_write(&dp, &spec, &err))
			return fprintf(stderr, "port %s: %s\n", world.port[i].name, err.msg), -1;
	}
	ncpu = libbpf_num_possible_cpus();
	percpu = calloc(ncpu, sizeof(*percpu));
	return percpu ? 0 : -1;
}

/* ---- counters ---- */

static void read_stats(int i, struct xtap_port_stats *sum)
{
	__u32 id = 20 + (uint32_t)i;
	int c, k;

	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(xtap_map_fd(&dp, XTAP_MAP_PORT_STATS), &id, percpu)) {
		perror("port stats");
		exit(2);
	}
	for (c = 0; c < ncpu; c++) {
		const __u64 *src = (const __u64 *)&percpu[c];
		__u64 *dst = (__u64 *)sum;

		for (k = 0; k < (int)(sizeof(*sum) / sizeof(__u64)); k++)
			dst[k] += src[k];
	}
}

/* What one run changed in a port's counters: verdict and reason (-1 none, -2 more than one). */
struct delta {
	int n_verdicts, verdict, n_drops, reason, other_dir;
};

static void take_delta(int i, int dir, struct delta *d)
{
	struct xtap_port_stats now;
	int v, r, k;

	read_stats(i, &now);
	memset(d, 0, sizeof(*d));
	d->verdict = d->reason = -1;
	for (k = 0; k < XTAP_DIRS; k++) {
		for (v = 0; v < XTAP_VERDICTS; v++) {
			int n = (int)(now.verdict[k][v].packets - snap[i].verdict[k][v].packets);

			if (!n)
				continue;
			if (k != dir) {
				d->other_dir += n;
				continue;
			}
			d->n_verdicts += n;
			d->verdict = v;
		}
		for (r = 0; r < XTAP_DROP_REASONS; r++) {
			int n = (int)(now.drop[k][r].packets - snap[i].drop[k][r].packets);

			if (!n)
				continue;
			if (k != dir) {
				d->other_dir += n;
				continue;
			}
			d->n_drops += n;
			d->reason = r;
		}
	}
	snap[i] = now;
}

/* Every port's counters equal the snapshots kept frame by frame: nothing was counted elsewhere. */
static void sweep(const struct gen_frame *last)
{
	struct xtap_port_stats now;
	int i;

	/* the taps' queues fill with redirected frames and then drop them: devmap egress has run by then */
	for (i = 0; i < world.n_ports; i++) {
		read_stats(i, &now);
		if (memcmp(&now, &snap[i], sizeof(now))) {
			fail(T_INV_COUNTED, last, "port %s counted frames that were not its own "
			     "(since the last sweep; the frame shown is the last one run)", world.port[i].name);
			snap[i] = now;
		}
	}
}

/* ---- running the programs ---- */

struct prog_out {
	int ran;
	int ret;
	uint8_t out[GEN_MAX + 256];
	uint32_t out_len;
};

static int run_prog(enum xtap_prog_id id, int xdp, int ifindex, const uint8_t *p, int len, struct prog_out *o)
{
	struct xdp_md xctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	struct __sk_buff sctx = { .ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p, .data_size_in = (__u32)len, .data_out = o->out,
		    .data_size_out = sizeof(o->out), .repeat = 1);

	if (xdp) {
		opts.ctx_in = &xctx;
		opts.ctx_size_in = sizeof(xctx);
	} else {
		opts.ctx_in = &sctx;
		opts.ctx_size_in = sizeof(sctx);
	}
	o->ran = 0;
	if (bpf_prog_test_run_opts(xtap_prog_fd(&dp, id), &opts))
		return -errno;
	o->ran = 1;
	o->ret = (int)opts.retval;
	o->out_len = opts.data_size_out;
	return 0;
}

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

static const char *verdict_name(int v);
static int uplink_verdict_delta(void);

/*
 * Target t's to-VM counters since the last look: one verdict, what the
 * model says for to_vm_frame, in its to-VM direction only. hook names who
 * decided. Returns the verdict counted (-1: not one).
 */
static int check_target(const struct gen_frame *fr, int t, const uint8_t *to_vm_frame, int to_vm_len,
			const char *hook)
{
	struct mdl_verdict m;
	struct delta d;
	char want[256];

	take_delta(t, XTAP_DIR_TO_VM, &d);
	mdl_decide(&world, MDL_TO_VM, t, to_vm_frame, to_vm_len, &m);
	checked[T_DEVMAP]++;
	reasons_str(m.reasons, want, sizeof(want));
	if (d.n_verdicts != 1 || d.other_dir || d.n_drops != (d.verdict == XTAP_VERDICT_DROP)) {
		fail(T_DEVMAP, fr, "%s's %s counted %d verdicts (last %s), %d drops, %d in the "
		     "other direction", world.port[t].name, hook, d.n_verdicts, verdict_name(d.verdict), d.n_drops,
		     d.other_dir);
		return -1;
	} else if (d.verdict == XTAP_VERDICT_DROP) {
		if (!((d.reason == XTAP_DROP_RATE_PACKETS && m.rate_ok) || (m.drop && d.reason == m.reason) ||
		      (m.either & (1u << d.reason))))
			fail(T_DEVMAP, fr, "%s's %s: model: %s %s; program: drop %s",
			     world.port[t].name, hook, m.drop ? "drop" : "deliver", m.drop ? want : "",
			     mdl_reason_name(d.reason));
	} else if (m.drop) {
		fail(T_DEVMAP, fr, "%s's %s: model: drop %s (breaks %s); program: %s",
		     world.port[t].name, hook, mdl_reason_name(m.reason), want, verdict_name(d.verdict));
	}
	return d.verdict;
}

/*
 * A unicast XDP redirect to a local VM: the redirecting program applied the
 * target's to-VM policy in the same run (bpf/deliver.h). Its counters must
 * say what the model says, and the program's action must follow them:
 * XDP_REDIRECT when delivered, XDP_DROP when the target's policy refused.
 * Returns 1 when the target's policy dropped the frame (the sender passed
 * it), 0 when it delivered, -1 on a disagreement.
 */
static int check_deliver_step(const struct gen_frame *fr, int t, int ret, const uint8_t *to_vm_frame,
			      int to_vm_len)
{
	int v = check_target(fr, t, to_vm_frame, to_vm_len, "to-VM step in the sender's XDP");

	if (v < 0)
		return -1;
	if (ret != (v == XTAP_VERDICT_DELIVER ? XDP_REDIRECT : XDP_DROP)) {
		fail(T_DEVMAP, fr, "%s's to-VM step counted %s; the sender's XDP action is %d", world.port[t].name,
		     verdict_name(v), ret);
		return -1;
	}
	return v != XTAP_VERDICT_DELIVER;
}

/*
 * The devmap egress program (xtap_to_vm) cannot be test-run by itself: the
 * frame is run again in live mode, so that the XDP redirect (or broadcast)
 * really happens and each target's devmap program decides (for a unicast
 * redirect, unicast != 0, the sender's program itself, bpf/deliver.h);
 * their counters must say what the model's to-VM verdict for each says. from_port: the
 * sending VM's port (its XDP counts the frame again), or -1 for the uplink;
 * targets: bit i = port i receives a copy.
 */
static void check_devmap(const struct gen_frame *fr, enum xtap_prog_id id, int ifindex, int from_port,
			 unsigned int targets, int unicast, const uint8_t *to_vm_frame, int to_vm_len)
{
	struct xdp_md ctx = { .data_end = (__u32)fr->len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = fr->data, .data_size_in = (__u32)fr->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	struct delta d;
	int t;

	if (bpf_prog_test_run_opts(xtap_prog_fd(&dp, id), &opts)) {
		unrunnable++;
		return;
	}
	/* the sender counts the frame again: its verdict was checked on the first run */
	if (from_port >= 0)
		take_delta(from_port, XTAP_DIR_FROM_VM, &d);
	else
		uplink_verdict_delta();
	for (t = 0; t < world.n_ports; t++) {
		if (!(targets & (1u << t)))
			continue;
		/* a flood copy above a receiver's MTU: the kernel refuses it before that devmap egress */
		if (to_vm_len > world.port[t].mtu + 14) {
			take_delta(t, XTAP_DIR_TO_VM, &d);
			devmap_over_mtu++;
			continue;
		}
		check_target(fr, t, to_vm_frame, to_vm_len, unicast ? "to-VM step in the sender's XDP" :
			     "devmap egress");
	}
}

static const char *steer_name(enum mdl_steer s)
{
	static const char *const n[] = { "none", "port ", "uplink", "flood", "host" };

	return n[s];
}

static int uplink_verdict(enum mdl_steer s)
{
	return s == MDL_STEER_PORT ? XTAP_UPLINK_TO_PORT : s == MDL_STEER_FLOOD ? XTAP_UPLINK_FLOOD :
	       XTAP_UPLINK_TO_HOST;
}

/* The uplink program's one count since the last call: its verdict, -1 none, -2 more. */
static int uplink_verdict_delta(void)
{
	static struct xtap_uplink_stats *percpu_up, last;
	struct xtap_uplink_stats now = {};
	__u32 key = 0;
	int c, v, found = -1;

	if (!percpu_up && !(percpu_up = calloc(ncpu, sizeof(*percpu_up))))
		exit(2);
	if (bpf_map_lookup_elem(xtap_map_fd(&dp, XTAP_MAP_UPLINK_STATS), &key, percpu_up)) {
		perror("uplink stats");
		exit(2);
	}
	for (c = 0; c < ncpu; c++)
		for (v = 0; v < XTAP_UPLINK_VERDICTS; v++)
			now.verdict[v].packets += percpu_up[c].verdict[v].packets;
	for (v = 0; v < XTAP_UPLINK_VERDICTS; v++) {
		uint64_t n = now.verdict[v].packets - last.verdict[v].packets;

		if (n)
			found = n == 1 && found == -1 ? v : -2;
	}
	last = now;
	return found;
}

static int steer_verdict(enum mdl_steer s)
{
	switch (s) {
	case MDL_STEER_PORT: return XTAP_VERDICT_TO_PORT;
	case MDL_STEER_UPLINK: return XTAP_VERDICT_TO_UPLINK;
	case MDL_STEER_FLOOD: return XTAP_VERDICT_FLOOD;
	default: return XTAP_VERDICT_TO_HOST;
	}
}

static const char *verdict_name(int v)
{
	static const char *const n[] = { "to_port", "to_uplink", "flood", "to_host", "deliver", "drop" };

	return v >= 0 && v < XTAP_VERDICTS ? n[v] : "none";
}

/* ---- invariants on a frame the program let through ---- */

static const uint8_t zero[16];

static void check_passed(const struct gen_frame *fr, const struct mdl_verdict *m)
{
	const struct mdl_port *pt = &world.port[fr->port];
	const struct mdl_facts *f = &m->f;
	int i;

	checked[T_INV_MTU]++;
	if (fr->len > pt->mtu + 14 + (f->tags ? 4 : 0))
		fail(T_INV_MTU, fr, "%d-byte frame passed a port with MTU %d", fr->len, pt->mtu);
	if (fr->dir != MDL_FROM_VM)
		return;
	checked[T_INV_SOURCE]++;
	checked[T_INV_SERVER]++;
	if (fr->len >= 14 && memcmp(f->smac, pt->mac, 6))
		fail(T_INV_SOURCE, fr, "foreign source MAC passed");
	if (f->family == 'A' && f->parsed &&
	    (memcmp(f->arp_sha, pt->mac, 6) || (memcmp(f->arp_spa, zero, 4) && !mdl_own_addr(pt, 4, f->arp_spa))))
		fail(T_INV_SOURCE, fr, "foreign ARP sender passed");
	if (f->family == 4 && f->parsed && !mdl_own_addr(pt, 4, f->src) &&
	    !(!memcmp(f->src, zero, 4) && f->dhcp4 && f->bootp_op == 1 && !memcmp(f->chaddr, pt->mac, 6)))
		fail(T_INV_SOURCE, fr, "foreign IPv4 source passed");
	if (f->family == 6 && f->parsed && !mdl_own_addr(pt, 6, f->src) &&
	    !(!memcmp(f->src, zero, 16) && !f->frag && (f->icmp_type == 135 || f->icmp_type == 131 ||
							  f->icmp_type == 143)))
		fail(T_INV_SOURCE, fr, "foreign IPv6 source passed");
	if (f->dhcp4 && f->dport == 67 && f->bootp_op == 1 && memcmp(f->chaddr, pt->mac, 6))
		fail(T_INV_SOURCE, fr, "foreign DHCP chaddr passed");
	if (f->nd_target_present && f->icmp_type == 136 && !mdl_own_addr(pt, 6, f->nd_target))
		fail(T_INV_SOURCE, fr, "foreign ND target passed");
	for (i = 0; i < f->n_ndopt && i < MDL_MAX_NDOPT; i++)
		if ((f->ndopt[i].type == 1 || f->ndopt[i].type == 2) && memcmp(f->ndopt[i].lla, pt->mac, 6))
			fail(T_INV_SOURCE, fr, "foreign ND link-layer option passed");
	if (!pt->dhcp_server && ((f->dhcp4 && (f->dport == 68 || f->bootp_op != 1)) ||
				 (f->family == 6 && f->proto == 17 && f->has_ports && f->dport == 546 && !f->frag) ||
				 f->dhcp6_type == 2 || f->dhcp6_type == 7 || f->dhcp6_type == 10 ||
				 f->dhcp6_type == 13))
		fail(T_INV_SERVER, fr, "DHCP server message passed without --dhcp-server");
	if (!pt->router && ((f->family == 6 && (f->icmp_type == 134 || f->icmp_type == 137)) ||
			    (f->family == 4 && (f->icmp_type == 5 || f->icmp_type == 9))))
		fail(T_INV_SERVER, fr, "router message passed without --router");
}

/* ---- one frame ---- */

/*
 * Runs fr through its hook, compares with the model; returns 1 if the
 * program let it through (for reassembly), 0 if dropped, -1 if not run.
 */
static int check_frame(const struct gen_frame *fr, int test, struct mdl_verdict *m)
{
	enum mdl_dir dir = fr->dir;
	int port = fr->port, cdir = dir == MDL_FROM_VM ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM;
	static struct prog_out o;
	struct delta d;
	char want[256];
	int dropped, err, res, target_drop;

	mdl_decide(&world, dir, port, fr->data, fr->len, m);
	checked[test]++;
	if (dir == MDL_FROM_UPLINK) {
		static struct gen_frame inner;
		int uv;

		checked[T_UPLINK]++;
		err = run_prog(XTAP_PROG_FROM_UPLINK_XDP, 1, uplink.ifindex, fr->data, fr->len, &o);
		if (err) {
			unrunnable++;
			return -1;
		}
		uv = uplink_verdict_delta();
		/*
		 * A frame longer than its port allows goes to tc (meta REDIRECT to the
		 * port, tag already popped), whose redirect meets the port's tc egress.
		 */
		if (m->steer == MDL_STEER_PORT && o.ret == XDP_PASS && uv == XTAP_UPLINK_TO_PORT) {
			struct xdp_meta meta;

			memcpy(&meta, o.out, sizeof(meta));
			if (o.out_len < sizeof(meta) || meta.magic != XDP_META_MAGIC || meta.action != 1 ||
			    (int)meta.target != taps[m->target].ifindex ||
			    (int)(o.out_len - sizeof(meta)) <= world.port[m->target].mtu + 14) {
				fail(T_UPLINK, fr, "model: port %s; program: passed to tc without a redirect to it "
				     "(meta magic %#x action %u target %u)", world.port[m->target].name, meta.magic,
				     meta.action, meta.target);
				return -1;
			}
			uplink_to_tc++;
			inner = *fr;
			inner.dir = MDL_TO_VM;
			inner.port = m->target;
			inner.len = (int)(o.out_len - sizeof(meta));
			memcpy(inner.data, o.out + sizeof(meta), inner.len);
			return check_frame(&inner, test, m);
		}
		/* a local VM's to-VM policy, applied in the uplink's XDP (bpf/deliver.h): REDIRECT or DROP */
		target_drop = 0;
		if (m->steer == MDL_STEER_PORT && uv == XTAP_UPLINK_TO_PORT &&
		    (o.ret == XDP_REDIRECT || o.ret == XDP_DROP)) {
			target_drop = check_deliver_step(fr, m->target, o.ret, o.out, (int)o.out_len);
			if (target_drop < 0)
				return -1;
		}
		if ((o.ret == XDP_REDIRECT || target_drop) != (m->steer == MDL_STEER_PORT) ||
		    uv != uplink_verdict(m->steer)) {
			fail(T_UPLINK, fr, "model: %s%s; program: XDP action %d, counted %s", steer_name(m->steer),
			     m->steer == MDL_STEER_PORT ? world.port[m->target].name : "", o.ret,
			     uv == -2 ? "more than once" : uv < 0 ? "nothing" : steer_name(uv == XTAP_UPLINK_TO_PORT ?
			     MDL_STEER_PORT : uv == XTAP_UPLINK_FLOOD ? MDL_STEER_FLOOD : MDL_STEER_HOST));
			return -1;
		}
		if (m->steer != MDL_STEER_PORT)
			return 1;
		/* then the target's to-VM policy, on the frame as the uplink program made it: tc egress ... */
		inner = *fr;
		inner.dir = MDL_TO_VM;
		inner.port = m->target;
		inner.len = (int)o.out_len;
		memcpy(inner.data, o.out, o.out_len);
		res = check_frame(&inner, test, m);
		/* ... and devmap egress, the hook such a redirect really meets */
		check_devmap(fr, XTAP_PROG_FROM_UPLINK_XDP, uplink.ifindex, -1, 1u << inner.port, 1, inner.data,
			     inner.len);
		return res;
	}
	if (dir == MDL_FROM_VM)
		err = run_prog(XTAP_PROG_FROM_VM_XDP, 1, taps[port].ifindex, fr->data, fr->len, &o);
	else
		err = run_prog(XTAP_PROG_TO_VM_TC, 0, taps[port].ifindex, fr->data, fr->len, &o);
	if (err) {
		unrunnable++;
		take_delta(port, cdir, &d);
		return -1;
	}
	take_delta(port, cdir, &d);
	/*
	 * XDP hands a frame above the MTU (GSO or not: it cannot tell) to tc
	 * uncounted, with the length limit in its metadata; tc drops it MTU when
	 * it is no GSO frame. A test run cannot give tc that metadata, so the
	 * hand-over itself is checked and stands for tc's MTU drop.
	 */
	if (dir == MDL_FROM_VM && o.ret == XDP_PASS && d.n_verdicts == 0 && d.n_drops == 0) {
		struct xdp_meta meta;

		checked[T_INV_COUNTED]++;
		memcpy(&meta, o.out, sizeof(meta));
		if (o.out_len < sizeof(meta) || meta.magic != XDP_META_MAGIC || !meta.max_len ||
		    (int)meta.max_len != world.port[port].mtu + 14) {
			fail(T_INV_COUNTED, fr, "XDP passed the frame uncounted without a hand-over to tc "
			     "(meta magic %#x max_len %u)", meta.magic, meta.max_len);
			return 1;
		}
		reasons_str(m->reasons, want, sizeof(want));
		if (fr->len <= (int)meta.max_len) {
			/* too long for an XDP redirect, not for the MTU: tc carries out and counts the verdict */
			tc_deferred++;
			if (m->drop)
				fail(test, fr, "model: drop %s; program: handed to tc as %s", want,
				     verdict_name((int)meta.verdict));
			else if ((int)meta.verdict != steer_verdict(m->steer))
				fail(test, fr, "model: %s; program: handed to tc as %s",
				     verdict_name(steer_verdict(m->steer)), verdict_name((int)meta.verdict));
			else
				check_passed(fr, m);
			return 1;
		}
		mtu_deferred++;
		if (!m->drop)
			fail(test, fr, "model: pass (%s); program: MTU hand-over to tc", verdict_name(steer_verdict(m->steer)));
		else if (m->reason != MDL_DROP_MTU)
			fail(test, fr, "model: drop %s (breaks %s); program: MTU hand-over to tc",
			     mdl_reason_name(m->reason), want);
		return 0;
	}
	dropped = dir == MDL_FROM_VM ? o.ret == XDP_DROP || o.ret == XDP_ABORTED : o.ret == TC_ACT_SHOT;
	/*
	 * Sent to a local VM (to_port) and XDP_REDIRECT or XDP_DROP: the target's
	 * to-VM policy ran in this same program (bpf/deliver.h); a drop there is
	 * the target's, and the sender passed the frame.
	 */
	target_drop = 0;
	if (dir == MDL_FROM_VM && d.n_verdicts == 1 && d.verdict == XTAP_VERDICT_TO_PORT &&
	    m->steer == MDL_STEER_PORT && (o.ret == XDP_REDIRECT || o.ret == XDP_DROP)) {
		target_drop = check_deliver_step(fr, m->target, o.ret, o.out, (int)o.out_len);
		if (target_drop < 0)
			return 1;
		if (target_drop)
			dropped = 0;
	}

	/* counted once, with a reason exactly when dropped */
	checked[T_INV_COUNTED]++;
	if (d.n_verdicts != 1 || d.other_dir || d.n_drops != (dropped ? 1 : 0) ||
	    (d.verdict == XTAP_VERDICT_DROP) != dropped) {
		fail(T_INV_COUNTED, fr, "counted %d verdicts (last %s), %d drops (reason %s), %d in the other "
		     "direction; program %s", d.n_verdicts, verdict_name(d.verdict), d.n_drops,
		     mdl_reason_name(d.reason), d.other_dir, dropped ? "dropped" : "passed");
		return dropped ? 0 : 1;
	}
	reasons_str(m->reasons, want, sizeof(want));
	if (dropped) {
		if (d.reason == XTAP_DROP_RATE_PACKETS && m->rate_ok) {
			rate_drops++;
			return 0;
		}
		if (m->either & (1u << d.reason)) {
			either_frames++;
			return 0;
		}
		if (!m->drop)
			fail(test, fr, "model: pass (%s); program: drop %s", verdict_name(steer_verdict(m->steer)),
			     mdl_reason_name(d.reason));
		else if (d.reason != m->reason)
			fail(test, fr, "model: drop %s (breaks %s); program: drop %s", mdl_reason_name(m->reason), want,
			     mdl_reason_name(d.reason));
		return 0;
	}
	if (m->either)
		either_frames++;
	if (m->drop) {
		fail(test, fr, "model: drop %s; program: pass (%s)", want, verdict_name(d.verdict));
	} else if (dir == MDL_FROM_VM && d.verdict != steer_verdict(m->steer)) {
		fail(test, fr, "model: %s; program: %s", verdict_name(steer_verdict(m->steer)),
		     verdict_name(d.verdict));
	} else if (dir == MDL_FROM_VM && (o.ret == XDP_REDIRECT || target_drop) &&
		   (m->steer == MDL_STEER_PORT || m->steer == MDL_STEER_FLOOD)) {
		unsigned int targets = 0;
		int t;

		if (m->steer == MDL_STEER_PORT)
			targets = 1u << m->target;
		for (t = 0; m->steer == MDL_STEER_FLOOD && t < world.n_ports; t++)
			if (t != port && world.port[t].segment == world.port[port].segment)
				targets |= 1u << t;
		/* the frame as redirected: XDP may have completed its checksum */
		if (targets)
			check_devmap(fr, XTAP_PROG_FROM_VM_XDP, taps[port].ifindex, port, targets,
				     m->steer == MDL_STEER_PORT, o.out, (int)o.out_len);
	} else if (dir == MDL_TO_VM && d.verdict != XTAP_VERDICT_DELIVER) {
		fail(test, fr, "model: deliver; program: %s", verdict_name(d.verdict));
	}
	check_passed(fr, m);
	return 1;
}

/* ---- fragment groups: reassembled both ways, the result must not pass a deny rule ---- */

static void check_reassembly(const struct gen_frame *group, const int *passed, int n)
{
	static uint8_t first_wins[65536], last_wins[65536], have[65536];
	int i, total = -1, fam = 0, max_end = 0, k;
	uint8_t proto = 0, remote[16] = { 0 }, key_src[16], key_dst[16];
	uint32_t key_id = 0;
	uint8_t first_nh = 0, last_nh = 0;
	int have_first_nh = 0;
	const struct mdl_port *pt = &world.port[group[0].port];
	int cdir = group[0].dir == MDL_FROM_VM ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM;

	memset(have, 0, sizeof(have));
	for (i = 0; i < n; i++) {
		struct mdl_verdict m;
		int off, len;

		if (passed[i] != 1)
			continue;
		mdl_decide(&world, group[i].dir, group[i].port, group[i].data, group[i].len, &m);
		if (!m.f.frag || !m.f.frag_data || m.f.ip_end <= m.f.frag_data)
			continue;
		off = m.f.frag_off * 8;
		len = m.f.ip_end - m.f.frag_data;
		if (off + len > 65535)
			continue;
		/* RFC 791 / 8200: one datagram = same source, destination, identification (and IPv4 protocol) */
		if (fam && (m.f.family != fam || memcmp(m.f.src, key_src, 16) || memcmp(m.f.dst, key_dst, 16) ||
			    m.f.frag_id != key_id || (fam == 4 && m.f.proto != proto)))
			continue;
		if (!fam) {
			memcpy(key_src, m.f.src, 16);
			memcpy(key_dst, m.f.dst, 16);
			key_id = m.f.frag_id;
			fam = m.f.family;
			proto = m.f.proto;   /* IPv4: part of the key; IPv6: see first_nh, last_nh */
			memcpy(remote, group[i].dir == MDL_FROM_VM ? m.f.dst : m.f.src, 16);
		}
		/* RFC 8200 4.5: the reassembled packet's Next Header is the offset-0 fragment's */
		if (fam == 6 && !off) {
			if (!have_first_nh)
				first_nh = group[i].data[m.f.frag_data - 8];
			have_first_nh = 1;
			last_nh = group[i].data[m.f.frag_data - 8];
		}
		for (k = 0; k < len; k++) {
			if (!have[off + k])
				first_wins[off + k] = group[i].data[m.f.frag_data + k];
			last_wins[off + k] = group[i].data[m.f.frag_data + k];
			have[off + k] = 1;
		}
		if (!m.f.frag_more)
			total = off + len;
		if (off + len > max_end)
			max_end = off + len;
	}
	if (total < 0 || max_end > total)
		return;
	for (k = 0; k < total; k++)
		if (!have[k])
			return;
	checked[T_INV_REASSEMBLY]++;
	for (i = 0; i < 2; i++) {
		const uint8_t *dg = i ? last_wins : first_wins;
		uint8_t l4p = fam == 6 ? (i ? last_nh : first_nh) : proto;
		int at = 0, ports;
		uint16_t dport;

		/* IPv6: extension headers of the fragmentable part come first */
		while (fam == 6 && (l4p == 0 || l4p == 43 || l4p == 60 || l4p == 51) && at + 2 <= total) {
			int hl = l4p == 51 ? (dg[at + 1] + 2) * 4 : (dg[at + 1] + 1) * 8;

			l4p = dg[at];
			at += hl;
		}
		if (at > total)
			continue;
		dg += at;
		ports = (l4p == 6 || l4p == 17 || l4p == 132) && total - at >= mdl_min_l4(fam, l4p);
		dport = ports ? (uint16_t)(dg[2] << 8 | dg[3]) : 0;

		if (!mdl_acl_allows(&pt->acl[cdir], fam, remote, l4p, ports, dport))
			fail(T_INV_REASSEMBLY, &group[0], "%s reassembly (%d fragments, %d bytes) is denied "
			     "(proto %d port %d) but its fragments passed", i ? "last-wins" : "first-wins", n,
			     total, l4p, dport);
		if (group[0].dir == MDL_FROM_VM && l4p == 17 && ports &&
		    (fam == 4 ? dport == 67 || dport == 68 : dport == 546 || dport == 547))
			fail(T_INV_REASSEMBLY, &group[0], "%s reassembly is DHCP to port %d", i ? "last-wins" :
			     "first-wins", dport);
		if (fam == 6 && l4p == 58 && total - at >= 1 && dg[0] >= 133 && dg[0] <= 137)
			fail(T_INV_REASSEMBLY, &group[0], "%s reassembly is ND type %d", i ? "last-wins" :
			     "first-wins", dg[0]);
	}
}

/* ---- regression frames: "DIRECTION PORT HEX" per line ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void replay_group(struct gen_frame *grp, int *res, int n)
{
	if (n > 1) {
		cur_group = grp;
		cur_group_n = n;
		check_reassembly(grp, res, n);
		cur_group = NULL;
	}
}

static void replay_file(const char *path)
{
	static char line[2 * GEN_MAX + 128];
	static struct gen_frame grp[GEN_GROUP_MAX];
	char tag[32] = "", prev[32] = "";
	int n = 0, res[GEN_GROUP_MAX];
	FILE *f = fopen(path, "r");
	struct mdl_verdict m;

	if (!f) {
		perror(path);
		failures[T_REGRESS]++;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char dir[32], port[32], *hex;
		struct gen_frame *fr;
		int i, at;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%31s %31s %n", dir, port, &at) != 2)
			continue;
		hex = line + at;
		for (i = 0; hexval(hex[2 * i]) >= 0 && hexval(hex[2 * i + 1]) >= 0 && i < GEN_MAX; i++)
			;
		tag[0] = 0;
		sscanf(hex + 2 * i, "%31s", tag);
		/* frames tagged alike are the fragments of one datagram: reassembled after the last */
		if (n && (!tag[0] || strcmp(tag, prev) || n == GEN_GROUP_MAX)) {
			replay_group(grp, res, n);
			n = 0;
		}
		fr = &grp[n];
		memset(fr, 0, sizeof(*fr));
		fr->dir = !strcmp(dir, "from-vm") ? MDL_FROM_VM : !strcmp(dir, "to-vm") ? MDL_TO_VM : MDL_FROM_UPLINK;
		for (i = 0; i < world.n_ports; i++)
			if (!strcmp(port, world.port[i].name))
				fr->port = i;
		for (i = 0; hexval(hex[2 * i]) >= 0 && hexval(hex[2 * i + 1]) >= 0 && i < GEN_MAX; i++)
			fr->data[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
		fr->len = i;
		fr->kind = GK_OTHER_ETH;
		res[n] = check_frame(fr, T_REGRESS, &m);
		if (tag[0]) {
			snprintf(prev, sizeof(prev), "%s", tag);
			n++;
		}
	}
	replay_group(grp, res, n);
	fclose(f);
}

static void replay(const char *dir)
{
	struct dirent **names;
	char path[4096];
	int n, i;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return;
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);

		if (l > 4 && !strcmp(names[i]->d_name + l - 4, ".hex")) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			replay_file(path);
		}
		free(names[i]);
	}
	free(names);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 't' }, { "seed", required_argument, NULL, 's' },
		{ "frames", required_argument, NULL, 'n' }, { "regress", required_argument, NULL, 'r' },
		{ "save", required_argument, NULL, 'w' }, { "show", required_argument, NULL, 'v' },
		{}
	};
	static struct gen_frame group[GEN_GROUP_MAX];
	double seconds = 55, t0, t;
	uint64_t seed = 0, max_frames = 0, cases = 0;
	const char *regress = NULL;
	struct gen g;
	int c, i, passed = 0, failed = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': seconds = atof(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': max_frames = strtoull(optarg, NULL, 0); break;
		case 'r': regress = optarg; break;
		case 'w': save_file = fopen(optarg, "a"); break;
		case 'v': show_max = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--seconds N] [--seed S] [--frames N] [--regress DIR] "
				"[--save FILE] [--show N]\n", argv[0]);
			return 2;
		}
	}
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
	}
	world_init(&world);
	if (setup())
		return 77;
	for (i = 0; i < world.n_ports; i++)
		read_stats(i, &snap[i]);
	printf("fuzz: seed %llu (replay: --seed %llu), %.0f s\n", (unsigned long long)seed,
	       (unsigned long long)seed, seconds);
	if (regress)
		replay(regress);
	printf("fuzz: %llu regression frames replayed, %llu failed\n", (unsigned long long)checked[T_REGRESS],
	       (unsigned long long)failures[T_REGRESS]);
	gen_init(&g, &world, seed);
	t0 = now_s();
	while (seconds > 0) {
		int n = gen_case(&g, group), res[GEN_GROUP_MAX];
		struct mdl_verdict m;

		for (i = 0; i < n; i++)
			res[i] = check_frame(&group[i], group[i].kind, &m);
		frames += (uint64_t)n;
		if (n > 1) {
			cur_group = group;
			cur_group_n = n;
			check_reassembly(group, res, n);
			cur_group = NULL;
		}
		if (!(++cases & 1023)) {
			sweep(&group[n - 1]);
			t = now_s() - t0;
			if (t >= seconds || (max_frames && frames >= max_frames))
				break;
		}
	}
	sweep(&group[0]);
	t = now_s() - t0;
	printf("fuzz: %llu generated frames checked in %.1f s: %.0f frames/s; %llu disagreements\n",
	       (unsigned long long)frames, t, frames / t, (unsigned long long)disagreements);
	printf("fuzz: of the program runs, %llu were refused by BPF_PROG_TEST_RUN (XDP frames under 14 bytes, tc "
	       "frames without a whole IP header); %llu rate drops accepted on the packet-limited port; %llu frames "
	       "above the MTU and %llu long ones below it handed to tc (checked by their metadata); %llu frames the "
	       "spec leaves open (pass or drop accepted)\n", (unsigned long long)unrunnable,
	       (unsigned long long)rate_drops, (unsigned long long)mtu_deferred, (unsigned long long)tc_deferred,
	       (unsigned long long)either_frames);
	printf("fuzz: %llu uplink frames above their port's MTU handed to tc and checked at its tc egress; %llu flood "
	       "copies above a receiver's MTU not checked (the kernel refuses them before its devmap egress, "
	       "uncounted: docs/packet-rules.md)\n", (unsigned long long)uplink_to_tc,
	       (unsigned long long)devmap_over_mtu);
	for (i = 0; i < T_COUNT; i++) {
		const char *name = i < GK_COUNT ? gen_kind_name[i] : test_name[i - GK_COUNT];

		if (failures[i])
			failed++;
		else
			passed++;
		printf("%s %s: %llu checked, %llu failed\n", failures[i] ? "FAIL" : "ok  ", name,
		       (unsigned long long)checked[i], (unsigned long long)failures[i]);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
