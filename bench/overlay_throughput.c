// SPDX-License-Identifier: GPL-2.0
/*
 * Cross-host VM -> VM over VXLAN: frames written to a VM tap's fd on host 1
 * (a network namespace), read from a VM tap's fd on host 2, the hosts joined
 * by a veth underlay (198.51.100.0/24). 64-byte UDP/IPv4 frames with full
 * checksums, vnet header, O_NONBLOCK fds as QEMU uses them.
 *
 *   kernel  Linux vxlan devices (VNI 2020, UDP 4789, static FDB, no
 *           learning) in a bridge with each host's tap: the classic stack
 *   xtap    the real xtapd on each host: segment with VNI 1010, overlay
 *           underlay, VTEP and remote MAC, ports with anti-spoofing
 *
 * RUNS runs of SECONDS s per row, rows interleaved; prints the median and
 * min-max of the delivered rate and the ratio. Everything lives in a
 * sandbox (private netns and mount ns) that vanishes with the process.
 * Not part of `make bench` (its two xtapd and four namespaces take a while
 * to set up): `make build/bench/overlay_throughput && build/bench/overlay_throughput`.
 *
 * Environment: XTAP_BUILD (default build), OVERLAY_SECONDS (3), OVERLAY_RUNS (3, at most 9).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_env.h"
#include "bench_util.h"
#include "pktbuild.h"
#include "sandbox.h"

#define RUN_DIR "/run/xtap-overlay-bench"

static const char *build = "build";
static pid_t agents[2];

static void cleanup(void)
{
	int i;

	for (i = 0; i < 2; i++)
		if (agents[i] > 0) {
			char cmd[256];

			snprintf(cmd, sizeof(cmd), "%s/xtapctl -s " RUN_DIR "/x%d.sock teardown >/dev/null 2>&1",
				 build, i + 1);
			if (system(cmd)) {
				/* xtapd gone already: nothing to tear down */
			}
			kill(agents[i], SIGTERM);
			waitpid(agents[i], NULL, 0);
			agents[i] = 0;
		}
}

/* Two namespaces a and b joined by a veth (GRO on both ends: XDP redirects into a veth need NAPI). */
static void hosts(const char *a, const char *b)
{
	sh("ip netns add %s && ip netns add %s && ip link add ul type veth peer name ulp && "
	   "ip link set ul netns %s && ip link set ulp netns %s && "
	   "ip netns exec %s sh -c 'ip link set lo up && ip link set ul up && ip addr add 198.51.100.1/24 dev ul && "
	   "ethtool -K ul gro on && sysctl -qw net.ipv4.conf.ul.forwarding=1' && "
	   "ip netns exec %s sh -c 'ip link set lo up && ip link set ulp name ul && ip link set ul up && "
	   "ip addr add 198.51.100.2/24 dev ul && ethtool -K ul gro on && sysctl -qw net.ipv4.conf.ul.forwarding=1'",
	   a, b, a, b, a, b);
}

static int netns_fd(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

/* Opens tap `name` in namespace ns (the fd stays valid back in ours). */
static void open_in(const char *ns, struct vm *v, int home)
{
	int fd = netns_fd(ns);

	if (setns(fd, CLONE_NEWNET) || vm_open(v) || setns(home, CLONE_NEWNET))
		die("opening tap %s in %s: %s", v->name, ns, strerror(errno));
	close(fd);
}

static pid_t start_xtapd(int i, const char *ns)
{
	char sock[128];
	pid_t pid = fork();
	int tries;

	if (pid == 0) {
		char path[256], state[128], log[128];
		int fd;

		snprintf(log, sizeof(log), RUN_DIR "/x%d.log", i + 1);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		snprintf(path, sizeof(path), "%s/xtapd", build);
		snprintf(sock, sizeof(sock), RUN_DIR "/x%d.sock", i + 1);
		snprintf(state, sizeof(state), RUN_DIR "/x%d.json", i + 1);
		execlp("ip", "ip", "netns", "exec", ns, path, "-s", sock, "--state", state, "--pin-dir",
		       "/sys/fs/bpf/xtap", (char *)NULL);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), RUN_DIR "/x%d.sock", i + 1);
	for (tries = 0; tries < 500; tries++) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "%s/xtapctl -s %s status >/dev/null 2>&1", build, sock);
		if (!system(cmd))
			return pid;
		usleep(20000);
	}
	die("xtapd in %s did not start (see " RUN_DIR "/x%d.log)", ns, i + 1);
}

#define XCTL(i, fmt, ...) sh("%s/xtapctl -s " RUN_DIR "/x%d.sock " fmt, build, i, ##__VA_ARGS__)

/* Frames delivered per second from a to b over `seconds` (the writer is a child process). */
static double measure(struct vm *a, struct vm *b, const struct pkt *p, double seconds)
{
	uint8_t buf[2048];
	double t0, end;
	long got = 0;
	pid_t w;

	while (vm_read(b, buf, sizeof(buf), NULL, 0) >= 0)
		;
	w = fork();
	if (w == 0) {
		static const uint8_t vnet[12];
		struct iovec iov[2] = { { (void *)vnet, 12 }, { (void *)p->data, p->len } };

		end = now_s() + seconds + 0.5;
		while (now_s() < end)
			for (int i = 0; i < 256; i++)
				if (writev(a->fd, iov, 2) < 0 && errno != EAGAIN)
					_exit(1);
		_exit(0);
	}
	sleep_s(0.2);   /* warm-up */
	while (vm_read(b, buf, sizeof(buf), NULL, 0) >= 0)
		;
	t0 = now_s();
	end = t0 + seconds;
	while (now_s() < end)
		if (vm_read(b, buf, sizeof(buf), NULL, 10) >= 0)
			got++;
	end = now_s();
	waitpid(w, NULL, 0);
	return got / (end - t0);
}

