// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: the real xtapd and xtapctl, VMs on taps, an outside behind a veth
 * uplink. Everything happens in a sandbox that vanishes with this process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "pktbuild.h"

static struct vm vm_a = { .name = "vmA" }, vm_b = { .name = "vmB" }, vm_c = { .name = "vmC" };

/* The ports' policy as JSON text, without runtime fields (status, next rule id). */
static char *policy_snapshot(void)
{
	json_object *ports = ctl_json("port list");
	size_t i;
	char *text;

	for (i = 0; i < json_object_array_length(ports); i++) {
		json_object_object_del(json_object_array_get_idx(ports, i), "status");
		json_object_object_del(json_object_array_get_idx(ports, i), "next_rule_id");
	}
	text = strdup(json_object_to_json_string(ports));
	json_object_put(ports);
	return text;
}

static void udp4(struct pkt *p, const struct vm *from, const uint8_t *dst_mac, uint32_t src,
		 uint32_t dst, uint16_t dport, size_t payload)
{
	pkt_init(p);
	pkt_eth(p, dst_mac, from->mac, ETH_P_IP);
	pkt_ipv4(p, src, dst, IPPROTO_UDP);
	pkt_udp(p, 40000, dport, payload);
	pkt_finish(p);
}

static void udp_ab(struct pkt *p, uint16_t dport)
{
	udp4(p, &vm_a, vm_b.mac, vm_a.ip4, vm_b.ip4, dport, 64);
}

static int drain_all(void)
{
	return vm_count(&vm_a, 50) + vm_count(&vm_b, 50) + vm_count(&vm_c, 50) + out_count(50);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	(void)state;
	if (env_setup())
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "segment add 1 --uplink uplink0") || ctl(ctl_out, sizeof(ctl_out), "segment add 2")) {
		fprintf(stderr, "segment add: %s\n", ctl_out);
		return -1;
	}
	if (ctl_vm_add(&vm_a, 1, "02:00:00:00:01:0a", "10.1.0.10") ||
	    ctl_vm_add(&vm_b, 1, "02:00:00:00:01:0b", "10.1.0.11") ||
	    ctl_vm_add(&vm_c, 2, "02:00:00:00:01:0c", "10.1.0.12"))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	vm_close(&vm_a);
	vm_close(&vm_b);
	vm_close(&vm_c);
	env_teardown();
	return 0;
}

/* Every test leaves the ports with no ACL rules, default allow, no limits. */
static int reset_policy(void **state)
{
	const char *ports[] = { "vmA", "vmB", "vmC" }, *dirs[] = { "from-vm", "to-vm" };
	size_t i, d, r;

	(void)state;
	for (i = 0; i < 3; i++) {
		json_object *acl = ctl_json("acl list %s", ports[i]);

		for (d = 0; d < 2; d++) {
			json_object *rules = json_object_object_get(json_object_object_get(acl, dirs[d]), "rules");

			for (r = 0; r < json_object_array_length(rules); r++)
				must_ctl("acl del %s %s %d", ports[i], dirs[d],
					 json_object_get_int(json_object_object_get(json_object_array_get_idx(rules, r), "id")));
			must_ctl("acl default %s %s allow", ports[i], dirs[d]);
			must_ctl("rate clear %s %s", ports[i], dirs[d]);
		}
		json_object_put(acl);
	}
	drain_all();
	return 0;
}

/* ---- traffic ---- */

static void test_vm_to_vm(void **s)
{
	uint8_t buf[2048];
	struct pkt p;
	int64_t before = stat_of("vmA", "from-vm", "verdicts", "to_port");

	(void)s;
	udp_ab(&p, 5000);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_memory_equal(buf, p.data, p.len);
	assert_int_equal(vm_count(&vm_c, 100), 0);
	assert_int_equal(stat_of("vmA", "from-vm", "verdicts", "to_port") - before, 1);
}

