// SPDX-License-Identifier: GPL-2.0
/*
 * As a VMM writes a tap (a syscall per frame; bench/kernel_path.c measures the
 * kernel's paths without it). Guest-TX throughput: frames written to tap A's fd by a writer thread pinned
 * to CPU 0, read from tap B's fd by a reader thread pinned to CPU 1, both fds
 * O_NONBLOCK with a 12-byte virtio-net header, as QEMU uses them. UDP/IPv4
 * frames of 64 and 1514 bytes with full checksums (no offload flags).
 *
 *   classic   Linux bridge, ebtables anti-spoofing on A's ingress (libvirt's
 *             clean-traffic rules), htb at 10 Gbit/s on B's egress
 *   nft       the same with the rules in an nftables bridge table, in a
 *             network namespace of its own
 *   bare      XDP on A redirecting everything to B through a devmap (no policy)
 *   xtap      the real xtapd: ports A and B made with xtapctl, 64 ACL rules on
 *             A from-vm that do not match + a final allow, default deny,
 *             from-vm rate limit 100 Gbit/s + 100 Mpps, anti-spoofing
 *   xtap-ct   the same ports, the final allow made stateful (--stateful) just
 *             before the measurement: the frames are one tracked UDP flow
 *   xdp-drop  XDP_DROP on the writer's tap: the ceiling of the write path
 *
 * Optional (skipped with --no-uplink): uplink -> VM, frames sent into a veth's
 * peer with an AF_PACKET socket (writer, CPU 0) and read from VM tap B
 * (reader, CPU 1): classic bridge with the veth vs xtap (XDP on the veth).
 *
 * Every measurement: WARMUP s, then a window of SECONDS s; RUNS runs per row
 * and size, rows interleaved in each run. A run in which the writer or the
 * reader waited for its CPU (another task ran there; schedstat run_delay) more
 * than 2% of the window is measured again, after waiting for the CPUs to be
 * free, within fixed budgets. Prints the median and min-max of the delivered
 * rate (for xdp-drop: the written rate), each as a share of the xdp-drop row (the
 * write path's own ceiling), the ratios, checks that the policies
 * saw every frame, two headline lines, and writes
 * $XTAP_BUILD/bench/throughput.csv (+ .png when gnuplot is installed).
 * Everything lives in a sandbox (private netns, mount ns, bpffs) that vanishes
 * with the process; xtapd is its child and dies with it.
 *
 * Environment: XTAP_BUILD (default build), THROUGHPUT_SECONDS (2.0),
 * THROUGHPUT_RUNS (5, at most 9).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "agent_env.h"
#include "bench_bare.skel.h"
#include "bench_net.h"
#include "bench_util.h"

#define CPU_WRITER 0
#define CPU_READER 1
#define MAX_RUNS   9
#define N_SIZES    2
#define WARMUP_S   0.3
#define VNET_LEN   12

static const int sizes[N_SIZES] = { 64, 1514 };

enum { P_CLASSIC, P_NFT, P_BARE, P_XTAP, P_XTAP_CT, P_DROP, P_UP_CLASSIC, P_UP_XTAP, N_PATHS };

struct path {
	const char *key;      /* CSV and plot name */
	const char *label;    /* table */
	int enabled;
	int tx_fd;            /* tap fd (vnet header + frame) or AF_PACKET socket */
	int tx_packet;
	int rx_fd;            /* -1: nothing is delivered (XDP_DROP) */
	struct pkt *frame[N_SIZES];
	double rate[N_SIZES][MAX_RUNS];    /* delivered (xdp-drop: written) frames/s */
	double wrate[N_SIZES][MAX_RUNS];   /* written frames/s */
	double stolen[N_SIZES][MAX_RUNS];  /* share of the window a thread waited for its CPU */
	int repeated;                      /* runs measured again because of that */
	uint64_t written;     /* every frame written into this path, warm-up included */
	uint64_t wr_err, rx_bad;
};

