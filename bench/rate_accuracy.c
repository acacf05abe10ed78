// SPDX-License-Identifier: GPL-2.0
/*
 * Rate-limit accuracy: configured vs delivered rate of xtap's from-VM limit,
 * for UDP and for TCP, at 10 Mbit/s, 100 Mbit/s and 1 Gbit/s.
 *
 * The real xtapd makes two ports, vmA and vmB (segment 1). The "VMs" are the
 * kernel's own stack in two namespaces: nsA holds a plain tap a0, nsB a plain
 * tap b0 (MACs and addresses of the ports). A relay thread per VM copies
 * frames, virtio-net header included, between a0's fd and vmA's fd (b0 and
 * vmB), as QEMU does for a guest: all four fds have a 12-byte vnet header and
 * QEMU's offloads, so nsA's TCP sends TSO frames and checksum-offloaded ones
 * and they reach nsB's stack as such.
 *
 *   udp  a socket in nsA sends 1472-byte payloads (1514-byte frames) at 1.5x
 *        the configured rate (no limit: as fast as it can) to a socket in nsB
 *   tcp  one connection nsA -> nsB, 128 KiB send()s
 *
 * `rate set vmA from-vm --rate R` (xtapd's default burst, or RATE_BURST_MS) before each measurement;
 * "none" (rate clear) is this setup's ceiling. Each measurement: WARMUP_S,
 * then a window of RATE_SECONDS; RATE_RUNS runs, cases interleaved in each.
 *
 * The limiter charges each frame's Ethernet bytes as XDP sees them (header
 * included, no FCS, no vnet header); a GSO frame is charged once, whole. The
 * relay counts the same bytes for every frame xtap delivers to vmB: that L2
 * rate / configured rate is the accuracy ratio. Also shown: goodput at the
 * receiving socket, the L2 rate with GSO frames counted as the segments they
 * stand for ("wire"), and the L2 rate offered to vmA.
 *
 * Prints a table and a headline line; writes $XTAP_BUILD/bench/rate_accuracy.csv
 * (+ .png with gnuplot). Everything lives in agent_env's sandbox and vanishes
 * with the process.
 *
 * Environment: XTAP_BUILD (default build), RATE_SECONDS (3.0), RATE_RUNS (3, at most 9),
 * RATE_TCP_CC (the sender's congestion control, default cubic), RATE_BURST_MS (--burst of
 * this many ms at each rate instead of xtapd's default).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent_env.h"
#include "bench_util.h"
#include "sandbox.h"

#define MAC_A "02:00:00:00:00:0a"
#define MAC_B "02:00:00:00:00:0b"
#define IP_A  "10.0.0.10"
#define IP_B  "10.0.0.11"
#define PORT_TCP 5201
#define PORT_UDP 5202
#define VNET_LEN 12
#define TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define UDP_PAYLOAD 1472
#define UDP_FRAME   (UDP_PAYLOAD + 8 + 20 + 14)
#define WARMUP_S 0.5
#define MAX_RUNS 9
#define BUF_LEN  (256 * 1024)

enum { UDP, TCP, N_PROTOS };
static const char *const proto_name[N_PROTOS] = { "udp", "tcp" };
#define N_RATES 4     /* [0]: no limit, the ceiling */
static const char *const rate_arg[N_RATES] = { "none", "10m", "100m", "1g" };
static const double rate_bps[N_RATES] = { 0, 10e6, 100e6, 1e9 };

/* bit/s per run; tcp also: the sender's retransmitted share of its segments, RTOs per second */
enum { GOOD, L2, WIRE, OFFERED, RETRANS, RTO, N_Q };
static double res[N_PROTOS][N_RATES][N_Q][MAX_RUNS];

static double seconds = 3.0;
static int runs = 3;
static const char *build = "build";
static const char *tcp_cc = "cubic";   /* a Linux guest's default, whatever the host uses */
static double burst_ms;   /* RATE_BURST_MS: --burst of this many ms at the rate; 0: xtapd's default */

/* ---- the VMs: a namespace with a plain tap, relayed to an xtap port ---- */