static void test_vm_to_outside_and_back(void **s)
{
	uint8_t buf[2048];
	struct pkt p;

	(void)s;
	udp4(&p, &vm_a, env_out_mac, vm_a.ip4, pkt_ip4("192.0.2.254"), 53, 40);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(out_read(buf, sizeof(buf), 1000), (int)p.len);
	assert_memory_equal(buf, p.data, p.len);

	pkt_init(&p);
	pkt_eth(&p, vm_a.mac, env_out_mac, ETH_P_IP);
	pkt_ipv4(&p, pkt_ip4("192.0.2.254"), vm_a.ip4, IPPROTO_UDP);
	pkt_udp(&p, 53, 40000, 40);
	pkt_finish(&p);
	assert_int_equal(out_write(p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_a, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_memory_equal(buf, p.data, p.len);
	assert_int_equal(vm_count(&vm_b, 100), 0);
}

static void test_broadcast_stays_in_segment(void **s)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t buf[2048];
	struct pkt p;

	(void)s;
	udp4(&p, &vm_a, bcast, vm_a.ip4, pkt_ip4("10.1.0.255"), 5353, 40);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_int_equal(out_read(buf, sizeof(buf), 1000), (int)p.len);
	assert_int_equal(vm_count(&vm_c, 200), 0);
	assert_int_equal(vm_count(&vm_a, 50), 0);
}

static void test_segment_isolation(void **s)
{
	struct pkt p;

	(void)s;
	/* C (segment 2) knows no B: its frame for B's MAC goes to the host, never to B. */
	udp4(&p, &vm_c, vm_b.mac, vm_c.ip4, vm_b.ip4, 5000, 40);
	assert_int_equal(vm_write(&vm_c, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm_b, 300), 0);
	assert_int_equal(out_count(100), 0);
}

static void test_spoofs_dropped(void **s)
{
	struct pkt p;
	int64_t ip = stat_of("vmA", "from-vm", "drops", "spoof_ipv4");
	int64_t mac = stat_of("vmA", "from-vm", "drops", "spoof_mac");
	int64_t arp = stat_of("vmA", "from-vm", "drops", "spoof_arp");

	(void)s;
	udp4(&p, &vm_a, vm_b.mac, pkt_ip4("10.1.0.99"), vm_b.ip4, 5000, 40);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	udp_ab(&p, 5000);
	p.data[6] ^= 0x04;
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	pkt_init(&p);
	pkt_eth(&p, (uint8_t[6]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, vm_a.mac, ETH_P_ARP);
	pkt_arp(&p, 2, vm_a.mac, vm_b.ip4, (uint8_t[6]){ 0 }, vm_b.ip4);
	pkt_finish(&p);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm_b, 300), 0);
	assert_int_equal(out_count(50), 0);
	assert_int_equal(stat_of("vmA", "from-vm", "drops", "spoof_ipv4") - ip, 1);
	assert_int_equal(stat_of("vmA", "from-vm", "drops", "spoof_mac") - mac, 1);
	assert_int_equal(stat_of("vmA", "from-vm", "drops", "spoof_arp") - arp, 1);
}

static void test_acl_live(void **s)
{
	json_object *acl;
	struct pkt p;

	(void)s;
	must_ctl("acl add vmB to-vm deny --proto udp --ports 5001");
	udp_ab(&p, 5001);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm_b, 300), 0);
	udp_ab(&p, 5002);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm_b, 300), 1);
	acl = ctl_json("acl list vmB");
	assert_int_equal(json_object_get_int64(json_object_object_get(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(json_object_object_get(acl, "to-vm"), "rules"), 0),
		"hits"), "packets")), 1);
	json_object_put(acl);
	/* Default deny from A, one allowed destination port. */
	must_ctl("acl default vmA from-vm deny");
	must_ctl("acl add vmA from-vm allow --cidr 10.1.0.0/24 --proto udp --ports 6000-6001");
	udp_ab(&p, 6001);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	udp_ab(&p, 6002);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_count(&vm_b, 300), 1);
}

/* Sends frames for `seconds` at `pps` (paced) and returns how many B received. */
/*
 * Offers pps for the given seconds and counts what reaches `to`. A limiter
 * passes no more than its burst after a pause of the sender, so the time the
 * sender itself was kept off the CPU (gaps over 2 ms: a loaded machine) is
 * returned in *stalled and taken off the time the limit had to fill.
 */