static struct path paths[N_PATHS] = {
	[P_CLASSIC]    = { "classic",    "classic: bridge + ebtables + htb" },
	[P_NFT]        = { "nft",        "classic: bridge + nftables + htb" },
	[P_BARE]       = { "bare",       "bare XDP redirect (devmap)" },
	[P_XTAP]       = { "xtap",       "xtap: full policy" },
	[P_XTAP_CT]    = { "xtap-ct",    "xtap: full policy, final allow stateful" },
	[P_DROP]       = { "xdp-drop",   "XDP_DROP on tap A (write ceiling)" },
	[P_UP_CLASSIC] = { "up-classic", "uplink->VM classic: bridge" },
	[P_UP_XTAP]    = { "up-xtap",    "uplink->VM xtap: XDP on veth" },
};

static double seconds = 2.0;
static int runs = 5;
static const char *build = "build";
static const char *ebt;

/* ---- helpers ---- */

/* The writer side of the outside: a packet socket on the veth peer that receives nothing. */
static int packet_tx(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = 0 };
	int one = 1, fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	sll.sll_ifindex = if_nametoindex(ifname);
	if (fd < 0 || !sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		die("packet socket on %s: %s", ifname, strerror(errno));
	/* The outside is not under test: no qdisc on its way out. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return fd;
}

static int drain(int fd)
{
	static uint8_t buf[65536];
	int n = 0;

	if (fd < 0)
		return 0;
	while (read(fd, buf, sizeof(buf)) >= 0)
		n++;
	return n;
}

/* ---- the measurement ---- */

struct ctr {
	_Alignas(64) uint64_t ok;
	uint64_t other;       /* writer: failed writes; reader: frames of the wrong length */
};

static struct ctr wctr, rctr;
static int stop;
static ssize_t last_bad_len = -1;
static unsigned last_bad_type, last_bad_proto;

struct job {
	int fd, packet, size;
	const uint8_t *frame;
	int tid;              /* set by the thread itself */
};

/* ns the thread was runnable but waited for its CPU (another task had it): schedstat's run_delay. */
static uint64_t run_delay_ns(int tid)
{
	unsigned long long run, delay = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu %llu", &run, &delay) != 2)
		delay = 0;
	if (f)
		fclose(f);
	return delay;
}

static void *writer(void *arg)
{
	struct job *j = arg;
	static const uint8_t vnet[VNET_LEN];  /* flags 0, GSO_NONE: full checksums */
	struct iovec iov[2] = { { (void *)vnet, VNET_LEN }, { (void *)j->frame, j->size } };
	uint64_t ok = 0, err = 0;
	ssize_t n;

	__atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		n = j->packet ? send(j->fd, j->frame, j->size, 0) : writev(j->fd, iov, 2);
		if (n > 0)
			__atomic_store_n(&wctr.ok, ++ok, __ATOMIC_RELAXED);
		else
			__atomic_store_n(&wctr.other, ++err, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct job *j = arg;
	static uint8_t hdr[VNET_LEN], buf[65536];
	struct iovec iov[2] = { { hdr, VNET_LEN }, { buf, sizeof(buf) } };
	uint64_t ok = 0, bad = 0;
	ssize_t n;

	__atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
	/* Busy polling on the O_NONBLOCK fd: the reader's CPU is never the one the kernel waits for. */
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		n = readv(j->fd, iov, 2);
		if (n == VNET_LEN + j->size)
			__atomic_store_n(&rctr.ok, ++ok, __ATOMIC_RELAXED);
		else if (n >= 0) {
			__atomic_store_n(&rctr.other, ++bad, __ATOMIC_RELAXED);
			last_bad_len = n - VNET_LEN;
			last_bad_type = buf[12] << 8 | buf[13];
			last_bad_proto = buf[23];
		}
	}
	return NULL;
}

static pthread_t start_pinned(void *(*fn)(void *), void *arg, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;
	pthread_t t;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_attr_init(&attr);
	if (pthread_attr_setaffinity_np(&attr, sizeof(set), &set) || pthread_create(&t, &attr, fn, arg))
		die("thread on CPU %d: %s", cpu, strerror(errno));
	pthread_attr_destroy(&attr);
	return t;
}

/*
 * One window; returns the share of it that the writer or the reader (the worse
 * of the two) spent waiting for its CPU while another task ran there. This
 * machine may be shared: such runs are repeated (see main).
 */
static double measure(struct path *p, int si, int run)
{
	struct job wj = { p->tx_fd, p->tx_packet, sizes[si], p->frame[si]->data, 0 };
	struct job rj = { p->rx_fd, 0, sizes[si], NULL, 0 };
	uint64_t w0, w1, r0, r1, wd0, wd1, rd0 = 0, rd1 = 0;
	pthread_t wt, rt = 0;
	double t0, t1, stolen;

	drain(p->rx_fd);
	memset(&wctr, 0, sizeof(wctr));
	memset(&rctr, 0, sizeof(rctr));
	__atomic_store_n(&stop, 0, __ATOMIC_SEQ_CST);
	if (p->rx_fd >= 0)
		rt = start_pinned(reader, &rj, CPU_READER);
	wt = start_pinned(writer, &wj, CPU_WRITER);
	sleep_s(WARMUP_S);
	while (!__atomic_load_n(&wj.tid, __ATOMIC_ACQUIRE) || (p->rx_fd >= 0 && !__atomic_load_n(&rj.tid, __ATOMIC_ACQUIRE)))
		sleep_s(0.001);
	wd0 = run_delay_ns(wj.tid);
	if (p->rx_fd >= 0)
		rd0 = run_delay_ns(rj.tid);
	t0 = now_s();
	w0 = __atomic_load_n(&wctr.ok, __ATOMIC_RELAXED);
	r0 = __atomic_load_n(&rctr.ok, __ATOMIC_RELAXED);
	sleep_s(seconds);
	t1 = now_s();
	w1 = __atomic_load_n(&wctr.ok, __ATOMIC_RELAXED);
	r1 = __atomic_load_n(&rctr.ok, __ATOMIC_RELAXED);
	wd1 = run_delay_ns(wj.tid);
	if (p->rx_fd >= 0)
		rd1 = run_delay_ns(rj.tid);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(wt, NULL);
	if (p->rx_fd >= 0)
		pthread_join(rt, NULL);
	p->written += wctr.ok;
	p->wr_err += wctr.other;
	p->rx_bad += rctr.other;
	p->wrate[si][run] = (w1 - w0) / (t1 - t0);
	p->rate[si][run] = p->rx_fd >= 0 ? (r1 - r0) / (t1 - t0) : p->wrate[si][run];
	stolen = (wd1 - wd0 > rd1 - rd0 ? wd1 - wd0 : rd1 - rd0) / 1e9 / (t1 - t0);
	p->stolen[si][run] = stolen;
	/* A frame may still sit in a qdisc or softirq backlog: let it arrive before the next run. */
	sleep_s(0.05);
	drain(p->rx_fd);
	return stolen;
}

#define STOLEN_MAX     0.02  /* a run whose threads waited longer than this share of it is repeated */
#define RETRIES_PER    3     /* at most this often per run */
#define RETRIES_TOTAL  12    /* and this often in all: the full run stays bounded */
#define QUIET_WAIT_MAX 20.0  /* s, in all, waiting for other tasks to leave the CPUs before a repeat */
static int retries_left = RETRIES_TOTAL;
static double quiet_waited;

/* Share of the busier CPU that other tasks used during 250 ms while this process slept. */
static double others_busy(void)
{
	unsigned long long v[2][2][8];
	double worst = 0;
	char line[256];
	int k, c, i;

	for (k = 0; k < 2; k++) {
		FILE *f = fopen("/proc/stat", "r");

		memset(v[k], 0, sizeof(v[k]));
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "cpu%d", &c) == 1 && c >= 0 && c < 2)
				sscanf(line, "cpu%*d %llu %llu %llu %llu %llu %llu %llu %llu", &v[k][c][0], &v[k][c][1],
				       &v[k][c][2], &v[k][c][3], &v[k][c][4], &v[k][c][5], &v[k][c][6], &v[k][c][7]);
		if (f)
			fclose(f);
		if (!k)
			sleep_s(0.25);
	}
	for (c = 0; c < 2; c++) {
		unsigned long long total = 0, idle = (v[1][c][3] - v[0][c][3]) + (v[1][c][4] - v[0][c][4]);

		for (i = 0; i < 8; i++)
			total += v[1][c][i] - v[0][c][i];
		if (total && 1.0 - (double)idle / total > worst)
			worst = 1.0 - (double)idle / total;
	}
	return worst;
}

