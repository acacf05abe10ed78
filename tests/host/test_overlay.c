// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2, the overlay across hosts: three "hosts" as network namespaces
 * (h1, h2, h3), each with its own xtapd (socket, state file, bpffs) and an
 * underlay veth on one bridge (198.51.100.0/24), inside this test's sandbox.
 * Segment 10 (VNI 1010) has VMs on every host, segment 20 (VNI 2020) one VM
 * on h3. VMs are played through their taps' fds.
 *
 *   unicast both ways, broadcast (ARP) to every host of the segment only,
 *   isolation between VNIs, the to-VM ACL on cross-host traffic, and VXLAN
 *   forged from an unknown VTEP dropped and counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "agent_env.h"
#include "pktbuild.h"
#include "sandbox.h"

#define HOSTS   3
#define RUN_DIR "/run/xtap-overlay-test"

struct host {
	char name[8];
	char ul[8];          /* its underlay veth, in its namespace */
	char vtep[16];
	pid_t xtapd;
	int netns;
};

static struct host hosts[HOSTS];
static int root_netns = -1;
static const char *build = "build";

/* VMs: name, host, segment, MAC, address. */
static struct vm vm1 = { .name = "vm1" }, vm2 = { .name = "vm2" }, vm3 = { .name = "vm3" },
		 vm4 = { .name = "vm4" };