static long send_paced(struct vm *from, const struct pkt *p, double pps, double seconds, struct vm *to,
		       double *stalled)
{
	static uint8_t buf[65536];
	struct timespec t0, now;
	long sent = 0, got = 0;
	double elapsed, last = 0;

	*stalled = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
		if (elapsed - last > 0.002)
			*stalled += elapsed - last;
		last = elapsed;
		while (sent < elapsed * pps) {
			if (vm_write(from, NULL, p->data, p->len) == 0)
				sent++;
			else
				break;
		}
		while (vm_read(to, buf, sizeof(buf), NULL, 0) >= 0)
			got++;
	} while (elapsed < seconds);
	return got + vm_count(to, 200);
}

static void test_rate_limit_packets_measured(void **s)
{
	double stalled, low;
	struct pkt p;
	long got, want;

	(void)s;
	must_ctl("rate set vmA from-vm --pps 2000 --burst-packets 20");
	udp_ab(&p, 5000);
	got = send_paced(&vm_a, &p, 4000, 2.0, &vm_b, &stalled);
	want = 20 + 2000 * 2;
	low = 20 + 2000 * (2 - stalled);
	print_message("packets/s limit 2000: offered 4000/s for 2 s (sender stalled %.3f s), received %ld (expected %.0f-%ld)\n",
		      stalled, got, low, want);
	assert_true(got > low * 0.97 && got < want * 1.03);
	assert_true(stat_of("vmA", "from-vm", "drops", "rate_packets") > 3000 - 4000 * stalled);
}

static void test_rate_limit_bytes_measured(void **s)
{
	double want, low, stalled;
	struct pkt p;
	long got;

	(void)s;
	/* 8 Mbit/s = 1 MB/s; 1000-byte frames: 1000 frames/s, plus a 64 KiB burst. */
	must_ctl("rate set vmA from-vm --rate 8m --burst 64k");
	udp_ab(&p, 5000);
	pkt_init(&p);
	pkt_eth(&p, vm_b.mac, vm_a.mac, ETH_P_IP);
	pkt_ipv4(&p, vm_a.ip4, vm_b.ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 5000, 1000 - 42);
	pkt_finish(&p);
	got = send_paced(&vm_a, &p, 2000, 2.0, &vm_b, &stalled);
	want = (65536 + 1e6 * 2) / 1000;
	low = (65536 + 1e6 * (2 - stalled)) / 1000;
	print_message("byte limit 8 Mbit/s: offered 16 Mbit/s for 2 s (sender stalled %.3f s), received %ld frames (expected %.0f-%.0f)\n",
		      stalled, got, low, want);
	assert_true(got > low * 0.97 && got < want * 1.03);
	assert_true(stat_of("vmA", "from-vm", "drops", "rate_bytes") > 1500 - 2000 * stalled);
}