static void wait_quiet(void)
{
	while (quiet_waited < QUIET_WAIT_MAX && others_busy() > 0.10)
		quiet_waited += 0.25;
}

static void xtap_final_allow(int stateful);

static void measure_clean(struct path *p, int si, int run)
{
	int tries = 0;

	if (p == &paths[P_XTAP] || p == &paths[P_XTAP_CT])
		xtap_final_allow(p == &paths[P_XTAP_CT]);
	while (measure(p, si, run) > STOLEN_MAX && tries < RETRIES_PER && retries_left > 0) {
		tries++;
		retries_left--;
		p->repeated++;
		wait_quiet();
	}
}

static double gbps(double pps, int size)
{
	return pps * size * 8 / 1e9;
}

/* ---- setup of each path ---- */

static struct test_tap cla, clb, bra, brb, dra;
static struct bare_bpf *bare;

static struct test_tap cna, cnb;
static int nft_ns = -1;

static void setup_classic(void)
{
	/* libvirt's clean-traffic on A's ingress; the rate limit, high enough not to bind: htb on B's egress. */
	bench_classic_ebtables(ebt, "clbr0", &cla, "cla", &clb, "clb", "10gbit");
	paths[P_CLASSIC].tx_fd = cla.fd;
	paths[P_CLASSIC].rx_fd = clb.fd;
	paths[P_CLASSIC].enabled = 1;
	/* The same rules in nftables, in a namespace of its own (the taps' fds work from anywhere). */
	nft_ns = bench_classic_nft("cnbr0", &cna, "cna", &cnb, "cnb", "10gbit");
	paths[P_NFT].tx_fd = cna.fd;
	paths[P_NFT].rx_fd = cnb.fd;
	paths[P_NFT].enabled = 1;
}

