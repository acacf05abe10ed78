// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's datapaths without a syscall per frame: BPF_PROG_TEST_RUN in
 * live-frames mode (BPF_F_TEST_XDP_LIVE_FRAMES) with the ingress ifindex of
 * VM A's tap (or of an uplink veth) pushes N frames through the real path in
 * one call, in batches of 64, as a NIC driver's NAPI poll would:
 *
 *   xdp-drop    XDP_DROP: the generator's own ceiling
 *   bare        bare_redirect: devmap redirect into tap B, no policy
 *   xtap        xtapd's xtap_from_vm with the full policy (A's from-VM and B's
 *               to-VM, bpf/deliver.h), the redirect through a devmap entry
 *               without an egress program, into tap B
 *   classic     XDP_PASS: live frames go up the stack; Linux bridge, libvirt's
 *               clean-traffic with ebtables(-nft), htb on B's egress, into B
 *   nft         the same with the rules in an nftables bridge table, in a
 *               namespace of its own (no ebtables there)
 *   up-*        uplink -> VM from a veth: bare redirect; xtap_from_uplink; bridge
 *
 * Nobody reads tap B: its queue (1000 frames) is full after the first 1000
 * of a call, so every path is measured up to a full tap queue (the frame
 * reaches B's transmit and is dropped there). Arrivals are counted where the
 * frame reaches B: the xdp_devmap_xmit tracepoint (redirect paths; tun's
 * tx_dropped counts one per bulk of 16 there) or B's tx_dropped plus the
 * frames queued (stack paths).
 *
 * A path's rate is 1 / the kernel's ns per frame for the call (the test-run
 * timer, which stops while the task is scheduled out). Rounds interleave the
 * paths; medians of the rounds; ratios of medians for the headlines.
 *
 * Writes $XTAP_BUILD/bench/kernel_path.csv (+ .png with gnuplot).
 * Environment: XTAP_BUILD (default build), KPATH_ROUNDS (7; headlines need
 * at least 5), KPATH_SECONDS (0.4 per call). --only KEY[,KEY] measures
 * those paths alone (for perf record), --no-stats skips the program-time table.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "agent_env.h"
#include "bench_bare.skel.h"
#include "bench_net.h"
#include "bench_util.h"
#include "bench_xmit_count.skel.h"
#include "bpf/xmit_count.h"

#define CPU_GEN    0
#define MAX_ROUNDS 15
#define N_SIZES    2
#define CALIBRATE_FRAMES 20000

static const int sizes[N_SIZES] = { 64, 1514 };

enum { K_DROP, K_BARE, K_XTAP, K_CLASSIC, K_NFT, K_UP_BARE, K_UP_XTAP, K_UP_CLASSIC, N_K };

struct kpath {
	const char *key, *label;
	int enabled;
	int prog_fd;
	int ifindex;          /* ingress: the generator's frames arrive here */
	int netns;            /* fd of the namespace the path lives in */
	struct test_tap *rx;  /* tap B, held open, never read during a call; NULL: xdp-drop */
	int rx_fd;
	int redirect;         /* arrivals from the devmap_xmit tracepoint, else B's tx_dropped + queued */
	int up;               /* frames from the outside */
	struct pkt *frame[N_SIZES];
	uint32_t n[N_SIZES];  /* frames per call, from calibration */
	double ns[N_SIZES][MAX_ROUNDS];    /* kernel ns per frame */
	double wall[N_SIZES][MAX_ROUNDS];  /* wall-clock ns per frame */
	uint64_t frames, arrived, queued, calls, mismatched;
};

static struct kpath kp[N_K] = {
	[K_DROP]       = { "xdp-drop",   "XDP_DROP (generator ceiling)" },
	[K_BARE]       = { "bare",       "bare XDP redirect (devmap)" },
	[K_XTAP]       = { "xtap",       "xtap: full policy" },
	[K_CLASSIC]    = { "classic",    "classic: bridge+ebtables+htb" },
	[K_NFT]        = { "nft",        "classic: bridge+nftables+htb" },
	[K_UP_BARE]    = { "up-bare",    "uplink->VM bare redirect" },
	[K_UP_XTAP]    = { "up-xtap",    "uplink->VM xtap" },
	[K_UP_CLASSIC] = { "up-classic", "uplink->VM classic: bridge+htb" },
};

static int rounds = 7;
static double call_s = 0.4;
static const char *ebt;
static int main_ns, nft_ns;
static __u32 main_ns_ino;   /* the redirect rows' taps live here */
static struct bare_bpf *bare;
static struct xmit_count_bpf *xc;
static struct test_tap cla, clb, cna, cnb, bra, brb;

static void enter_ns(int fd)
{
	if (setns(fd, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
}

/* The program xtapd attached to ifname (xtap_from_vm, xtap_from_uplink). */
static int attached_prog(const char *ifname)
{
	__u32 id = 0;
	int fd, ifindex = if_nametoindex(ifname);

	if (!ifindex || bpf_xdp_query_id(ifindex, 0, &id) || !id || (fd = bpf_prog_get_fd_by_id(id)) < 0)
		die("no XDP program on %s (xtapd should have attached one): %s", ifname, strerror(errno));
	return fd;
}

static uint64_t xmit_arrivals(int ifindex)
{
	struct xmit_key key = { main_ns_ino, ifindex };
	struct xmit_count c = {};

	bpf_map_lookup_elem(bpf_map__fd(xc->maps.xmit_counts), &key, &c);
	return c.sent + c.drops;
}

/* tap's tx_dropped in the current namespace: the stack's frames B's full queue refused. */
static uint64_t tx_dropped(const char *dev)
{
	char out[8192];
	json_object *j, *o;
	uint64_t v = 0;

	sh_out(out, sizeof(out), "ip -j -s link show dev %s", dev);
	j = json_tokener_parse(out);
	o = j ? json_object_array_get_idx(j, 0) : NULL;
	if (o && json_object_object_get_ex(o, "stats64", &o) && json_object_object_get_ex(o, "tx", &o) &&
	    json_object_object_get_ex(o, "dropped", &o))
		v = json_object_get_int64(o);
	else
		die("no tx statistics for %s in `ip -j -s link`", dev);
	json_object_put(j);
	return v;
}

static uint64_t arrivals(struct kpath *p)
{
	if (!p->rx)
		return 0;
	return p->redirect ? xmit_arrivals(p->rx->ifindex) : tx_dropped(p->rx->name);
}

/* Reads B's queue empty; frames that differ from the one sent are counted (the host's own IGMP, say). */
static uint64_t drain(struct kpath *p, int si)
{
	static uint8_t buf[65536];
	uint8_t vnet[12];
	uint64_t n = 0;
	int len;

	if (!p->rx)
		return 0;
	while ((len = tap_read(p->rx, buf, sizeof(buf), vnet)) >= 0) {
		n++;
		if (si >= 0 && ((size_t)len != p->frame[si]->len || memcmp(buf, p->frame[si]->data, len)))
			p->mismatched++;
	}
	return n;
}

/* One call of n frames; kernel and wall-clock ns per frame. */
static void call(struct kpath *p, int si, uint32_t n, double *ns, double *wall, int count)
{
	struct xdp_md ctx = { .data_end = sizes[si], .ingress_ifindex = p->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->frame[si]->data, .data_size_in = sizes[si],
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	uint64_t a0, a1;
	double t0, t1;

	enter_ns(p->netns);
	drain(p, -1);
	a0 = arrivals(p);
	t0 = now_s();
	if (bpf_prog_test_run_opts(p->prog_fd, &o))
		die("%s: BPF_PROG_TEST_RUN with live frames: %s (needs Linux 5.18 or later)", p->key, strerror(errno));
	t1 = now_s();
	/* Frames the stack still holds (a qdisc, a backlog) arrive before we count. */
	sleep_s(0.02);
	a1 = arrivals(p);
	if (count) {
		uint64_t q = drain(p, si);

		p->frames += n;
		p->queued += q;
		p->arrived += a1 - a0 + (p->redirect ? 0 : q);
		p->calls++;
	} else {
		drain(p, -1);
	}
	*ns = o.duration;
	*wall = (t1 - t0) * 1e9 / n;
	enter_ns(main_ns);
}

/* ---- setup ---- */

static void setup_classic(void)
{
	/* 10gbit would bind at 1514 B (0.83 Mpps); 100gbit measures htb's cost, not its limit. */
	bench_classic_ebtables(ebt, "clbr0", &cla, "cla", &clb, "clb", "100gbit");
	sh("ip link add upc0 type veth peer name outc0 && ip link set upc0 master clbr0");
	sh("ip link set upc0 up && ip link set outc0 up");
	kp[K_CLASSIC] = (struct kpath){ .key = kp[K_CLASSIC].key, .label = kp[K_CLASSIC].label,
		.prog_fd = bpf_program__fd(bare->progs.bare_pass), .ifindex = cla.ifindex, .rx = &clb };
	kp[K_UP_CLASSIC] = (struct kpath){ .key = kp[K_UP_CLASSIC].key, .label = kp[K_UP_CLASSIC].label,
		.prog_fd = bpf_program__fd(bare->progs.bare_pass), .ifindex = if_nametoindex("upc0"), .rx = &clb,
		.up = 1 };
}

static void setup_nft(void)
{
	nft_ns = bench_classic_nft("cnbr0", &cna, "cna", &cnb, "cnb", "100gbit");
	kp[K_NFT] = (struct kpath){ .key = kp[K_NFT].key, .label = kp[K_NFT].label,
		.prog_fd = bpf_program__fd(bare->progs.bare_pass), .ifindex = cna.ifindex, .rx = &cnb,
		.netns = nft_ns };
}

static void setup_bare(void)
{
	struct bpf_devmap_val dv = {};
	__u32 zero = 0;
	int drop = bpf_program__fd(bare->progs.bare_drop), redir = bpf_program__fd(bare->progs.bare_redirect);

	bra = bench_tap("bra");
	brb = bench_tap("brb");
	dv.ifindex = brb.ifindex;
	if (bpf_map_update_elem(bpf_map__fd(bare->maps.bare_target), &zero, &dv, BPF_ANY))
		die("bare_target: %s", strerror(errno));
	sh("ip link add upb0 type veth peer name outb0 && ip link set upb0 up && ip link set outb0 up");
	kp[K_DROP] = (struct kpath){ .key = kp[K_DROP].key, .label = kp[K_DROP].label, .prog_fd = drop,
		.ifindex = bra.ifindex };
	kp[K_BARE] = (struct kpath){ .key = kp[K_BARE].key, .label = kp[K_BARE].label, .prog_fd = redir,
		.ifindex = bra.ifindex, .rx = &brb, .redirect = 1 };
	kp[K_UP_BARE] = (struct kpath){ .key = kp[K_UP_BARE].key, .label = kp[K_UP_BARE].label, .prog_fd = redir,
		.ifindex = if_nametoindex("upb0"), .rx = &brb, .redirect = 1, .up = 1 };
}

static struct test_tap xta, xtb;

static void setup_xtap(void)
{
	bench_xtap_ports(1);
	/* The classic rows' htb on B, in xtap: B's to-VM limit, set as high. */
	xctl("rate set vmb to-vm --rate 100g");
	xta = (struct test_tap){ .fd = bench_xtap_tap("vma"), .ifindex = if_nametoindex("vma"), .name = "vma" };
	xtb = (struct test_tap){ .fd = bench_xtap_tap("vmb"), .ifindex = if_nametoindex("vmb"), .name = "vmb" };
	kp[K_XTAP] = (struct kpath){ .key = kp[K_XTAP].key, .label = kp[K_XTAP].label,
		.prog_fd = attached_prog("vma"), .ifindex = xta.ifindex, .rx = &xtb, .redirect = 1 };
	kp[K_UP_XTAP] = (struct kpath){ .key = kp[K_UP_XTAP].key, .label = kp[K_UP_XTAP].label,
		.prog_fd = attached_prog("uplink0"), .ifindex = if_nametoindex("uplink0"), .rx = &xtb,
		.redirect = 1, .up = 1 };
}

/* ---- program time (kernel.bpf_stats, enabled only for this process's fd) ---- */

static void prog_time(int fd, uint64_t *cnt, uint64_t *ns)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("bpf_prog_get_info_by_fd: %s", strerror(errno));
	*cnt = info.run_cnt;
	*ns = info.run_time_ns;
}

/*
 * Where a frame's time goes: each program's own run time (bpf_stats) against
 * the whole path's ns per frame, in a separate call (the stats' two clock
 * reads per program run make it slower than the measured rounds).
 */
static void stats_table(void)
{
	struct { const char *what; int path; int fd; } rows[] = {
		{ "bare_redirect (bare)", K_BARE, kp[K_BARE].prog_fd },
		/* each applies B's to-VM policy too: B's devmap entry has no egress program */
		{ "xtap_from_vm (xtap)", K_XTAP, kp[K_XTAP].prog_fd },
		{ "xtap_from_uplink (up-xtap)", K_UP_XTAP, kp[K_UP_XTAP].prog_fd },
	};
	int sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	double path_ns[N_K] = { 0 }, wall, per_run, floor_ns = 0;
	uint64_t c0[3], t0[3], c1, t1;
	size_t i;
	int k;

	if (sfd < 0) {
		printf("\n(program time: BPF_ENABLE_STATS failed: %s)\n", strerror(errno));
		return;
	}
	printf("\nwhere a 64 B frame's time goes (BPF_ENABLE_STATS run time per program run, one call per path with\n"
	       "stats on; the path's ns/frame in that same call; the rest is the kernel's: redirect, devmap, tun).\n"
	       "Each run's time includes the stats' own two clock reads: bare_redirect, which does next to nothing,\n"
	       "is that floor; '- floor' subtracts it:\n");
	printf("%-40s %8s %10s %12s %9s\n", "program (path)", "ns/run", "- floor", "runs/frame", "path ns");
	for (k = K_BARE; k <= K_UP_XTAP; k++) {
		if (k != K_BARE && k != K_XTAP && k != K_UP_XTAP)
			continue;
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			if (rows[i].path == k)
				prog_time(rows[i].fd, &c0[i], &t0[i]);
		call(&kp[k], 0, kp[k].n[0], &path_ns[k], &wall, 0);
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			if (rows[i].path != k)
				continue;
			prog_time(rows[i].fd, &c1, &t1);
			per_run = c1 > c0[i] ? (double)(t1 - t0[i]) / (c1 - c0[i]) : 0.0;
			if (!i)
				floor_ns = per_run;
			printf("%-40s %8.1f %10.1f %12.2f %9.1f\n", rows[i].what, per_run, per_run - floor_ns,
			       (double)(c1 - c0[i]) / kp[k].n[0], path_ns[k]);
		}
	}
	close(sfd);
}

/* ---- output ---- */

static double med(struct kpath *p, int si)
{
	double mpps[MAX_ROUNDS];
	int r;

	for (r = 0; r < rounds; r++)
		mpps[r] = 1e3 / p->ns[si][r];
	return stats(mpps, rounds).med;
}

static void print_table(void)
{
	int si, k, r;

	printf("\n%-32s %5s %24s %7s %10s %9s\n", "path", "bytes", "Mpps median [min-max]", "Gbit/s",
	       "ns/frame", "wall Mpps");
	for (si = 0; si < N_SIZES; si++)
		for (k = 0; k < N_K; k++) {
			struct kpath *p = &kp[k];
			double mpps[MAX_ROUNDS], wmpps[MAX_ROUNDS];
			struct stat3 s;
			char range[64];

			if (!p->enabled)
				continue;
			for (r = 0; r < rounds; r++) {
				mpps[r] = 1e3 / p->ns[si][r];
				wmpps[r] = 1e3 / p->wall[si][r];
			}
			s = stats(mpps, rounds);
			snprintf(range, sizeof(range), "%.3f [%.3f-%.3f]", s.med, s.min, s.max);
			printf("%-32s %5d %24s %7.2f %10.1f %9.3f\n", p->label, sizes[si], range,
			       s.med * 1e6 * sizes[si] * 8 / 1e9, 1e3 / s.med, stats(wmpps, rounds).med);
		}
}

/* The median and range of a/b paired round by round (the same round's calls, made one after the other). */
static void paired(const char *name, int a, int b, int si)
{
	double v[MAX_ROUNDS];
	struct stat3 s;
	int r;

	if (!kp[a].enabled || !kp[b].enabled)
		return;
	for (r = 0; r < rounds; r++)
		v[r] = kp[b].ns[si][r] / kp[a].ns[si][r];
	s = stats(v, rounds);
	printf("  %4d B %-18s of medians %6.2f, paired by round %6.2f [%.2f-%.2f]\n", sizes[si], name,
	       med(&kp[a], si) / med(&kp[b], si), s.med, s.min, s.max);
}

/* "a/b=x.xx" of medians, or nothing when a path is off. */
static int ratio(char *buf, size_t len, const char *name, int a, int b, int si)
{
	if (!kp[a].enabled || !kp[b].enabled)
		return 0;
	return snprintf(buf, len, " %s=%.2f", name, med(&kp[a], si) / med(&kp[b], si));
}

static void headline(const char *prefix, int up, int si)
{
	char line[256];
	int n = 0;

	if (up) {
		n += ratio(line + n, sizeof(line) - n, "xtap/classic", K_UP_XTAP, K_UP_CLASSIC, si);
		n += ratio(line + n, sizeof(line) - n, "xtap/bare", K_UP_XTAP, K_UP_BARE, si);
	} else {
		n += ratio(line + n, sizeof(line) - n, "xtap/classic", K_XTAP, K_CLASSIC, si);
		n += ratio(line + n, sizeof(line) - n, "xtap/bare", K_XTAP, K_BARE, si);
		n += ratio(line + n, sizeof(line) - n, "xtap/nft", K_XTAP, K_NFT, si);
	}
	if (n)
		printf("%s%s-%d%s\n", prefix, up ? "kernel-up" : "kernel", sizes[si], line);
}

/* BUILD/bench/kernel_path.csv: every call (kernel and wall ns per frame), then median/min/max per row and size. */
static void write_csv_and_plot(const char *build)
{
	struct bench_out o;
	char script[2048];
	int si, k, r;

	bench_out_open(&o, build, "kernel_path");
	fprintf(o.f, "path,frame_bytes,stat,mpps,ns_per_frame,wall_mpps\n");
	fprintf(o.d, "# path 64B_med 64B_min 64B_max 1514B_med 1514B_min 1514B_max (Mpps)\n");
	for (k = 0; k < N_K; k++) {
		struct kpath *p = &kp[k];

		if (!p->enabled)
			continue;
		fprintf(o.d, "%s", p->key);
		for (si = 0; si < N_SIZES; si++) {
			double mpps[MAX_ROUNDS];
			struct stat3 st;

			for (r = 0; r < rounds; r++) {
				mpps[r] = 1e3 / p->ns[si][r];
				fprintf(o.f, "%s,%d,round%d,%.4f,%.1f,%.4f\n", p->key, sizes[si], r + 1, mpps[r],
					p->ns[si][r], 1e3 / p->wall[si][r]);
			}
			st = stats(mpps, rounds);
			fprintf(o.f, "%s,%d,median,%.4f,%.1f,\n", p->key, sizes[si], st.med, 1e3 / st.med);
			fprintf(o.f, "%s,%d,min,%.4f,%.1f,\n", p->key, sizes[si], st.min, 1e3 / st.min);
			fprintf(o.f, "%s,%d,max,%.4f,%.1f,\n", p->key, sizes[si], st.max, 1e3 / st.max);
			fprintf(o.d, " %.4f %.4f %.4f", st.med, st.min, st.max);
		}
		fprintf(o.d, "\n");
	}
	snprintf(script, sizeof(script),
		 "set terminal pngcairo size 900,500; set output '%s';"
		 " set termoption noenhanced; set title 'kernel paths, BPF_PROG_TEST_RUN live frames (no syscall per frame). Median, min-max of %d rounds';"
		 " set ylabel 'Mpps'; set logscale y; set style data histograms; set style histogram errorbars gap 1 lw 1;"
		 " set style fill solid 0.6 border -1; set key top right; set grid ytics; set xtics rotate by -20;"
		 " plot '%s' using 2:3:4:xtic(1) title '64 B', '' using 5:6:7 title '1514 B'",
		 o.png, rounds, o.dat);
	bench_out_plot(&o, script);
}

static void checks(void)
{
	json_object *st = ctl_json("stats");
	char out[8192], *s;
	unsigned long long ebt_ok = 0, nft_ok = 0;
	int k;

	printf("\nchecks (measured calls only; calibration and the program-time calls not counted):\n");
	printf("  %-12s %14s %14s %9s %14s %11s\n", "path", "frames", "reached B", "share", "queued/call",
		"differing");
	for (k = 0; k < N_K; k++) {
		struct kpath *p = &kp[k];

		if (!p->enabled || !p->rx)
			continue;
		printf("  %-12s %14llu %14llu %8.2f%% %14.0f %11llu\n", p->key, (unsigned long long)p->frames,
		       (unsigned long long)p->arrived, 100.0 * p->arrived / p->frames,
		       (double)p->queued / p->calls, (unsigned long long)p->mismatched);
	}
	printf("  reached B: devmap_xmit tracepoint sent+drops (redirect rows), B's tx_dropped + frames queued\n"
	       "  (stack rows). queued/call: what B's queue held when the call ended (its 1000-frame ring; a\n"
	       "  redirect leaves up to 1000 queued, the stack path up to 1000 + htb's). differing: frames read\n"
	       "  from B that are not byte-identical to the frame sent.\n");
	sh_out(out, sizeof(out), "%s -t nat -L I-cla --Lc 2>&1", ebt);
	if ((s = strstr(out, "-p IPv4 -j ACCEPT")) && (s = strstr(s, "pcnt = ")))
		ebt_ok = strtoull(s + 7, NULL, 10);
	nft_ok = bench_nft_accepted(nft_ns, "cna");
	printf("  policy saw every frame (all calls, calibration included): ebtables I-cla IPv4 ACCEPT %llu,\n"
	       "  nft i_cna accept %llu; xtap vma from-vm to_port %lld, drops %lld; vmb to-vm deliver %lld\n",
	       ebt_ok, nft_ok, (long long)jget(st, "vma", "from-vm", "verdicts", "to_port", "packets", NULL),
	       (long long)jget(st, "vma", "from-vm", "verdicts", "drop", "packets", NULL),
	       (long long)jget(st, "vmb", "to-vm", "verdicts", "deliver", "packets", NULL));
	json_object_put(st);
}

static void bridge_nf(const char *where)
{
	char v[32] = "n/a";
	FILE *f = fopen("/proc/sys/net/bridge/bridge-nf-call-iptables", "r");

	if (f && fgets(v, sizeof(v), f))
		v[strcspn(v, "\n")] = 0;
	if (f)
		fclose(f);
	printf("%s bridge-nf-call-iptables=%s", where, v);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--only KEY[,KEY...]] [--no-stats]\n"
		"keys: xdp-drop bare xtap classic nft up-bare up-xtap up-classic\n"
		"(environment: XTAP_BUILD, KPATH_ROUNDS, KPATH_SECONDS)\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *only = NULL, *e;
	const char *build = "build";
	int with_stats = 1, si, r, k, i;
	double t_start = now_s(), wall;
	struct stat ns_st;
	cpu_set_t cpu;

	bench_name = "kernel_path";
	bench_cleanup = env_teardown;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--no-stats"))
			with_stats = 0;
		else
			usage(argv[0]);
	}
	if ((e = getenv("XTAP_BUILD")))
		build = e;
	if ((e = getenv("KPATH_ROUNDS")))
		rounds = atoi(e);
	if ((e = getenv("KPATH_SECONDS")))
		call_s = atof(e);
	if (rounds < 1 || rounds > MAX_ROUNDS || call_s < 0.01)
		die("1 <= KPATH_ROUNDS <= %d, KPATH_SECONDS >= 0.01", MAX_ROUNDS);
	if (system("command -v nft >/dev/null 2>&1"))
		die("no nft command (Debian: apt-get install nftables)");
	ebt = bench_ebtables();
	/* The call runs on the calling CPU: keep it on one. */
	CPU_ZERO(&cpu);
	CPU_SET(CPU_GEN, &cpu);
	if (sched_setaffinity(0, sizeof(cpu), &cpu))
		die("pinning to CPU %d: %s", CPU_GEN, strerror(errno));

	if (sandbox_enter())
		return 1;
	main_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (main_ns < 0 || fstat(main_ns, &ns_st))
		die("/proc/self/ns/net: %s", strerror(errno));
	main_ns_ino = ns_st.st_ino;
	bare = bare_bpf__open_and_load();
	xc = xmit_count_bpf__open_and_load();
	if (!bare || !xc || xmit_count_bpf__attach(xc))
		die("loading the bench's BPF programs: %s", strerror(errno));
	bench_xtapd_start();
	setup_bare();
	setup_xtap();
	setup_classic();
	setup_nft();
	for (k = 0; k < N_K; k++) {
		char list[256], key[32];

		snprintf(list, sizeof(list), ",%s,", only ? only : "");
		snprintf(key, sizeof(key), ",%s,", kp[k].key);
		kp[k].enabled = !only || strstr(list, key);
		if (!kp[k].netns)
			kp[k].netns = main_ns;
		for (si = 0; si < N_SIZES; si++)
			kp[k].frame[si] = bench_frame(kp[k].up ? BENCH_MAC_UP : BENCH_MAC_A,
						      kp[k].up ? BENCH_IP_UP : BENCH_IP_A, sizes[si]);
	}

	printf("kernel datapaths, no syscall per frame: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, ingress\n"
	       "ifindex = VM A's tap (up-*: an uplink veth), batches of 64, on CPU %d. UDP/IPv4, full checksums.\n",
	       CPU_GEN);
	printf("Nobody reads tap B: its 1000-frame queue is full after ~1000 frames of a call, so every path is\n"
	       "measured up to a full tap queue (frames reach B's transmit and are dropped there).\n");
	printf("%d rounds, paths interleaved in each round, ~%.2f s per call; Mpps = 1000 / the kernel's ns per\n"
	       "frame for the call (test-run timer); wall Mpps: the same from the wall clock around the syscall.\n",
	       rounds, call_s);
	printf("classic: bridge + libvirt's clean-traffic with %s (nat PREROUTING) + htb 100gbit on B;", ebt);
	bridge_nf("");
	printf("\nnft: the same rules in an nftables bridge table (prerouting, priority -300), own namespace;");
	enter_ns(nft_ns);
	bridge_nf("");
	enter_ns(main_ns);
	printf("\nxtap: anti-spoof, 64 ACL rules + allow, vma from-vm 100g/100m pps, vmb to-vm 100g\n");
	printf("load average before: ");
	fflush(stdout);
	if (system("cut -d' ' -f1-3 /proc/loadavg")) {}

	/* Frames per call: about KPATH_SECONDS at the path's rate. */
	for (k = 0; k < N_K; k++)
		for (si = 0; si < N_SIZES; si++) {
			double ns, n;

			if (!kp[k].enabled)
				continue;
			call(&kp[k], si, CALIBRATE_FRAMES, &ns, &wall, 0);
			n = call_s * 1e9 / (ns > 1 ? ns : 1);
			kp[k].n[si] = n < 1e5 ? 100000 : n > 5e7 ? 50000000 : (uint32_t)n;
		}
	for (r = 0; r < rounds; r++)
		for (si = 0; si < N_SIZES; si++)
			for (k = 0; k < N_K; k++)
				if (kp[k].enabled)
					call(&kp[k], si, kp[k].n[si], &kp[k].ns[si][r], &kp[k].wall[si][r], 1);

	printf("load average after: ");
	fflush(stdout);
	if (system("cut -d' ' -f1-3 /proc/loadavg")) {}
	print_table();
	printf("\nratios (Mpps over Mpps), this run:\n");
	for (si = 0; si < N_SIZES; si++) {
		paired("xtap/classic", K_XTAP, K_CLASSIC, si);
		paired("xtap/nft", K_XTAP, K_NFT, si);
		paired("xtap/bare", K_XTAP, K_BARE, si);
		paired("nft/classic", K_NFT, K_CLASSIC, si);
		paired("bare/xdp-drop", K_BARE, K_DROP, si);
		paired("up xtap/classic", K_UP_XTAP, K_UP_CLASSIC, si);
		paired("up xtap/bare", K_UP_XTAP, K_UP_BARE, si);
	}
	checks();
	if (with_stats && kp[K_BARE].enabled && kp[K_XTAP].enabled && kp[K_UP_XTAP].enabled)
		stats_table();
	write_csv_and_plot(build);
	printf("total %.0f s\n", now_s() - t_start);
	/* Headlines are medians of at least 5 interleaved rounds (issue 15). */
	if (rounds < 5)
		printf("no headlines: KPATH_ROUNDS=%d, they need at least 5\n", rounds);
	for (si = 0; rounds >= 5 && si < N_SIZES; si++)
		headline("headline ", 0, si);
	for (si = 0; rounds >= 5 && si < N_SIZES; si++)
		headline("headline ", 1, si);
	env_teardown();
	xmit_count_bpf__destroy(xc);
	bare_bpf__destroy(bare);
	return 0;
}