static void frame(struct pkt *p, const uint8_t *src_mac, const uint8_t *dst_mac)
{
	pkt_init(p);
	pkt_eth(p, dst_mac, src_mac, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("192.0.2.1"), pkt_ip4("192.0.2.2"), IPPROTO_UDP);
	pkt_udp(p, 40000, 5000, 18);   /* 64 bytes on the wire without FCS */
	pkt_finish(p);
}

int main(void)
{
	double seconds = getenv("OVERLAY_SECONDS") ? atof(getenv("OVERLAY_SECONDS")) : 3.0;
	int runs = getenv("OVERLAY_RUNS") ? atoi(getenv("OVERLAY_RUNS")) : 3, r, home;
	struct vm kv1 = { .name = "kvm1" }, kv2 = { .name = "kvm2" }, xv1 = { .name = "xvm1" },
		  xv2 = { .name = "xvm2" };
	double kern[9], xtap[9];
	uint8_t m1[6], m2[6];
	struct pkt p;
	struct stat3 ks, xs;
	char load[64] = "";
	FILE *f;

	bench_name = "overlay_throughput";
	bench_cleanup = cleanup;
	if (getenv("XTAP_BUILD"))
		build = getenv("XTAP_BUILD");
	if (runs < 1 || runs > 9)
		die("OVERLAY_RUNS must be 1-9");
	if (sandbox_enter())
		die("sandbox");
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	mkdir("/run/netns", 0755);
	mkdir(RUN_DIR, 0755);
	mkdir("/run/xtap-test", 0755);
	if (mount("tmpfs", "/run/netns", "tmpfs", 0, NULL) || mount("tmpfs", RUN_DIR, "tmpfs", 0, NULL) ||
	    mount("tmpfs", "/run/xtap-test", "tmpfs", 0, NULL))
		die("tmpfs mounts: %s", strerror(errno));
	pkt_mac(m1, "02:00:00:00:10:01");
	pkt_mac(m2, "02:00:00:00:10:02");

	/* The classic stack: vxlan + bridge + tap on each host. */
	hosts("k1", "k2");
	for (r = 1; r <= 2; r++)
		sh("ip netns exec k%d sh -c 'ip link add vx0 type vxlan id 2020 local 198.51.100.%d dstport 4789 "
		   "dev ul nolearning && ip link add br0 type bridge && ip tuntap add kvm%d mode tap vnet_hdr && "
		   "ip link set vx0 master br0 && ip link set kvm%d master br0 && ip link set kvm%d mtu 1450 && "
		   "for d in vx0 br0 kvm%d; do ip link set $d up; done && "
		   "bridge fdb append 00:00:00:00:00:00 dev vx0 dst 198.51.100.%d && "
		   "bridge fdb add 02:00:00:00:10:0%d dev vx0 dst 198.51.100.%d'",
		   r, r, r, r, r, r, 3 - r, 3 - r, 3 - r);
	open_in("k1", &kv1, home);
	open_in("k2", &kv2, home);

	/* xtap on two more hosts. */
	hosts("x1", "x2");
	agents[0] = start_xtapd(0, "x1");
	agents[1] = start_xtapd(1, "x2");
	for (r = 0; r < 2; r++) {
		XCTL(r + 1, "segment add 10 --vni 1010");
		XCTL(r + 1, "overlay underlay set ul 198.51.100.%d", r + 1);
		XCTL(r + 1, "overlay vtep add 10 198.51.100.%d", 2 - r);
		XCTL(r + 1, "overlay mac add 10 02:00:00:00:10:0%d 198.51.100.%d", 2 - r, 2 - r);
		XCTL(r + 1, "port add xvm%d --segment 10 --mac 02:00:00:00:10:0%d --addr 192.0.2.%d --mtu 1450",
		     r + 1, r + 1, r + 1);
	}
	open_in("x1", &xv1, home);
	open_in("x2", &xv2, home);

	frame(&p, m1, m2);
	/* Both paths must deliver before they are measured (neighbours resolve, FDBs settle). */
	if (measure(&kv1, &kv2, &p, 1.0) <= 0 || measure(&xv1, &xv2, &p, 1.0) <= 0)
		die("a path delivers nothing");
	for (r = 0; r < runs; r++) {
		kern[r] = measure(&kv1, &kv2, &p, seconds);
		xtap[r] = measure(&xv1, &xv2, &p, seconds);
	}
	ks = stats(kern, runs);
	xs = stats(xtap, runs);
	f = fopen("/proc/loadavg", "r");
	if (f && fgets(load, sizeof(load), f))
		load[strcspn(load, "\n")] = 0;
	if (f)
		fclose(f);
	printf("cross-host VM->VM over VXLAN, 64 B frames, %d runs of %.1f s, load average %s\n", runs, seconds, load);
	printf("%-28s %10s %10s %10s\n", "path", "Mpps med", "min", "max");
	printf("%-28s %10.3f %10.3f %10.3f\n", "kernel vxlan + bridge", ks.med / 1e6, ks.min / 1e6, ks.max / 1e6);
	printf("%-28s %10.3f %10.3f %10.3f\n", "xtap overlay (XDP)", xs.med / 1e6, xs.min / 1e6, xs.max / 1e6);
	printf("headline overlay-64 xtap %.3f Mpps, %.2fx kernel vxlan + bridge\n", xs.med / 1e6, xs.med / ks.med);
	cleanup();
	return 0;
}