/* Guest offloads: a partial checksum and a GSO frame both arrive intact. */
static void test_needs_csum_and_gso_frames(void **s)
{
	struct virtio_net_hdr_v1 h = {};
	uint8_t buf[65536], vnet[12];
	struct pkt p;
	int n, i;

	(void)s;
	for (i = 0; i < 2; i++) {
		pkt_init(&p);
		pkt_eth(&p, vm_b.mac, vm_a.mac, i ? ETH_P_IPV6 : ETH_P_IP);
		if (i) {
			struct in6_addr sa = pkt_ip6("fd00::a"), da = pkt_ip6("fd00::b");

			must_ctl("addr add vmA fd00::a");
			pkt_ipv6(&p, &sa, &da, IPPROTO_UDP);
		} else {
			pkt_ipv4(&p, vm_a.ip4, vm_b.ip4, IPPROTO_UDP);
		}
		pkt_udp(&p, 40000, 5000, 301);
		pkt_finish(&p);
		pkt_set_partial_csum(&p);
		memset(&h, 0, sizeof(h));
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = p.l4_off;
		h.csum_offset = 6;
		assert_int_equal(vm_write(&vm_a, &h, p.data, p.len), 0);
		n = vm_read(&vm_b, buf, sizeof(buf), vnet, 1000);
		assert_int_equal(n, (int)p.len);
		/* Completed by XDP, or still marked for the receiver to complete. */
		assert_true(pkt_l4_csum_ok(buf, n) || (vnet[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM));
	}
	must_ctl("addr del vmA fd00::a");

	/* A 10 KB TCP segment for the "NIC" to cut: GSO takes the skb path and keeps its state. */
	vm_tcp4_gso(&p, &h, &vm_a, &vm_b, 10000, 1448);
	assert_int_equal(vm_write(&vm_a, &h, p.data, p.len), 0);
	n = vm_read(&vm_b, buf, sizeof(buf), vnet, 1000);
	assert_int_equal(n, (int)p.len);
	assert_memory_equal(buf + p.l4_off + 20, p.data + p.l4_off + 20, 10000);
	assert_int_equal(((struct virtio_net_hdr_v1 *)vnet)->gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vm_count(&vm_c, 50), 0);
}

/*
 * Frames far above the MTU that are not GSO (a hostile guest's, 1600 to
 * 65000 bytes, written into the tap as a VMM would) never reach the other
 * VM: dropped `mtu`, each counted once. The packet tier cannot run frames
 * this long; this is the real tap, generic XDP and tc.
 */
static void test_frames_above_mtu_dropped(void **s)
{
	static const size_t sizes[] = { 1515, 1600, 9000, 65000 };
	struct virtio_net_hdr_v1 h = {};
	int64_t mtu = stat_of("vmA", "from-vm", "drops", "mtu");
	uint8_t buf[2048];
	struct pkt p;
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		pkt_init(&p);
		pkt_eth(&p, vm_b.mac, vm_a.mac, ETH_P_IP);
		pkt_ipv4(&p, vm_a.ip4, vm_b.ip4, IPPROTO_UDP);
		pkt_udp(&p, 40000, 5000, sizes[i] - 14 - 20 - 8);
		pkt_finish(&p);
		assert_int_equal(p.len, sizes[i]);
		assert_int_equal(vm_write(&vm_a, &h, p.data, p.len), 0);
	}
	/* A frame at the MTU still passes, and is the only one vmB gets. */
	pkt_init(&p);
	pkt_eth(&p, vm_b.mac, vm_a.mac, ETH_P_IP);
	pkt_ipv4(&p, vm_a.ip4, vm_b.ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 5000, 1500 - 20 - 8);
	pkt_finish(&p);
	assert_int_equal(vm_write(&vm_a, &h, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_int_equal(vm_count(&vm_b, 200), 0);
	assert_int_equal(stat_of("vmA", "from-vm", "drops", "mtu") - mtu, 4);
}

struct flow {
	long count;
	long received;
};

static void *receiver(void *arg)
{
	static uint8_t buf[65536];
	struct flow *f = arg;
	int idle = 0;

	while (f->received < f->count && idle < 30) {
		if (vm_read(&vm_b, buf, sizeof(buf), NULL, 100) >= 0) {
			f->received++;
			idle = 0;
		} else {
			idle++;
		}
	}
	return NULL;
}

static void test_sigkill_restart_loses_nothing(void **s)
{
	struct flow f = { .count = 20000 };
	const double pps = 10000;
	char *before, *after;
	struct timespec t0, now;
	pthread_t rx;
	pid_t restarted = 0;
	int killed = 0;
	struct pkt p;
	long sent = 0;
	int64_t counter_before = stat_of("vmA", "from-vm", "verdicts", "to_port");

	(void)s;
	must_ctl("acl add vmB to-vm deny --proto tcp --ports 22");
	/* Room for all 20000 in B's queue: on a loaded machine the reader may lag; what is tested is xtap. */
	assert_int_equal(system("ip link set vmB txqueuelen 30000"), 0);
	before = policy_snapshot();
	udp_ab(&p, 5000);
	pthread_create(&rx, NULL, receiver, &f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < f.count) {
		double el;

		clock_gettime(CLOCK_MONOTONIC, &now);
		el = now.tv_sec - t0.tv_sec + (now.tv_nsec - t0.tv_nsec) / 1e9;
		/* A crash 0.5 s in, a restart 0.3 s later; frames keep flowing meanwhile. */
		if (!killed && el > 0.5) {
			env_agent_kill();
			killed = 1;
		}
		if (killed && !restarted && el > 0.8)
			restarted = env_agent_spawn();
		if (sent < el * pps && vm_write(&vm_a, NULL, p.data, p.len) == 0)
			sent++;
	}
	assert_true(env_agent_wait_ready() > 0);
	pthread_join(rx, NULL);
	assert_int_equal(system("ip link set vmB txqueuelen 1000"), 0);
	print_message("SIGKILL + restart under %.0f frames/s: sent %ld, received %ld\n", pps, sent,
		      f.received);
	assert_true(restarted > 0);
	assert_int_equal(f.received, f.count);
	after = policy_snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_true(stat_of("vmA", "from-vm", "verdicts", "to_port") - counter_before >= f.count);
	/* One XDP program per tap, one tcx link per hook (2 per tap, 1 on the uplink), not two. */
	assert_int_equal(system("test $(ip -d link show vmA | grep -c 'prog/xdp') -eq 1"), 0);
	assert_int_equal(system("test $(ls " ENV_PINS "/links | wc -l) -eq 7"), 0);
}

/* The XDP program on ifname uses the map pinned at path. */
static int xdp_prog_uses_pinned(const char *ifname, const char *path)
{
	struct bpf_prog_info pi = {};
	struct bpf_map_info mi = {};
	__u32 ids[64], len, prog_id = 0, i;
	int fd, map_fd, found = 0;

	if (bpf_xdp_query_id(if_nametoindex(ifname), 0, &prog_id) || !prog_id)
		return 0;
	map_fd = bpf_obj_get(path);
	len = sizeof(mi);
	if (map_fd < 0 || bpf_obj_get_info_by_fd(map_fd, &mi, &len))
		return 0;
	close(map_fd);
	fd = bpf_prog_get_fd_by_id(prog_id);
	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pi);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &pi, &len))
		return 0;
	close(fd);
	for (i = 0; i < pi.nr_map_ids && i < 64; i++)
		found |= ids[i] == mi.id;
	return found;
}