struct vm_side {
	const char *ns, *tap, *port, *mac, *ip, *peer_mac, *peer_ip;
	int ns_fd, guest_fd, port_fd;
	pthread_t relay;
	/* guest -> port (what the VM offers xtap) and port -> guest (what xtap delivers) */
	_Alignas(64) uint64_t offered, delivered, delivered_wire, frames_in, frames_out;
};

static struct vm_side A = { .ns = "nsA", .tap = "a0", .port = "vmA", .mac = MAC_A, .ip = IP_A,
			    .peer_mac = MAC_B, .peer_ip = IP_B },
		      B = { .ns = "nsB", .tap = "b0", .port = "vmB", .mac = MAC_B, .ip = IP_B,
			    .peer_mac = MAC_A, .peer_ip = IP_A };
static int stop_relays, stop_traffic;

static void tap_offloads(int fd, const char *name)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TAP_OFFLOADS))
		die("%s: TUNSETOFFLOAD: %s", name, strerror(errno));
}

/* Ethernet bytes of the frames a GSO frame stands for (each with the headers again). */
static uint64_t wire_bytes(const uint8_t *p, size_t len)
{
	const struct virtio_net_hdr *h = (const void *)p;
	size_t l3 = 14, hdr, segs;

	p += VNET_LEN;
	len -= VNET_LEN;
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE || !h->gso_size || len < 14 + 40)
		return len;
	hdr = (p[12] == 0x86 && p[13] == 0xdd) ? l3 + 40 : l3 + (p[l3] & 0xf) * 4;
	if (hdr + 20 > len)
		return len;
	hdr += (p[hdr + 12] >> 4) * 4;
	if (hdr >= len)
		return len;
	segs = (len - hdr + h->gso_size - 1) / h->gso_size;
	return len + (segs - 1) * hdr;
}

/* Copies what waits on one fd to the other, vnet header and all; counts port -> guest. */
static void copy(struct vm_side *v, uint8_t *buf, int to_guest)
{
	int from = to_guest ? v->port_fd : v->guest_fd, to = to_guest ? v->guest_fd : v->port_fd, i;
	ssize_t n;

	for (i = 0; i < 256 && (n = read(from, buf, BUF_LEN)) > VNET_LEN; i++) {
		if (write(to, buf, n) != n)
			continue;
		if (to_guest) {
			__atomic_add_fetch(&v->delivered, n - VNET_LEN, __ATOMIC_RELAXED);
			__atomic_add_fetch(&v->delivered_wire, wire_bytes(buf, n), __ATOMIC_RELAXED);
			__atomic_add_fetch(&v->frames_out, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&v->offered, n - VNET_LEN, __ATOMIC_RELAXED);
			__atomic_add_fetch(&v->frames_in, 1, __ATOMIC_RELAXED);
		}
	}
}

static void *relay(void *arg)
{
	struct vm_side *v = arg;
	struct pollfd pf[2] = { { v->guest_fd, POLLIN, 0 }, { v->port_fd, POLLIN, 0 } };
	uint8_t *buf = malloc(BUF_LEN);

	while (buf && !__atomic_load_n(&stop_relays, __ATOMIC_RELAXED)) {
		if (poll(pf, 2, 100) <= 0)
			continue;
		if (pf[0].revents & POLLIN)
			copy(v, buf, 0);
		if (pf[1].revents & POLLIN)
			copy(v, buf, 1);
	}
	free(buf);
	return NULL;
}