static const struct {
	struct vm *vm;
	int host;
	int segment;
	const char *mac;
	const char *ip;
} vms[] = {
	{ &vm1, 0, 10, "02:00:00:00:10:01", "192.0.2.1" },
	{ &vm2, 1, 10, "02:00:00:00:10:02", "192.0.2.2" },
	{ &vm4, 2, 10, "02:00:00:00:10:04", "192.0.2.4" },
	{ &vm3, 2, 20, "02:00:00:00:20:03", "192.0.2.3" },
};
#define N_VMS (sizeof(vms) / sizeof(vms[0]))

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* xtapctl on host h; its exit code, output in out (may be NULL). */
static int hctl(int h, char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int hctl(int h, char *out, size_t len, const char *fmt, ...)
{
	char args[512], cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *f;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/xtapctl -s " RUN_DIR "/%.7s.sock %s 2>&1", build, hosts[h].name, args);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (out && len) {
		n = fread(out, 1, len - 1, f);
		out[n] = 0;
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	rc = pclose(f);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void must_ctl(int h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void must_ctl(int h, const char *fmt, ...)
{
	char args[512], out[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (hctl(h, out, sizeof(out), "%s", args))
		fail_msg("%s: xtapctl %s: %s", hosts[h].name, args, out);
}

static int enter(int netns)
{
	return setns(netns, CLONE_NEWNET);
}

static pid_t start_xtapd(int h)
{
	char sock[128];
	pid_t pid = fork();
	int i;

	if (pid == 0) {
		char log[128], path[256], sockp[128], state[128], pins[128];
		int fd;

		snprintf(log, sizeof(log), RUN_DIR "/%.7s.log", hosts[h].name);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		snprintf(path, sizeof(path), "%s/xtapd", build);
		snprintf(sockp, sizeof(sockp), RUN_DIR "/%.7s.sock", hosts[h].name);
		snprintf(state, sizeof(state), RUN_DIR "/%.7s.json", hosts[h].name);
		snprintf(pins, sizeof(pins), RUN_DIR "/%.7s.bpf/xtap", hosts[h].name);
		/*
		 * ip netns exec: the host's network (and a fresh sysfs); the pins on a
		 * bpffs of the host's own that outlives xtapd, as /sys/fs/bpf does.
		 */
		execlp("ip", "ip", "netns", "exec", hosts[h].name, path, "-s", sockp, "--state", state,
		       "--pin-dir", pins, (char *)NULL);
		_exit(127);
	}
	snprintf(sock, sizeof(sock), RUN_DIR "/%.7s.sock", hosts[h].name);
	for (i = 0; i < 300; i++) {
		struct stat st;

		if (!stat(sock, &st) && !hctl(h, NULL, 0, "status"))
			return pid;
		usleep(20000);
	}
	return -1;
}

/* Host h's underlay: veth ulN in its namespace, its peer ulbN on the bridge. */
static int underlay_add(int h)
{
	const struct host *x = &hosts[h];

	return sh("ip link add %s type veth peer name ulb%d && ip link set %s netns %s && "
		  "ip link set ulb%d master ulbr up && "
		  /* XDP redirects into a veth need NAPI on its peer: GRO on. */
		  "ethtool -K ulb%d gro on >/dev/null && "
		  "ip netns exec %s sh -c 'ip link set %s up && ip addr add %s/24 dev %s && "
		  "sysctl -qw net.ipv4.conf.%s.forwarding=1 && "
		  /* A wire carries frames of its MTU: tunnel GSO is cut before the veth, as a NIC would. */
		  "ethtool -K %s tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off >/dev/null'",
		  x->ul, h + 1, x->ul, x->name, h + 1, h + 1, x->name, x->ul, x->vtep, x->ul, x->ul, x->ul);
}

static int setup(void **state)
{
	char path[160];
	int h;

	(void)state;
	if (getenv("XTAP_BUILD"))
		build = getenv("XTAP_BUILD");
	if (sandbox_enter())
		return -1;
	root_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	/* Namespace names, sockets and state files private to this run (the sandbox's mount namespace). */
	mkdir("/run/netns", 0755);
	mkdir(RUN_DIR, 0755);
	if (mount("tmpfs", "/run/netns", "tmpfs", 0, NULL) || mount("tmpfs", RUN_DIR, "tmpfs", 0, NULL))
		return perror("mounting tmpfs on /run/netns and " RUN_DIR), -1;
	/* The underlay: a bridge in this namespace, one veth per host. */
	if (sh("ip link add ulbr type bridge && ip link set ulbr up"))
		return -1;
	for (h = 0; h < HOSTS; h++) {
		struct host *x = &hosts[h];

		snprintf(x->name, sizeof(x->name), "h%d", h + 1);
		snprintf(x->ul, sizeof(x->ul), "ul%d", h + 1);
		snprintf(x->vtep, sizeof(x->vtep), "198.51.100.%d", h + 1);
		if (sh("ip netns add %s && ip netns exec %s sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		       "net.ipv6.conf.default.disable_ipv6=1 && ip link set lo up'", x->name, x->name) || underlay_add(h))
			return -1;
		snprintf(path, sizeof(path), RUN_DIR "/%.7s.bpf", x->name);
		if (mkdir(path, 0700) || mount("bpf", path, "bpf", 0, "mode=0700"))
			return perror(path), -1;
		snprintf(path, sizeof(path), "/run/netns/%.7s", x->name);
		x->netns = open(path, O_RDONLY | O_CLOEXEC);
		x->xtapd = start_xtapd(h);
		if (x->netns < 0 || x->xtapd < 0)
			return fprintf(stderr, "%s: xtapd did not start (see " RUN_DIR "/%.7s.log)\n", x->name,
				       x->name), -1;
	}
	return 0;
}

static int teardown(void **state)
{
	size_t i;
	int h;

	(void)state;
	for (i = 0; i < N_VMS; i++)
		vm_close(vms[i].vm);
	for (h = 0; h < HOSTS; h++) {
		if (hosts[h].xtapd <= 0)
			continue;
		/* teardown stops the ports' xtap-vhost processes; then xtapd exits. */
		hctl(h, NULL, 0, "teardown");
		kill(hosts[h].xtapd, SIGTERM);
		waitpid(hosts[h].xtapd, NULL, 0);
	}
	for (h = 0; h < HOSTS; h++)
		sh("ip netns del %s 2>/dev/null", hosts[h].name);
	return 0;
}

/* The fleet's desired state, as a controller would write it to every host. */
static void test_configure(void **state)
{
	char out[256];
	size_t i, j;
	int h;

	(void)state;
	for (h = 0; h < HOSTS; h++) {
		must_ctl(h, "segment add 10 --vni 1010");
		must_ctl(h, "segment add 20 --vni 2020");
		must_ctl(h, "overlay underlay set %s %s", hosts[h].ul, hosts[h].vtep);
		for (j = 0; j < HOSTS; j++)
			if ((int)j != h) {
				must_ctl(h, "overlay vtep add 10 %s", hosts[j].vtep);
				must_ctl(h, "overlay vtep add 20 %s", hosts[j].vtep);
			}
	}
	/* The MTU is the underlay's less 50: a port asking more is refused, naming the limit. */
	assert_int_equal(hctl(0, out, sizeof(out), "port add vmx --segment 10 --mac 02:00:00:00:10:99"), 1);
	assert_non_null(strstr(out, "at most 1450"));
	for (i = 0; i < N_VMS; i++) {
		int home = vms[i].host;

		must_ctl(home, "port add %s --segment %d --mac %s --addr %s --mtu 1450", vms[i].vm->name,
			 vms[i].segment, vms[i].mac, vms[i].ip);
		for (h = 0; h < HOSTS; h++)
			if (h != home)
				must_ctl(h, "overlay mac add %d %s %s", vms[i].segment, vms[i].mac, hosts[home].vtep);
		pkt_mac(vms[i].vm->mac, vms[i].mac);
		vms[i].vm->ip4 = pkt_ip4(vms[i].ip);
		assert_int_equal(enter(hosts[home].netns), 0);
		assert_int_equal(vm_open(vms[i].vm), 0);
		assert_int_equal(enter(root_netns), 0);
	}
}

static void udp_frame(struct pkt *p, const struct vm *from, const struct vm *to, uint16_t dport)
{
	pkt_init(p);
	pkt_eth(p, to->mac, from->mac, ETH_P_IP);
	pkt_ipv4(p, from->ip4, to->ip4, IPPROTO_UDP);
	pkt_udp(p, 40000, dport, 64);
	pkt_finish(p);
}

/* The frame arrives at `to` within timeout_ms, byte for byte. */
static int arrives(struct vm *to, const struct pkt *p, int timeout_ms)
{
	uint8_t buf[2048];
	struct timespec t0, t;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
		n = vm_read(to, buf, sizeof(buf), NULL, left);
		if (n == (int)p->len && !memcmp(buf, p->data, p->len))
			return 1;
	}
}

/* What each host's overlay saw, for a failure's message. */
static void dump_overlay(void)
{
	char out[4096];
	int h;

	for (h = 0; h < HOSTS; h++) {
		hctl(h, out, sizeof(out), "overlay show");
		print_message("%s:\n%s", hosts[h].name, out);
		if (getenv("OVERLAY_DEBUG"))
			sh("ip netns exec %s ip -s link show %s; ip netns exec %s ip neigh; ip -s link show ulb%d",
			   hosts[h].name, hosts[h].ul, hosts[h].name, h + 1);
	}
}

/*
 * The first frames wait for the managed neighbours to resolve: send until
 * one arrives (within 10 s on a loaded machine), then every frame must.
 */
static void unicast(struct vm *from, struct vm *to)
{
	struct pkt p;
	int i;

	udp_frame(&p, from, to, 5000);
	for (i = 0; i < 100; i++) {
		assert_int_equal(vm_write(from, NULL, p.data, p.len), 0);
		if (arrives(to, &p, 100))
			break;
	}
	if (i == 100) {
		dump_overlay();
		fail_msg("%s -> %s: nothing arrived in 10 s", from->name, to->name);
	}
	for (i = 0; i < 20; i++) {
		assert_int_equal(vm_write(from, NULL, p.data, p.len), 0);
		if (!arrives(to, &p, 2000))
			fail_msg("%s -> %s: frame %d lost", from->name, to->name, i);
	}
}

static void test_unicast_both_ways(void **state)
{
	(void)state;
	unicast(&vm1, &vm2);
	unicast(&vm2, &vm1);
	unicast(&vm4, &vm1);
	unicast(&vm2, &vm4);
}

/* ARP who-has from vm1: every VM of segment 10 on other hosts gets it, vm3 (segment 20) does not. */
static void test_broadcast_reaches_segment_only(void **state)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6];
	struct pkt p;

	(void)state;
	vm_count(&vm3, 10);
	pkt_init(&p);
	pkt_eth(&p, bcast, vm1.mac, ETH_P_ARP);
	pkt_arp(&p, 1, vm1.mac, vm1.ip4, zero, vm2.ip4);
	pkt_finish(&p);
	assert_int_equal(vm_write(&vm1, NULL, p.data, p.len), 0);
	if (!arrives(&vm2, &p, 3000) || !arrives(&vm4, &p, 3000)) {
		dump_overlay();
		fail_msg("vm1's broadcast did not reach vm2 and vm4");
	}
	assert_int_equal(vm_count(&vm3, 300), 0);
}

/* A frame of segment 10 to vm3's MAC (segment 20) never reaches vm3. */
static void test_vnis_isolated(void **state)
{
	struct pkt p;
	int i;

	(void)state;
	udp_frame(&p, &vm1, &vm3, 5000);
	for (i = 0; i < 5; i++)
		assert_int_equal(vm_write(&vm1, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm3, 500), 0);
}

/* vm2's to-VM ACL denies UDP port 7 from vm1: cross-host frames meet it like local ones. */
static void test_policy_on_cross_host_traffic(void **state)
{
	struct pkt denied, allowed;

	(void)state;
	must_ctl(1, "acl add vm2 to-vm deny --cidr %s --proto udp --ports 7", "192.0.2.1");
	udp_frame(&denied, &vm1, &vm2, 7);
	udp_frame(&allowed, &vm1, &vm2, 8);
	assert_int_equal(vm_write(&vm1, NULL, denied.data, denied.len), 0);
	assert_false(arrives(&vm2, &denied, 500));
	assert_int_equal(vm_write(&vm1, NULL, allowed.data, allowed.len), 0);
	assert_true(arrives(&vm2, &allowed, 2000));
}

static uint64_t decap_dropped(int h)
{
	char out[8192];
	json_object *o, *c;
	uint64_t v = 0;

	assert_int_equal(hctl(h, out, sizeof(out), "overlay show -j"), 0);
	o = json_tokener_parse(out);
	assert_non_null(o);
	if (json_object_object_get_ex(o, "counters", &c) && json_object_object_get_ex(c, "decap_dropped", &c) &&
	    json_object_object_get_ex(c, "packets", &c))
		v = json_object_get_uint64(c);
	json_object_put(o);
	return v;
}

/* VXLAN for VNI 1010 to h2's VTEP from 198.51.100.99, a host h2 does not list: dropped, counted. */
static void test_forged_vxlan_dropped(void **state)
{
	uint8_t ul_mac[6], forger_mac[6];
	struct sockaddr_ll sa = { .sll_family = AF_PACKET };
	char mac[32] = "";
	struct pkt inner, outer;
	uint64_t before = decap_dropped(1);
	FILE *f;
	int fd, i;

	(void)state;
	assert_int_equal(sh("ip link add forge0 type veth peer name forge1 && ip link set forge1 master ulbr up && "
			    "ip link set forge0 up"), 0);
	f = popen("ip netns exec h2 cat /sys/class/net/ul2/address", "r");
	assert_non_null(f);
	assert_non_null(fgets(mac, sizeof(mac), f));
	pclose(f);
	mac[strcspn(mac, "\n")] = 0;
	pkt_mac(ul_mac, mac);
	pkt_mac(forger_mac, "02:66:00:00:00:99");
	udp_frame(&inner, &vm1, &vm2, 5000);
	pkt_init(&outer);
	pkt_eth(&outer, ul_mac, forger_mac, ETH_P_IP);
	pkt_ipv4(&outer, pkt_ip4("198.51.100.99"), pkt_ip4(hosts[1].vtep), IPPROTO_UDP);
	pkt_udp(&outer, 50000, 4789, 8 + inner.len);
	/* VXLAN header: I flag, VNI 1010; then the inner frame. */
	outer.data[outer.l4_off + 8] = 0x08;
	outer.data[outer.l4_off + 12] = 1010 >> 16;
	outer.data[outer.l4_off + 13] = (1010 >> 8) & 0xFF;
	outer.data[outer.l4_off + 14] = 1010 & 0xFF;
	memcpy(outer.data + outer.l4_off + 16, inner.data, inner.len);
	pkt_finish(&outer);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	sa.sll_ifindex = if_nametoindex("forge0");
	sa.sll_halen = 6;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	vm_count(&vm2, 10);
	for (i = 0; i < 5; i++)
		assert_int_equal(send(fd, outer.data, outer.len, 0), (ssize_t)outer.len);
	close(fd);
	assert_false(arrives(&vm2, &inner, 500));
	assert_int_equal(decap_dropped(1) - before, 5);
}

/*
 * What guests with offloads send: a UDP frame with only the pseudo-header
 * checksum (NEEDS_CSUM), and a 10 KB TCP segment for the "NIC" to cut (GSO,
 * the skb path's UDP-tunnel encapsulation). vm2 gets correct frames: the
 * checksum complete or still marked, the TCP bytes whole (one GSO frame or
 * its segments).
 */
static void test_offloads_across_hosts(void **state)
{
	struct virtio_net_hdr_v1 h = {};
	static uint8_t buf[65536];
	uint8_t vnet[12];
	size_t got = 0;
	struct pkt p;
	int n;

	(void)state;
	pkt_init(&p);
	pkt_eth(&p, vm2.mac, vm1.mac, ETH_P_IP);
	pkt_ipv4(&p, vm1.ip4, vm2.ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 5000, 301);
	pkt_finish(&p);
	pkt_set_partial_csum(&p);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = p.l4_off;
	h.csum_offset = 6;
	assert_int_equal(vm_write(&vm1, &h, p.data, p.len), 0);
	n = vm_read(&vm2, buf, sizeof(buf), vnet, 2000);
	assert_int_equal(n, (int)p.len);
	assert_true(pkt_l4_csum_ok(buf, n) || (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM));

	vm_tcp4_gso(&p, &h, &vm1, &vm2, 10000, 1398);   /* MSS within MTU 1450 */
	assert_int_equal(vm_write(&vm1, &h, p.data, p.len), 0);
	while (got < 10000 && (n = vm_read(&vm2, buf, sizeof(buf), vnet, 2000)) > 0) {
		size_t payload = n - (p.l4_off + 20);

		if (n <= (int)(p.l4_off + 20) || got + payload > 10000 ||
		    memcmp(buf + p.l4_off + 20, p.data + p.l4_off + 20 + got, payload))
			fail_msg("vm2: a frame of %d bytes that is not the next part of the segment (%zu bytes so far)",
				 n, got);
		got += payload;
	}
	if (got != 10000) {
		dump_overlay();
		fail_msg("vm2 got %zu of the 10000 TCP bytes", got);
	}
}

/* The overlay is in the state file: a restarted xtapd has it all, and frames flow again. */
static void test_restart_keeps_overlay(void **state)
{
	char before[8192], after[8192];
	json_object *b, *a;

	(void)state;
	assert_int_equal(hctl(0, before, sizeof(before), "overlay show -j"), 0);
	kill(hosts[0].xtapd, SIGTERM);
	waitpid(hosts[0].xtapd, NULL, 0);
	hosts[0].xtapd = start_xtapd(0);
	assert_true(hosts[0].xtapd > 0);
	assert_int_equal(hctl(0, after, sizeof(after), "overlay show -j"), 0);
	b = json_tokener_parse(before);
	a = json_tokener_parse(after);
	assert_non_null(a);
	assert_non_null(b);
	/* Counters live in the pinned maps and survive too; compare the configuration. */
	json_object_object_del(a, "counters");
	json_object_object_del(b, "counters");
	assert_string_equal(json_object_to_json_string(a), json_object_to_json_string(b));
	json_object_put(a);
	json_object_put(b);
	unicast(&vm2, &vm1);
	unicast(&vm1, &vm4);
}

/* h1's underlay deleted and made again (a new ifindex): xtapd repairs it and frames flow again. */
static void test_underlay_repaired(void **state)
{
	int i;

	(void)state;
	assert_int_equal(sh("ip link del ulb1"), 0);
	assert_int_equal(underlay_add(0), 0);
	/* Within 5 s xtapd's link monitor has put the XDP program back. */
	for (i = 0; i < 250 && sh("ip netns exec h1 ip link show ul1 | grep -q ' xdp'"); i++)
		usleep(20000);
	assert_true(i < 250);
	unicast(&vm2, &vm1);
	unicast(&vm1, &vm4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_unicast_both_ways),
		cmocka_unit_test(test_broadcast_reaches_segment_only),
		cmocka_unit_test(test_vnis_isolated),
		cmocka_unit_test(test_policy_on_cross_host_traffic),
		cmocka_unit_test(test_forged_vxlan_dropped),
		cmocka_unit_test(test_offloads_across_hosts),
		cmocka_unit_test(test_restart_keeps_overlay),
		cmocka_unit_test(test_underlay_repaired),
	};

	if (geteuid()) {
		printf("test_overlay: needs root (network namespaces); skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