/*
 * An upgrade that changed a map's layout: xtapd finds the pinned map of the
 * older build, replaces it, rewrites the policy from its state file, and
 * frames flow again with the old programs replaced by the new ones. The
 * programs left attached have this build's instructions (its tag) but use
 * the replaced map: xtapd must replace them too, not take them for its own
 * (they would go on reading a map nobody writes any more).
 */
static void test_older_map_layout_replaced(void **s)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	uint8_t buf[2048];
	struct pkt p;
	int fd;

	(void)s;
	env_agent_kill();
	assert_int_equal(unlink(ENV_PINS "/xtap_ports"), 0);
	/* What an older build pinned: same name and key, a smaller value. */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "xtap_ports", 4, 64, 16, &opts);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_pin(fd, ENV_PINS "/xtap_ports"), 0);
	close(fd);
	assert_true(env_agent_start() > 0);
	assert_int_equal(system("grep -q 'xtap_ports has another build.s layout: replacing it' " ENV_LOG), 0);
	udp_ab(&p, 5000);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_memory_equal(buf, p.data, p.len);
	assert_int_equal(system("test $(ip -d link show vmA | grep -c 'prog/xdp') -eq 1"), 0);
	assert_true(xdp_prog_uses_pinned("vmA", ENV_PINS "/xtap_ports"));
	assert_true(xdp_prog_uses_pinned("vmB", ENV_PINS "/xtap_ports"));
}