static void setup_bare(void)
{
	struct bpf_devmap_val dv = {};
	__u32 zero = 0;

	bra = bench_tap("bra");
	brb = bench_tap("brb");
	dra = bench_tap("dra");
	bare = bare_bpf__open_and_load();
	if (!bare)
		die("loading bench_bare: %s", strerror(errno));
	dv.ifindex = brb.ifindex;
	if (bpf_map_update_elem(bpf_map__fd(bare->maps.bare_target), &zero, &dv, BPF_ANY))
		die("bare_target: %s", strerror(errno));
	if (bpf_xdp_attach(bra.ifindex, bpf_program__fd(bare->progs.bare_redirect), XDP_FLAGS_DRV_MODE, NULL) ||
	    bpf_xdp_attach(dra.ifindex, bpf_program__fd(bare->progs.bare_drop), XDP_FLAGS_DRV_MODE, NULL))
		die("native XDP on a tap: %s", strerror(errno));
	paths[P_BARE].tx_fd = bra.fd;
	paths[P_BARE].rx_fd = brb.fd;
	paths[P_BARE].enabled = 1;
	paths[P_DROP].tx_fd = dra.fd;
	paths[P_DROP].rx_fd = -1;
	paths[P_DROP].enabled = 1;
}

/* vma's final allow (priority 2000), stateful or not: the xtap and xtap-ct rows. */
static int64_t final_allow_id;