static void vm_side_setup(struct vm_side *v)
{
	struct test_tap t;
	struct vm p = { .name = v->port };
	char path[64];

	sh("ip netns add %s && ip netns exec %s sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
	   "net.ipv6.conf.default.disable_ipv6=1 && ip link set lo up'", v->ns, v->ns);
	if (tap_open(&t, v->tap, 1500))
		die("tap %s: %s", v->tap, strerror(errno));
	tap_offloads(t.fd, v->tap);
	v->guest_fd = t.fd;
	sh("ip link set %s address %s netns %s", v->tap, v->mac, v->ns);
	sh("ip -n %s link set %s up && ip -n %s addr add %s/24 dev %s && "
	   "ip -n %s neigh add %s lladdr %s dev %s nud permanent",
	   v->ns, v->tap, v->ns, v->ip, v->tap, v->ns, v->peer_ip, v->peer_mac, v->tap);
	xctl("port add %s --segment 1 --mac %s --addr %s/32", v->port, v->mac, v->ip);
	if (vm_open(&p))
		die("opening xtap's tap %s: %s", v->port, strerror(errno));
	tap_offloads(p.fd, v->port);
	v->port_fd = p.fd;
	snprintf(path, sizeof(path), "/run/netns/%s", v->ns);
	v->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (v->ns_fd < 0)
		die("%s: %s", path, strerror(errno));
	if (pthread_create(&v->relay, NULL, relay, v))
		die("relay thread: %s", strerror(errno));
}