/* A port's xtap-vhost killed (OOM, a crash): xtapd starts it again within seconds. */
static void test_vhost_server_restarted(void **s)
{
	json_object *o, *v;
	int pid0 = 0, pid1 = 0, i;

	(void)s;
	o = ctl_json("port show vmA");
	assert_true(json_object_object_get_ex(o, "status", &v) && json_object_object_get_ex(v, "vhost_user", &v) &&
		    json_object_object_get_ex(v, "pid", &v));
	pid0 = json_object_get_int(v);
	json_object_put(o);
	assert_true(pid0 > 1);
	assert_int_equal(kill(pid0, SIGKILL), 0);
	for (i = 0; i < 100 && (pid1 == 0 || pid1 == pid0); i++) {
		usleep(100000);
		o = ctl_json("port show vmA");
		if (json_object_object_get_ex(o, "status", &v) && json_object_object_get_ex(v, "vhost_user", &v) &&
		    json_object_object_get_ex(v, "pid", &v))
			pid1 = json_object_get_int(v);
		json_object_put(o);
	}
	print_message("xtap-vhost of vmA: pid %d killed, pid %d serving after %.1f s\n", pid0, pid1, i / 10.0);
	assert_true(pid1 > 1 && pid1 != pid0);
	assert_int_equal(system("test -S " ENV_VHOST_DIR "/vmA.sock"), 0);
	assert_int_equal(system("grep -q 'port vmA: its xtap-vhost is gone' " ENV_LOG), 0);
}

static void test_tap_deleted_is_repaired(void **s)
{
	uint8_t buf[2048];
	struct pkt p;
	int i, ok = 0;

	(void)s;
	vm_close(&vm_b);
	assert_int_equal(system("ip link del vmB"), 0);
	for (i = 0; i < 40 && !ok; i++) {
		usleep(50000);
		ok = if_nametoindex("vmB") != 0;
	}
	assert_true(ok);
	usleep(200000);
	assert_int_equal(vm_open(&vm_b), 0);
	udp_ab(&p, 5000);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	ctl(ctl_out, sizeof(ctl_out), "port list");
	assert_non_null(strstr(ctl_out, "vmB"));
}

static void test_uplink_gone_and_back(void **s)
{
	uint8_t buf[2048];
	struct pkt p;
	int i, ok = 0;

	(void)s;
	assert_int_equal(system("ip link del uplink0"), 0);
	usleep(300000);
	assert_int_equal(env_uplink_create(), 0);
	udp4(&p, &vm_a, env_out_mac, vm_a.ip4, pkt_ip4("192.0.2.254"), 53, 40);
	/* xtapd notices the new uplink0 and attaches to it again. */
	for (i = 0; i < 40 && !ok; i++) {
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
		ok = out_read(buf, sizeof(buf), 100) == (int)p.len;
	}
	assert_true(ok);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "-j port show vmA"), 0);
	assert_non_null(strstr(ctl_out, "\"up\""));
}

/* xtapctl top: per-port rates from two samples of the counters. */
static void test_top_shows_rates(void **s)
{
	struct pkt p;
	int i;

	(void)s;
	udp_ab(&p, 5000);
	for (i = 0; i < 50; i++)
		vm_write(&vm_a, NULL, p.data, p.len);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "top --interval 0.2 --count 1"), 0);
	assert_non_null(strstr(ctl_out, "RX_PPS"));
	assert_non_null(strstr(ctl_out, "vmA"));
	assert_non_null(strstr(ctl_out, "vmB"));
}

/* The hand-off: xtapctl port exec runs a "VMM" with the port's queue fd inherited. */
static void test_port_exec_hands_over_queues(void **s)
{
	char cmd[512], line[256];
	const char *b = getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build";
	struct pkt p;
	FILE *vmm;
	int i, got = -1;

	(void)s;
	vm_close(&vm_b);   /* a single-queue tap has one reader: the VMM */
	snprintf(cmd, sizeof(cmd),
		 "%s/xtapctl -s %s port exec vmB -- %s/xtap-vmsim recv --fd %%{fd} --duration 1.5", b,
		 ENV_SOCK, b);
	vmm = popen(cmd, "r");
	assert_non_null(vmm);
	usleep(500000);
	udp_ab(&p, 5000);
	for (i = 0; i < 10; i++)
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	while (fgets(line, sizeof(line), vmm))
		if (sscanf(line, "received %d frames", &got) == 1)
			break;
	assert_int_equal(pclose(vmm), 0);
	assert_int_equal(got, 10);
	/* Bad requests are refused with the reason. */
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "port exec vmB --queues 2 -- true"), 1);
	assert_non_null(strstr(ctl_out, "queues"));
	if (access("/dev/vhost-net", F_OK)) {
		assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "port exec vmB -- true %%{vhostfds}"), 1);
		assert_non_null(strstr(ctl_out, "vhost"));
	}
	assert_int_equal(vm_open(&vm_b), 0);
	/* The VM's queue is taken now: a second VMM is told so. */
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "port exec vmB -- true"), 1);
	assert_non_null(strstr(ctl_out, "vmB"));
}