static void xtap_final_allow(int stateful)
{
	static int is_stateful;
	json_object *r;

	if (is_stateful == stateful)
		return;
	xctl("acl del vma from-vm %lld", (long long)final_allow_id);
	r = ctl_json("acl add vma from-vm allow --priority 2000%s", stateful ? " --stateful" : "");
	final_allow_id = json_object_get_int64(json_object_object_get(r, "id"));
	json_object_put(r);
	is_stateful = stateful;
}

static void setup_xtap(int uplink)
{
	final_allow_id = bench_xtap_ports(uplink);
	paths[P_XTAP].tx_fd = bench_xtap_tap("vma");
	paths[P_XTAP].rx_fd = bench_xtap_tap("vmb");
	paths[P_XTAP].enabled = 1;
	paths[P_XTAP_CT].tx_fd = paths[P_XTAP].tx_fd;
	paths[P_XTAP_CT].rx_fd = paths[P_XTAP].rx_fd;
	paths[P_XTAP_CT].enabled = 1;
}

static void setup_uplinks(void)
{
	/* classic: a veth pair, one end in the bridge; its peer is the outside. */
	sh("ip link add upc0 type veth peer name outc0 && ip link set upc0 master clbr0");
	sh("ip link set upc0 up && ip link set outc0 up");
	paths[P_UP_CLASSIC].tx_fd = packet_tx("outc0");
	paths[P_UP_CLASSIC].tx_packet = 1;
	paths[P_UP_CLASSIC].rx_fd = clb.fd;
	paths[P_UP_CLASSIC].enabled = 1;
	/* xtap: the segment's uplink0 (XDP xtap_from_uplink) <-> out0; the same to-VM limit as htb's. */
	xctl("rate set vmb to-vm --rate 10g");
	paths[P_UP_XTAP].tx_fd = packet_tx("out0");
	paths[P_UP_XTAP].tx_packet = 1;
	paths[P_UP_XTAP].rx_fd = paths[P_XTAP].rx_fd;
	paths[P_UP_XTAP].enabled = 1;
}

/* ---- checks: the policy really ran on every frame ---- */

static int64_t xtap_drops(json_object *st, const char *port, const char *dir)
{
	json_object *d = json_object_object_get(json_object_object_get(json_object_object_get(st, port), dir),
						 "drops");
	int64_t sum = 0;

	if (d) {
		json_object_object_foreach(d, reason, c) {
			(void)reason;
			sum += jget(c, "packets", NULL);
		}
	}
	return sum;
}