/* A socket of namespace ns_fd; dies on failure. */
static int socket_in(int ns_fd, int type)
{
	int fd = env_socket_in(ns_fd, type);

	if (fd < 0)
		die("socket in a VM namespace: %s", strerror(errno));
	return fd;
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

static void timeouts(int fd)
{
	struct timeval tv = { 0, 100000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- traffic ---- */

static int tcp_listener, udp_rx;
static _Alignas(64) uint64_t received;   /* payload bytes at nsB's socket */

struct sender {
	int proto;
	double pps;    /* udp: 0 = as fast as it can */
};

static void *send_main(void *arg)
{
	struct sender *s = arg;
	static char buf[128 * 1024];
	struct sockaddr_in sa = addr_of(IP_B, s->proto == TCP ? PORT_TCP : PORT_UDP);
	struct linger lg = { 1, 0 };
	struct mmsghdr mm[32];
	struct iovec iov = { buf, UDP_PAYLOAD };
	uint64_t sent = 0;
	double t0 = now_s();
	int fd = socket_in(A.ns_fd, s->proto == TCP ? SOCK_STREAM : SOCK_DGRAM), i, n;

	if (s->proto == TCP && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, tcp_cc, strlen(tcp_cc)))
		die("TCP congestion control %s: %s", tcp_cc, strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect to %s from nsA: %s", IP_B, strerror(errno));
	timeouts(fd);
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < 32; i++) {
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (!__atomic_load_n(&stop_traffic, __ATOMIC_RELAXED)) {
		if (s->proto == TCP) {
			if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR)
				break;
			continue;
		}
		n = 32;
		if (s->pps) {
			double due = (now_s() - t0) * s->pps - sent;

			if (due < 1) {
				sleep_s(50e-6);
				continue;
			}
			n = due < 32 ? (int)due : 32;
		}
		n = sendmmsg(fd, mm, n, 0);
		sent += n > 0 ? n : 0;
	}
	/* Abort: what a slow limit still holds back must not delay the next case. */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	return NULL;
}

static void *recv_main(void *arg)
{
	static char buf[64][2048];
	struct mmsghdr mm[64];
	struct iovec iov[64];
	int proto = *(int *)arg, fd, i, n;
	ssize_t got;

	if (proto == UDP) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < 64; i++) {
			iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		while (!__atomic_load_n(&stop_traffic, __ATOMIC_RELAXED)) {
			n = recvmmsg(udp_rx, mm, 64, MSG_WAITFORONE, NULL);
			for (i = 0; i < n; i++)
				__atomic_add_fetch(&received, mm[i].msg_len, __ATOMIC_RELAXED);
		}
		return NULL;
	}
	while ((fd = accept4(tcp_listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		if (__atomic_load_n(&stop_traffic, __ATOMIC_RELAXED))
			return NULL;
	timeouts(fd);
	while (!__atomic_load_n(&stop_traffic, __ATOMIC_RELAXED)) {
		got = recv(fd, buf, sizeof(buf), 0);
		if (got > 0)
			__atomic_add_fetch(&received, got, __ATOMIC_RELAXED);
		else if (got == 0 || (errno != EAGAIN && errno != EINTR))
			break;
	}
	close(fd);
	return NULL;
}

/* A counter of nsA's /proc/net/{snmp,netstat} ("Tcp:", "RetransSegs"), read from nsA. */
static uint64_t ns_counter(const char *file, const char *group, const char *name)
{
	char path[64], hdr[4096], val[4096], *hs, *vs, *h, *v;
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	uint64_t ret = 0;
	FILE *f;

	if (self < 0 || setns(A.ns_fd, CLONE_NEWNET))
		die("setns: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/thread-self/net/%s", file);
	f = fopen(path, "r");
	while (f && fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, group, strlen(group)))
			continue;
		for (h = strtok_r(hdr, " \n", &hs), v = strtok_r(val, " \n", &vs); h && v;
		     h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, name))
				ret = strtoull(v, NULL, 10);
	}
	if (f)
		fclose(f);
	if (setns(self, CLONE_NEWNET))
		die("setns back: %s", strerror(errno));
	close(self);
	return ret;
}

static uint64_t vmb_tx_dropped(void)
{
	unsigned long long n = 0;
	FILE *f = fopen("/sys/class/net/vmB/statistics/tx_dropped", "r");

	if (f && fscanf(f, "%llu", &n) != 1)
		n = 0;
	if (f)
		fclose(f);
	return n;
}

static uint64_t lost_limited, lost_ceiling;   /* frames xtap passed that vmB's full queue dropped */

struct snap {
	double t;
	uint64_t good, l2, wire, offered;
};

static struct snap snap(void)
{
	return (struct snap){ now_s(), __atomic_load_n(&received, __ATOMIC_RELAXED),
			      __atomic_load_n(&B.delivered, __ATOMIC_RELAXED),
			      __atomic_load_n(&B.delivered_wire, __ATOMIC_RELAXED),
			      __atomic_load_n(&A.offered, __ATOMIC_RELAXED) };
}

/* The limit's burst in bytes: xtapd's default (agent/xtapd/api.c: XTAP_DEFAULT_BURST_MS, 300 ms at the rate, at least
 * 256 KiB) or RATE_BURST_MS. */
static double burst_bytes(int ri)
{
	double b = rate_bps[ri] / 8 * (burst_ms ? burst_ms : 300) / 1000;

	return burst_ms || b > 256 * 1024 ? b : 256 * 1024;
}

static void measure(int proto, int ri, int run)
{
	struct sender s = { proto, proto == UDP && rate_bps[ri] ? 1.5 * rate_bps[ri] / (UDP_FRAME * 8) : 0 };
	pthread_t st, rt;
	uint64_t seg0 = 0, seg1, re0 = 0, re1, to0 = 0, to1, lost = vmb_tx_dropped();
	struct snap a, b;
	double dt;

	if (ri && burst_ms)
		xctl("rate set vmA from-vm --rate %s --burst %.0f", rate_arg[ri], burst_bytes(ri));
	else if (ri)
		xctl("rate set vmA from-vm --rate %s", rate_arg[ri]);
	else
		xctl("rate clear vmA from-vm");
	__atomic_store_n(&stop_traffic, 0, __ATOMIC_SEQ_CST);
	if (pthread_create(&rt, NULL, recv_main, &proto) || pthread_create(&st, NULL, send_main, &s))
		die("traffic threads: %s", strerror(errno));
	/* The limiter starts with a full burst: let a sender at 1.5x use it up before the window. */
	sleep_s(ri && 2.5 * burst_bytes(ri) * 8 / rate_bps[ri] > WARMUP_S ? 2.5 * burst_bytes(ri) * 8 / rate_bps[ri] :
									     WARMUP_S);
	if (proto == TCP) {
		seg0 = ns_counter("snmp", "Tcp:", "OutSegs");
		re0 = ns_counter("snmp", "Tcp:", "RetransSegs");
		to0 = ns_counter("netstat", "TcpExt:", "TCPTimeouts");
	}
	a = snap();
	sleep_s(seconds);
	b = snap();
	if (proto == TCP) {
		seg1 = ns_counter("snmp", "Tcp:", "OutSegs");
		re1 = ns_counter("snmp", "Tcp:", "RetransSegs");
		to1 = ns_counter("netstat", "TcpExt:", "TCPTimeouts");
		res[proto][ri][RETRANS][run] = seg1 > seg0 ? (double)(re1 - re0) / (seg1 - seg0) : 0;
		res[proto][ri][RTO][run] = (to1 - to0) / (b.t - a.t);
	}
	__atomic_store_n(&stop_traffic, 1, __ATOMIC_SEQ_CST);
	pthread_join(st, NULL);
	pthread_join(rt, NULL);
	dt = b.t - a.t;
	res[proto][ri][GOOD][run] = (b.good - a.good) * 8 / dt;
	res[proto][ri][L2][run] = (b.l2 - a.l2) * 8 / dt;
	res[proto][ri][WIRE][run] = (b.wire - a.wire) * 8 / dt;
	res[proto][ri][OFFERED][run] = (b.offered - a.offered) * 8 / dt;
	/* Let queues drain (and a UDP backlog be read) before the next case. */
	sleep_s(0.2);
	while (recv(udp_rx, (char[2048]){ 0 }, 2048, MSG_DONTWAIT) > 0)
		;
	*(ri ? &lost_limited : &lost_ceiling) += vmb_tx_dropped() - lost;
}

/* ---- results ---- */

static double med(int p, int ri, int q)
{
	return stats(res[p][ri][q], runs).med;
}

static int machine_bound(int p, int ri)
{
	return ri && med(p, 0, L2) < 1.2 * rate_bps[ri];
}

static void print_table(void)
{
	int p, ri;

	printf("\n%-5s %5s %27s %20s %8s %8s %8s %6s %5s\n", "proto", "limit", "delivered L2 Mbit/s [min-max]",
	       "L2/limit [min-max]", "goodput", "wire L2", "offered", "retr", "RTO/s");
	for (p = 0; p < N_PROTOS; p++)
		for (ri = 1; ri < N_RATES; ri++) {
			struct stat3 l2 = stats(res[p][ri][L2], runs);
			char a[64], b[64];

			snprintf(a, sizeof(a), "%.2f [%.2f-%.2f]", l2.med / 1e6, l2.min / 1e6, l2.max / 1e6);
			snprintf(b, sizeof(b), "%.3f [%.3f-%.3f]", l2.med / rate_bps[ri], l2.min / rate_bps[ri],
				 l2.max / rate_bps[ri]);
			printf("%-5s %5s %27s %20s %8.2f %8.2f %8.2f", proto_name[p], rate_arg[ri], a, b,
			       med(p, ri, GOOD) / 1e6, med(p, ri, WIRE) / 1e6, med(p, ri, OFFERED) / 1e6);
			if (p == TCP)
				printf(" %5.2f%% %5.1f", 100 * med(p, ri, RETRANS), med(p, ri, RTO));
			else
				printf(" %6s %5s", "-", "-");
			printf("%s\n", machine_bound(p, ri) ? "  machine-bound" : "");
		}
	printf("\nceiling (no limit: rate clear), delivered L2 Mbit/s median [min-max], goodput:\n");
	for (p = 0; p < N_PROTOS; p++) {
		struct stat3 c = stats(res[p][0][L2], runs);

		printf("  %-5s %9.2f [%.2f-%.2f]  goodput %.2f, wire L2 %.2f, offered %.2f\n", proto_name[p],
		       c.med / 1e6, c.min / 1e6, c.max / 1e6, med(p, 0, GOOD) / 1e6, med(p, 0, WIRE) / 1e6,
		       med(p, 0, OFFERED) / 1e6);
	}
	printf("retr: share of the TCP sender's segments that were retransmissions; RTO/s: its retransmission\n"
	       "timeouts per second (nsA's Tcp RetransSegs/OutSegs, TcpExt TCPTimeouts).\n");
	printf("machine-bound: this proto's ceiling < 1.2x the limit (the row measures the machine, not the limiter)\n");
}

static void checks(void)
{
	json_object *st = ctl_json("stats");

	if (!st)
		die("xtapctl -j stats: output not JSON");
	printf("\nchecks (whole run, warm-up and ping included):\n");
	printf("  vmA from-vm: to_port %lld frames, %lld bytes; drops rate_bytes %lld frames\n",
	       (long long)jget(st, "vmA", "from-vm", "verdicts", "to_port", "packets", NULL),
	       (long long)jget(st, "vmA", "from-vm", "verdicts", "to_port", "bytes", NULL),
	       (long long)jget(st, "vmA", "from-vm", "drops", "rate_bytes", "packets", NULL));
	printf("  relay: a0 -> vmA %llu frames, %llu bytes; vmB -> b0 %llu frames, %llu bytes\n",
	       (unsigned long long)A.frames_in, (unsigned long long)A.offered,
	       (unsigned long long)B.frames_out, (unsigned long long)B.delivered);
	printf("  tap vmB tx_dropped (its queue full, the relay behind): %llu frames with a limit, %llu without\n",
	       (unsigned long long)lost_limited, (unsigned long long)lost_ceiling);
	json_object_put(st);
}

static void write_csv_and_plot(void)
{
	static const char *const sn[3] = { "median", "min", "max" };
	struct bench_out o;
	char script[2048];
	int p, ri, q, r;
	FILE *f, *d;

	bench_out_open(&o, build, "rate_accuracy");
	f = o.f;
	d = o.d;
	fprintf(f, "proto,limit_mbps,stat,goodput_mbps,l2_mbps,wire_l2_mbps,offered_mbps,retrans_share,rto_per_s,"
		"l2_over_limit,machine_bound\n");
	fprintf(d, "# limit udp_med udp_min udp_max tcp_med tcp_min tcp_max (delivered L2 / limit)\n");
	for (p = 0; p < N_PROTOS; p++)
		for (ri = 0; ri < N_RATES; ri++)
			for (r = 0; r < runs + 3; r++) {
				double v[N_Q];

				for (q = 0; q < N_Q; q++) {
					struct stat3 s = stats(res[p][ri][q], runs);

					v[q] = r < runs ? res[p][ri][q][r] : r == runs ? s.med : r == runs + 1 ? s.min : s.max;
				}
				fprintf(f, "%s,%.0f,", proto_name[p], rate_bps[ri] / 1e6);
				if (r < runs)
					fprintf(f, "run%d", r + 1);
				else
					fprintf(f, "%s", sn[r - runs]);
				fprintf(f, ",%.3f,%.3f,%.3f,%.3f", v[GOOD] / 1e6, v[L2] / 1e6, v[WIRE] / 1e6, v[OFFERED] / 1e6);
				if (p == TCP)
					fprintf(f, ",%.5f,%.2f", v[RETRANS], v[RTO]);
				else
					fprintf(f, ",,");
				if (ri)
					fprintf(f, ",%.4f,%d\n", v[L2] / rate_bps[ri], machine_bound(p, ri));
				else
					fprintf(f, ",,\n");
			}
	for (ri = 1; ri < N_RATES; ri++) {
		fprintf(d, "%s", rate_arg[ri]);
		for (p = 0; p < N_PROTOS; p++) {
			struct stat3 s = stats(res[p][ri][L2], runs);

			fprintf(d, " %.4f %.4f %.4f", s.med / rate_bps[ri], s.min / rate_bps[ri], s.max / rate_bps[ri]);
		}
		fprintf(d, "\n");
	}
	snprintf(script, sizeof(script),
		 "set terminal pngcairo size 760,450; set output '%s';"
		 " set title 'xtap from-VM rate limit: delivered L2 / configured, median and min-max of %d runs';"
		 " set ylabel 'delivered / configured'; set xlabel 'configured rate (bit/s)';"
		 " set style data histograms; set style histogram errorbars gap 1 lw 1;"
		 " set style fill solid 0.6 border -1; set key top right; set yrange [0:1.3]; set grid ytics;"
		 " plot '%s' using 2:3:4:xtic(1) title 'UDP', '' using 5:6:7 title 'TCP', 1 notitle lc rgb 'black'",
		 o.png, runs, o.dat);
	bench_out_plot(&o, script);
}

int main(void)
{
	struct sockaddr_in sa;
	double t_start = now_s();
	int one = 1, big = 32 << 20, p, ri, r;
	const char *e;

	bench_name = "rate_accuracy";
	bench_cleanup = env_teardown;
	if ((e = getenv("XTAP_BUILD")))
		build = e;
	if ((e = getenv("RATE_SECONDS")))
		seconds = atof(e);
	if ((e = getenv("RATE_RUNS")))
		runs = atoi(e);
	if ((e = getenv("RATE_TCP_CC")))
		tcp_cc = e;
	if ((e = getenv("RATE_BURST_MS")))
		burst_ms = atof(e);
	if (seconds < 0.5 || runs < 1 || runs > MAX_RUNS)
		die("RATE_SECONDS >= 0.5, 1 <= RATE_RUNS <= %d", MAX_RUNS);
	if (env_setup())
		return 1;
	xctl("segment add 1");
	vm_side_setup(&A);
	vm_side_setup(&B);
	sh("ip netns exec nsA ping -q -c 1 -W 2 " IP_B " >/dev/null");

	tcp_listener = socket_in(B.ns_fd, SOCK_STREAM);
	udp_rx = socket_in(B.ns_fd, SOCK_DGRAM);
	setsockopt(tcp_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(udp_rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	timeouts(tcp_listener);
	timeouts(udp_rx);
	sa = addr_of(IP_B, PORT_TCP);
	if (bind(tcp_listener, (struct sockaddr *)&sa, sizeof(sa)) || listen(tcp_listener, 4))
		die("TCP listener in nsB: %s", strerror(errno));
	sa = addr_of(IP_B, PORT_UDP);
	if (bind(udp_rx, (struct sockaddr *)&sa, sizeof(sa)))
		die("UDP socket in nsB: %s", strerror(errno));

	if (burst_ms)
		printf("rate-limit accuracy: vmA from-vm --rate R --burst (%.0f ms at R);\n", burst_ms);
	else
		printf("rate-limit accuracy: vmA from-vm --rate R (xtapd's default burst: 300 ms at R, at least 256 KiB);\n");
	printf("kernel stacks in nsA/nsB on plain taps a0/b0, relayed with their vnet headers to xtap ports vmA/vmB\n"
	       "(offloads csum+TSO: TCP sends GSO frames). udp: 1472-byte payloads at 1.5x R; tcp: one connection, %s.\n"
	       "%d runs of %.1f s (+%.1f s warm-up, longer if 2.5 bursts at R are longer) per case, interleaved.\n"
	       "delivered L2 = Ethernet bytes of the frames xtap delivered to vmB (no FCS, no vnet header; a GSO\n"
	       "frame counts once, whole), which is what the limiter charges: L2/limit is the accuracy ratio.\n"
	       "goodput: payload at nsB's socket; wire L2: GSO frames counted as their MSS-sized segments;\n"
	       "offered: L2 bytes nsA put into vmA. Mbit/s = 1e6 bit/s.\n",
	       tcp_cc, runs, seconds, WARMUP_S);
	printf("load average before: ");
	fflush(stdout);
	if (system("cut -d' ' -f1-3 /proc/loadavg")) {}

	for (r = 0; r < runs; r++)
		for (p = 0; p < N_PROTOS; p++)
			for (ri = 0; ri < N_RATES; ri++)
				measure(p, ri, r);

	print_table();
	checks();
	write_csv_and_plot();
	printf("total %.0f s\n", now_s() - t_start);
	printf("headline rate-accuracy");
	for (p = 0; p < N_PROTOS; p++)
		for (ri = 1; ri < N_RATES; ri++)
			printf(" %s-%s=%.2f", proto_name[p], rate_arg[ri], med(p, ri, L2) / rate_bps[ri]);
	for (p = 0, r = 0; p < N_PROTOS; p++)
		for (ri = 1; ri < N_RATES; ri++)
			if (machine_bound(p, ri))
				printf("%s%s-%s", r++ ? "," : " machine-bound=", proto_name[p], rate_arg[ri]);
	printf("\n");

	__atomic_store_n(&stop_relays, 1, __ATOMIC_SEQ_CST);
	pthread_join(A.relay, NULL);
	pthread_join(B.relay, NULL);
	env_teardown();
	return 0;
}