/* A multiqueue tap for an unprivileged VMM. */
static void test_multiqueue_port_with_owner(void **s)
{
	char buf[64];
	FILE *f;

	(void)s;
	must_ctl("port add vmQ --segment 2 --mac 02:00:00:00:01:0d --queues 4 --owner 1000 --group 1000");
	f = fopen("/sys/class/net/vmQ/owner", "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(atoi(buf), 1000);
	f = fopen("/sys/class/net/vmQ/tun_flags", "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_true(strtol(buf, NULL, 16) & 0x0100);   /* IFF_MULTI_QUEUE */
	must_ctl("port del vmQ");
	assert_int_equal(if_nametoindex("vmQ"), 0);
}

/* Every bad input: a message naming the problem, a non-zero exit, nothing changed. */
static void test_bad_inputs_change_nothing(void **s)
{
	static const struct {
		const char *cmd;
		const char *says;
	} cases[] = {
		{ "port add vmX --segment 1 --mac 02:00:00:00:01", "mac" },
		{ "port add vmX --segment 1 --mac 01:00:00:00:00:01", "MAC" },
		{ "port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 10.1.0.300", "addrs" },
		{ "port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 10.1.0.1/33", "addrs" },
		{ "port add vmX --segment 9 --mac 02:00:00:00:02:01", "segment 9" },
		{ "port add vmA --segment 1 --mac 02:00:00:00:02:01", "exists" },
		{ "port add vmX --segment 1 --mac 02:00:00:00:01:0b", "already used" },
		{ "port add averyveryverylongname --segment 1 --mac 02:00:00:00:02:01", "name" },
		{ "port del vmZ", "vmZ" },
		{ "addr add vmZ 10.0.0.1", "vmZ" },
		{ "addr add vmA 10.1.0.10/32", "already" },
		{ "acl add vmA from-vm deny --cidr 10.0.0.0/40", "cidr" },
		{ "acl add vmA from-vm deny --proto tcp --ports 90-80", "reversed" },
		{ "acl add vmA from-vm deny --proto icmp --ports 80", "ports" },
		{ "acl add vmA sideways deny", "dir" },
		{ "acl add vmA from-vm maybe", "action" },
		{ "acl del vmA from-vm 999", "999" },
		{ "rate set vmA from-vm --rate 0", "above 0" },
		{ "rate set vmA from-vm --rate 1000g", "400 Gbit/s" },
		{ "rate set vmA from-vm --rate 10m --burst 1k", "burst" },
		{ "segment add 1", "exists" },
		{ "segment add 7 --vlan 5000 --uplink uplink0", "vlan" },
		{ "segment add 7 --uplink nosuchif", "nosuchif" },
		{ "segment del 1", "still has" },
	};
	char *before, *after;
	size_t i;
	int rc;

	(void)s;
	before = policy_snapshot();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = ctl(ctl_out, sizeof(ctl_out), "%s", cases[i].cmd);
		if (rc == 0 || !strstr(ctl_out, cases[i].says))
			fail_msg("xtapctl %s: exit %d, output \"%s\" (wanted non-zero and \"%s\")", cases[i].cmd,
				 rc, ctl_out, cases[i].says);
	}
	/* Too many rules: the 257th is refused, the first 256 stay. */
	for (i = 0; i < 256; i++)
		must_ctl("acl add vmC from-vm deny --cidr 192.0.2.%zu/32", i);
	rc = ctl(ctl_out, sizeof(ctl_out), "acl add vmC from-vm deny --cidr 198.51.100.1/32");
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(ctl_out, "256"));
	reset_policy(NULL);
	after = policy_snapshot();
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "frobnicate"), 2);
}