static uint64_t ebt_pcnt(const char *rule)
{
	char out[4096], *l;
	unsigned long long n;

	sh_out(out, sizeof(out), "%s -t nat -L I-cla --Lc 2>&1", ebt);
	for (l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
		if (!strncmp(l, rule, strlen(rule)) && sscanf(strstr(l, "pcnt = ") + 7, "%llu", &n) == 1)
			return n;
	return (uint64_t)-1;
}

static void checks(int uplink)
{
	char out[4096], *s;
	unsigned long long sent = 0, dropped = 0, over = 0;
	json_object *st, *acl, *rules;
	int64_t hits = -1;
	size_t i;

	printf("\nchecks (frames written over all runs, warm-up included):\n");
	printf("  classic: written %llu; ebtables I-cla '-p IPv4 -j ACCEPT' %llu, DROP rules %llu\n",
	       (unsigned long long)paths[P_CLASSIC].written, (unsigned long long)ebt_pcnt("-p IPv4 -j ACCEPT"),
	       (unsigned long long)(ebt_pcnt("-s ! ") + ebt_pcnt("-p IPv4 --ip-src") + ebt_pcnt("-j DROP")));
	printf("  nft: written %llu; nftables i_cna IPv4 accept %llu\n", (unsigned long long)paths[P_NFT].written,
	       bench_nft_accepted(nft_ns, "cna"));
	sh_out(out, sizeof(out), "tc -s class show dev clb 2>&1");
	if ((s = strstr(out, "Sent ")))
		sscanf(s, "Sent %*s bytes %llu pkt (dropped %llu, overlimits %llu", &sent, &dropped, &over);
	printf("  classic: htb 10 Gbit/s class on clb%s sent %llu, dropped %llu, overlimits %llu\n",
	       uplink ? " (guest TX + uplink)" : "", sent, dropped, over);

	st = ctl_json("stats");
	acl = ctl_json("acl list vma");
	rules = json_object_object_get(json_object_object_get(acl, "from-vm"), "rules");
	for (i = 0; rules && i < json_object_array_length(rules); i++) {
		json_object *r = json_object_array_get_idx(rules, i);

		if (!strcmp(json_object_get_string(json_object_object_get(r, "action")), "allow"))
			hits = jget(r, "hits", "packets", NULL);
	}
	printf("  xtap, xtap-ct: written %llu; vma from-vm to_port %lld, drops %lld; the final allow's hits since it was last added %lld, of %zu rules\n",
	       (unsigned long long)(paths[P_XTAP].written + paths[P_XTAP_CT].written),
	       (long long)jget(st, "vma", "from-vm", "verdicts", "to_port", "packets", NULL),
	       (long long)xtap_drops(st, "vma", "from-vm"), (long long)hits,
	       rules ? json_object_array_length(rules) : 0);
	printf("  xtap: vmb to-vm%s deliver %lld, drops %lld\n", uplink ? " (guest TX + uplink)" : "",
	       (long long)jget(st, "vmb", "to-vm", "verdicts", "deliver", "packets", NULL),
	       (long long)xtap_drops(st, "vmb", "to-vm"));
	if (uplink)
		printf("  uplink: written classic %llu, xtap %llu (xtap's count is in vmb to-vm deliver above)\n",
		       (unsigned long long)paths[P_UP_CLASSIC].written, (unsigned long long)paths[P_UP_XTAP].written);
	for (i = 0; i < N_PATHS; i++)
		if (paths[i].enabled && (paths[i].wr_err || paths[i].rx_bad))
			printf("  %s: %llu failed writes, %llu frames of the wrong length read (last: %zd bytes, "
			       "ethertype 0x%04x, IP proto %u)\n", paths[i].key, (unsigned long long)paths[i].wr_err,
			       (unsigned long long)paths[i].rx_bad, last_bad_len, last_bad_type, last_bad_proto);
	json_object_put(st);
	json_object_put(acl);
}

/* ---- output ---- */

static void print_table(void)
{
	int si, i;

	printf("\n%-36s %5s %22s %7s %9s %9s %7s %8s\n", "path", "bytes", "Mpps median [min-max]", "Gbit/s",
	       "written", "delivered", "waited", "ceiling");
	for (si = 0; si < N_SIZES; si++)
		for (i = 0; i < N_PATHS; i++) {
			struct path *p = &paths[i];
			struct stat3 r, w, st;
			char range[64];

			if (!p->enabled)
				continue;
			r = stats(p->rate[si], runs);
			w = stats(p->wrate[si], runs);
			st = stats(p->stolen[si], runs);
			snprintf(range, sizeof(range), "%.3f [%.3f-%.3f]", r.med / 1e6, r.min / 1e6, r.max / 1e6);
			printf("%-36s %5d %22s %7.2f %8.3fM %8.1f%% %6.1f%% %7.1f%%\n", p->label, sizes[si], range,
			       gbps(r.med, sizes[si]), w.med / 1e6, i == P_DROP ? 0.0 : 100.0 * r.med / w.med,
			       100.0 * st.max, 100.0 * r.med / stats(paths[P_DROP].rate[si], runs).med);
		}
}

static void write_csv_and_plot(void)
{
	struct bench_out o;
	char script[2048];
	int si, i, r;
	FILE *f, *d;

	bench_out_open(&o, build, "throughput");
	f = o.f;
	d = o.d;
	fprintf(f, "path,frame_bytes,stat,mpps,gbps,written_mpps,waited\n");
	fprintf(d, "# path 64B_med 64B_min 64B_max 1514B_med 1514B_min 1514B_max (Mpps)\n");
	for (i = 0; i < N_PATHS; i++) {
		struct path *p = &paths[i];

		if (!p->enabled)
			continue;
		fprintf(d, "%s", p->key);
		for (si = 0; si < N_SIZES; si++) {
			struct stat3 s = stats(p->rate[si], runs), w = stats(p->wrate[si], runs);

			for (r = 0; r < runs; r++)
				fprintf(f, "%s,%d,run%d,%.4f,%.3f,%.4f,%.4f\n", p->key, sizes[si], r + 1,
					p->rate[si][r] / 1e6, gbps(p->rate[si][r], sizes[si]), p->wrate[si][r] / 1e6,
					p->stolen[si][r]);
			fprintf(f, "%s,%d,median,%.4f,%.3f,%.4f,\n", p->key, sizes[si], s.med / 1e6, gbps(s.med, sizes[si]),
				w.med / 1e6);
			fprintf(f, "%s,%d,min,%.4f,%.3f,%.4f,\n", p->key, sizes[si], s.min / 1e6, gbps(s.min, sizes[si]),
				w.min / 1e6);
			fprintf(f, "%s,%d,max,%.4f,%.3f,%.4f,\n", p->key, sizes[si], s.max / 1e6, gbps(s.max, sizes[si]),
				w.max / 1e6);
			fprintf(d, " %.4f %.4f %.4f", s.med / 1e6, s.min / 1e6, s.max / 1e6);
		}
		fprintf(d, "\n");
	}
	snprintf(script, sizeof(script),
		 "set terminal pngcairo size 900,500; set output '%s';"
		 " set title 'xtap throughput: guest TX (tap A -> tap B); up-*: veth peer -> tap B. Median, min-max of %d runs';"
		 " set ylabel 'Mpps'; set style data histograms; set style histogram errorbars gap 1 lw 1;"
		 " set style fill solid 0.6 border -1; set key top right; set yrange [0:*]; set grid ytics;"
		 " set xtics rotate by -20;"
		 " plot '%s' using 2:3:4:xtic(1) title '64 B', '' using 5:6:7 title '1514 B'",
		 o.png, runs, o.dat);
	bench_out_plot(&o, script);
}

int main(int argc, char **argv)
{
	int uplink = 1, si, r, i;
	double t_start = now_s();
	const char *e;

	bench_name = "throughput";
	bench_cleanup = env_teardown;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-uplink")) {
			uplink = 0;
		} else {
			fprintf(stderr, "usage: %s [--no-uplink]\n(environment: XTAP_BUILD, THROUGHPUT_SECONDS, THROUGHPUT_RUNS)\n",
				argv[0]);
			return 2;
		}
	}
	if ((e = getenv("XTAP_BUILD")))
		build = e;
	if ((e = getenv("THROUGHPUT_SECONDS")))
		seconds = atof(e);
	if ((e = getenv("THROUGHPUT_RUNS")))
		runs = atoi(e);
	if (seconds < 0.1 || runs < 1 || runs > MAX_RUNS)
		die("THROUGHPUT_SECONDS >= 0.1, 1 <= THROUGHPUT_RUNS <= %d", MAX_RUNS);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		die("needs 2 CPUs (writer on CPU %d, reader on CPU %d)", CPU_WRITER, CPU_READER);
	ebt = bench_ebtables();

	if (sandbox_enter())
		return 1;
	bench_xtapd_start();
	setup_classic();
	setup_bare();
	setup_xtap(uplink);
	for (i = 0; i < N_PATHS; i++)
		for (si = 0; si < N_SIZES; si++)
			paths[i].frame[si] = bench_frame(i >= P_UP_CLASSIC ? BENCH_MAC_UP : BENCH_MAC_A,
							 i >= P_UP_CLASSIC ? BENCH_IP_UP : BENCH_IP_A, sizes[si]);

	printf("as a VMM writes a tap (one writev per frame; kernel_path measures the paths without it)\n");
	printf("guest TX throughput: writer pinned to CPU %d writes tap A's fd, reader pinned to CPU %d reads tap B's fd\n",
	       CPU_WRITER, CPU_READER);
	printf("(O_NONBLOCK, 12-byte vnet header, UDP/IPv4 with full checksums); %d runs of %.1f s (+%.1f s warm-up)\n",
	       runs, seconds, WARMUP_S);
	printf("per path and size, paths interleaved in each run; Gbit/s counts Ethernet frame bytes (no FCS);\n"
	       "ceiling: the median as a share of the xdp-drop row's, the write path's own ceiling.\n");
	printf("classic: %s (nat PREROUTING chain per port), bridge-nf-call-iptables=", ebt);
	fflush(stdout);
	if (system("cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo n/a")) {}
	printf("load average before: ");
	fflush(stdout);
	if (system("cut -d' ' -f1-3 /proc/loadavg")) {}

	wait_quiet();
	for (si = 0; si < N_SIZES; si++)
		for (r = 0; r < runs; r++)
			for (i = P_CLASSIC; i <= P_DROP; i++)
				measure_clean(&paths[i], si, r);
	if (uplink) {
		setup_uplinks();
		for (si = 0; si < N_SIZES; si++)
			for (r = 0; r < runs; r++)
				for (i = P_UP_CLASSIC; i <= P_UP_XTAP; i++)
					measure_clean(&paths[i], si, r);
	}

	print_table();
	printf("waited: the longest share of a kept run's window that the writer or reader waited for its CPU\n"
	       "(schedstat run_delay: another task ran there); runs above %.0f%% were measured again:", 100 * STOLEN_MAX);
	for (i = 0, r = 0; i < N_PATHS; i++)
		if (paths[i].enabled && paths[i].repeated)
			r += printf(" %s %d", paths[i].key, paths[i].repeated);
	printf("%s\n", r ? "" : " none");
	if (quiet_waited > 0)
		printf("%.0f s were spent waiting for other tasks to leave the CPUs (at the start, before repeats)\n",
		       quiet_waited);
	printf("\nratios of medians (delivered Mpps), this run:\n");
	for (si = 0; si < N_SIZES; si++) {
		double x = stats(paths[P_XTAP].rate[si], runs).med;

		printf("  guest-tx %4d B: xtap/classic=%.2f xtap/nft=%.2f xtap/bare=%.2f bare/drop=%.2f xtap-ct/xtap=%.2f\n",
		       sizes[si], x / stats(paths[P_CLASSIC].rate[si], runs).med, x / stats(paths[P_NFT].rate[si], runs).med,
		       x / stats(paths[P_BARE].rate[si], runs).med,
		       stats(paths[P_BARE].rate[si], runs).med / stats(paths[P_DROP].rate[si], runs).med,
		       stats(paths[P_XTAP_CT].rate[si], runs).med / x);
		if (uplink)
			printf("  uplink->VM %4d B: xtap/classic=%.2f\n", sizes[si],
			       stats(paths[P_UP_XTAP].rate[si], runs).med / stats(paths[P_UP_CLASSIC].rate[si], runs).med);
	}
	checks(uplink);
	write_csv_and_plot();
	printf("total %.0f s\n", now_s() - t_start);
	for (si = 0; si < N_SIZES; si++) {
		double x = stats(paths[P_XTAP].rate[si], runs).med;

		printf("headline vmm-write-%d xtap/classic=%.2f xtap/bare=%.2f xtap/nft=%.2f xtap/ceiling=%.2f\n",
		       sizes[si], x / stats(paths[P_CLASSIC].rate[si], runs).med,
		       x / stats(paths[P_BARE].rate[si], runs).med, x / stats(paths[P_NFT].rate[si], runs).med,
		       x / stats(paths[P_DROP].rate[si], runs).med);
	}
	env_teardown();   /* xtapd and its xtap-vhost processes */
	bare_bpf__destroy(bare);
	return 0;
}