struct toggler {
	volatile int stop;
	int changes;
};

/* Adds and removes a deny rule on B over and over through the real CLI. */
static void *toggle_acl(void *arg)
{
	struct toggler *t = arg;
	char buf[4096];

	while (!t->stop) {
		json_object *rule;
		int id;

		if (ctl(buf, sizeof(buf), "-j acl add vmB to-vm deny --proto udp --ports 5001") ||
		    !(rule = json_tokener_parse(buf)))
			break;
		id = json_object_get_int(json_object_object_get(rule, "id"));
		json_object_put(rule);
		t->changes++;
		usleep(20000);
		if (ctl(buf, sizeof(buf), "acl del vmB to-vm %d", id))
			break;
		t->changes++;
		usleep(20000);
	}
	return NULL;
}

/*
 * Policy changes under traffic: every frame meets either the old policy or
 * the new one, so each is delivered or dropped by the ACL, nothing else.
 */
static void test_live_policy_change_under_traffic(void **s)
{
	struct toggler t = {};
	pthread_t th;
	struct pkt p;
	long sent = 0, got;
	int64_t acl_before = stat_of("vmB", "to-vm", "drops", "acl");
	int64_t acl_drops;

	(void)s;
	udp_ab(&p, 5001);
	pthread_create(&th, NULL, toggle_acl, &t);
	got = 0;
	for (int i = 0; i < 2000; i++) {
		static uint8_t buf[2048];

		if (vm_write(&vm_a, NULL, p.data, p.len) == 0)
			sent++;
		usleep(500);
		while (vm_read(&vm_b, buf, sizeof(buf), NULL, 0) >= 0)
			got++;
	}
	t.stop = 1;
	pthread_join(th, NULL);
	got += vm_count(&vm_b, 200);
	acl_drops = stat_of("vmB", "to-vm", "drops", "acl") - acl_before;
	print_message("%d policy changes under traffic: %ld sent, %ld delivered, %ld dropped by the ACL\n",
		      t.changes, sent, got, (long)acl_drops);
	assert_true(t.changes > 20);
	assert_true(got > 0 && acl_drops > 0);
	assert_int_equal(got + acl_drops, sent);
}

/* With xtapd down the datapath runs on: reads come from the pinned maps, writes say why they can't. */
static void test_agent_down_reads_maps(void **s)
{
	uint8_t buf[2048];
	struct pkt p;

	(void)s;
	env_agent_kill();
	udp_ab(&p, 5000);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "port list"), 0);
	assert_non_null(strstr(ctl_out, "read from the maps"));
	assert_non_null(strstr(ctl_out, "vmA"));
	assert_non_null(strstr(ctl_out, "10.1.0.11/32"));
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "stats vmA"), 0);
	assert_non_null(strstr(ctl_out, "from-vm"));
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "fdb"), 0);
	assert_non_null(strstr(ctl_out, "02:00:00:00:01:0b"));
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "acl default vmA from-vm deny"), 3);
	assert_non_null(strstr(ctl_out, "not running"));
	assert_true(env_agent_start() > 0);
}

#define T(fn) cmocka_unit_test_teardown(fn, reset_policy)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vm_to_vm),
		T(test_vm_to_outside_and_back),
		T(test_broadcast_stays_in_segment),
		T(test_segment_isolation),
		T(test_spoofs_dropped),
		T(test_acl_live),
		T(test_rate_limit_packets_measured),
		T(test_rate_limit_bytes_measured),
		T(test_needs_csum_and_gso_frames),
		T(test_frames_above_mtu_dropped),
		T(test_live_policy_change_under_traffic),
		T(test_sigkill_restart_loses_nothing),
		T(test_older_map_layout_replaced),
		T(test_vhost_server_restarted),
		T(test_tap_deleted_is_repaired),
		T(test_uplink_gone_and_back),
		T(test_multiqueue_port_with_owner),
		T(test_port_exec_hands_over_queues),
		T(test_top_shows_rates),
		T(test_bad_inputs_change_nothing),
		T(test_agent_down_reads_maps),
	};

	return cmocka_run_group_tests_name("host", tests, group_setup, group_teardown);
}
