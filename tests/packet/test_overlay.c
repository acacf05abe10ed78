// SPDX-License-Identifier: GPL-2.0
/*
 * The VXLAN overlay: segment 2 (port C) gets VNI 4242 and one remote VTEP
 * with one remote VM behind it; the uplink tap is the underlay. Frames to
 * the remote VM leave encapsulated, byte for byte as RFC 7348 and the FIB
 * say; VXLAN from the VTEP is decapsulated to port C under its to-VM
 * policy; from any other VTEP or VNI it is dropped (reason underlay).
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "tests.h"

#define OVL_SEG   2
#define OVL_VNI   4242

static const char *const local_vtep = "198.51.100.1";
static const char *const remote_vtep = "198.51.100.2";
/* The remote VTEP's MAC on the underlay (a permanent neighbour). */
static const uint8_t remote_vtep_mac[6] = { 0x02, 0xbb, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t remote_vm_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x99, 0x01 };
static uint8_t underlay_mac[6];

static void sh(const char *cmd)
{
	if (system(cmd))
		fail_msg("%s: failed", cmd);
}

static int overlay_setup(void **s)
{
	struct xtap_segment seg = { .vni = OVL_VNI };
	__be32 vteps[1] = { pkt_ip4(remote_vtep) };
	struct xtap_err err = {};
	char cmd[256], mac[32] = "";
	FILE *f;

	fx_reset(s);
	snprintf(cmd, sizeof(cmd),
		 "ip addr replace %s/24 dev uplink0 && ip link set uplink0 up && "
		 "sysctl -qw net.ipv4.conf.uplink0.forwarding=1 && "
		 "ip neigh replace %s lladdr 02:bb:00:00:00:02 dev uplink0 nud permanent",
		 local_vtep, remote_vtep);
	sh(cmd);
	f = fopen("/sys/class/net/uplink0/address", "r");
	if (!f || !fgets(mac, sizeof(mac), f))
		fail_msg("uplink0's MAC");
	fclose(f);
	mac[strcspn(mac, "\n")] = 0;
	pkt_mac(underlay_mac, mac);
	if (xtap_segment_write(&fx_dp, OVL_SEG, &seg, &err) ||
	    xtap_underlay_write(&fx_dp, fx_uplink.ifindex, pkt_ip4(local_vtep), 0, &err) ||
	    xtap_seg_vteps_write(&fx_dp, OVL_SEG, vteps, 1, &err) ||
	    xtap_remote_mac_write(&fx_dp, OVL_SEG, remote_vm_mac, pkt_ip4(remote_vtep), &err))
		fail_msg("overlay: %s", err.msg);
	return 0;
}

static int overlay_teardown(void **s)
{
	struct xtap_segment seg = {};
	struct xtap_err err = {};

	(void)s;
	if (xtap_remote_mac_write(&fx_dp, OVL_SEG, remote_vm_mac, 0, &err) ||
	    xtap_seg_vteps_write(&fx_dp, OVL_SEG, NULL, 0, &err) ||
	    xtap_underlay_write(&fx_dp, 0, 0, 1, &err) || xtap_segment_write(&fx_dp, OVL_SEG, &seg, &err))
		fail_msg("overlay teardown: %s", err.msg);
	return 0;
}

#define TO(fn) cmocka_unit_test_setup_teardown(fn, overlay_setup, overlay_teardown)

static uint64_t ovl_count(int counter)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct xtap_overlay_stats v[ncpu];
	uint64_t sum = 0;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_OVL_STATS), &zero, v), 0);
	for (c = 0; c < ncpu; c++)
		sum += v[c].c[counter].packets;
	return sum;
}

/* The outer source port, computed independently of bpf/vxlan.h from the RFC's intent: a hash of the flow. */
static uint32_t mix(uint32_t h, uint32_t w)
{
	h ^= w;
	h *= 0x9E3779B1U;
	return h ^ (h >> 16);
}

static uint16_t expect_sport(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, uint8_t proto)
{
	uint32_t h = mix(mix(0, saddr), daddr);

	h = mix(h, (uint32_t)sport << 16 | dport);
	h = mix(h, proto);
	return 49152 | (h & 0x3FFF);
}

static uint16_t ip_csum(const uint8_t *hdr)
{
	uint32_t sum = 0;
	int i;

	for (i = 0; i < 20; i += 2)
		sum += hdr[i] << 8 | hdr[i + 1];
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return ~sum & 0xFFFF;
}

/* out = outer headers (as RFC 7348 lays them out) + inner. */
static void vxlan_wrap(struct pkt *out, const uint8_t *dmac, const uint8_t *smac, uint32_t saddr,
		       uint32_t daddr, uint16_t sport, uint32_t vni, const struct pkt *inner)
{
	uint8_t h[50] = {};
	uint16_t tot = inner->len + 36, ulen = inner->len + 16, c;

	memcpy(h, dmac, 6);
	memcpy(h + 6, smac, 6);
	h[12] = 0x08;
	h[14] = 0x45;
	h[16] = tot >> 8;
	h[17] = tot & 0xFF;
	h[22] = 64;
	h[23] = 17;
	memcpy(h + 26, &saddr, 4);
	memcpy(h + 30, &daddr, 4);
	c = ip_csum(h + 14);
	h[24] = c >> 8;
	h[25] = c & 0xFF;
	h[34] = sport >> 8;
	h[35] = sport & 0xFF;
	h[36] = 4789 >> 8;
	h[37] = 4789 & 0xFF;
	h[38] = ulen >> 8;
	h[39] = ulen & 0xFF;
	h[42] = 0x08;
	h[46] = vni >> 16;
	h[47] = vni >> 8;
	h[48] = vni;
	pkt_init(out);
	pkt_append(out, h, sizeof(h));
	pkt_append(out, inner->data, inner->len);
}

/* UDP from port C to the remote VM (10.0.0.99). */
static void c_to_remote(struct pkt *p, uint32_t src, uint16_t dport)
{
	fx_eth_ipv4(p, PC, remote_vm_mac, src, pkt_ip4("10.0.0.99"), IPPROTO_UDP);
	pkt_udp(p, 40000, dport, 32);
	pkt_finish(p);
}

/* UDP from the remote VM to port C. */
static void remote_to_c(struct pkt *p, const uint8_t *dst_mac)
{
	pkt_init(p);
	pkt_eth(p, dst_mac, remote_vm_mac, ETH_P_IP);
	pkt_ipv4(p, pkt_ip4("10.0.0.99"), PC->ip4, IPPROTO_UDP);
	pkt_udp(p, 5000, 53, 32);
	pkt_finish(p);
}

static void test_encap_exact(void **s)
{
	uint64_t encap = ovl_count(XTAP_OVL_ENCAP);
	uint64_t to_uplink = fx_verdicts(PC, XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_UPLINK);
	struct pkt in, want;
	struct fx_result r;
	uint8_t buf[PKT_MAX];
	int n;

	(void)s;
	c_to_remote(&in, PC->ip4, 53);
	vxlan_wrap(&want, remote_vtep_mac, underlay_mac, pkt_ip4(local_vtep), pkt_ip4(remote_vtep),
		   expect_sport(PC->ip4, pkt_ip4("10.0.0.99"), 40000, 53, IPPROTO_UDP), OVL_VNI, &in);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PC->tap.ifindex, &in, &r);
	assert_int_equal(r.retval, XDP_REDIRECT);
	assert_int_equal(r.out_len, want.len);
	assert_memory_equal(r.out, want.data, want.len);
	assert_int_equal(ovl_count(XTAP_OVL_ENCAP) - encap, 1);
	assert_int_equal(fx_verdicts(PC, XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_UPLINK) - to_uplink, 1);
	/* For real: the encapsulated frame leaves on the underlay. */
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PC->tap.ifindex, &in);
	n = tap_read(&fx_uplink, buf, sizeof(buf), NULL);
	assert_int_equal(n, want.len);
	assert_memory_equal(buf, want.data, want.len);
	fx_expect_silent();
}

/* Another flow gets another outer source port (ECMP spreads flows), the same flow the same. */
static void test_encap_sport_per_flow(void **s)
{
	struct fx_result r1, r2, r3;
	struct pkt a, b;

	(void)s;
	c_to_remote(&a, PC->ip4, 53);
	c_to_remote(&b, PC->ip4, 54);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PC->tap.ifindex, &a, &r1);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PC->tap.ifindex, &a, &r2);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PC->tap.ifindex, &b, &r3);
	assert_memory_equal(r1.out + 34, r2.out + 34, 2);
	assert_memory_not_equal(r1.out + 34, r3.out + 34, 2);
}

/* Without a neighbour for the VTEP the frame cannot be addressed: dropped, counted. */
static void test_encap_no_neighbour(void **s)
{
	uint64_t no_route = ovl_count(XTAP_OVL_ENCAP_NO_ROUTE);
	struct pkt in;

	(void)s;
	sh("ip neigh del 198.51.100.2 dev uplink0");
	c_to_remote(&in, PC->ip4, 53);
	assert_int_equal(fx_from_vm(PC, &in), XDP_DROP);
	assert_int_equal(ovl_count(XTAP_OVL_ENCAP_NO_ROUTE) - no_route, 1);
}

/* The from-VM policy applies before encapsulation: nothing leaves that a local frame could not. */
static const struct {
	const char *id;
	int spoof;        /* source address not the port's */
	int acl_deny;     /* from-vm ACL denies the destination */
	int rate;         /* 1 packet/s, burst 2: the first two frames pass (encapsulated), the third not */
	uint32_t reason;
} from_vm_cases[] = {
	{ "spoofed source", 1, 0, 0, XTAP_DROP_SPOOF_IPV4 },
	{ "ACL deny", 0, 1, 0, XTAP_DROP_ACL },
	{ "packet rate", 0, 0, 1, XTAP_DROP_RATE_PACKETS },
};

static void test_encap_policy(void **s)
{
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(from_vm_cases) / sizeof(from_vm_cases[0]); i++) {
		uint64_t encap = ovl_count(XTAP_OVL_ENCAP);
		uint64_t drops = fx_drops(PC, XTAP_DIR_FROM_VM, from_vm_cases[i].reason);
		struct xtap_acl_spec *acl = &PC->spec.acl[XTAP_DIR_FROM_VM];
		struct pkt in;

		if (from_vm_cases[i].acl_deny) {
			acl->n_rules = 1;
			acl->rules[0] = (struct xtap_acl_rule_spec){ .rule_id = 1, .priority = 1,
				.action = XTAP_ACL_DENY, .port_max = 65535,
				.cidr = { .family = 4, .prefixlen = 32 } };
			memcpy(acl->rules[0].cidr.addr, (uint32_t[]){ pkt_ip4("10.0.0.99") }, 4);
			fx_apply(PC);
		}
		c_to_remote(&in, from_vm_cases[i].spoof ? pkt_ip4("10.9.9.9") : PC->ip4, 53);
		if (from_vm_cases[i].rate) {
			PC->spec.rate[XTAP_DIR_FROM_VM].packets_per_sec = 1;
			PC->spec.rate[XTAP_DIR_FROM_VM].burst_packets = 2;
			fx_apply(PC);
			assert_int_equal(fx_from_vm(PC, &in), XDP_REDIRECT);
			assert_int_equal(fx_from_vm(PC, &in), XDP_REDIRECT);
			encap += 2;
		}
		if (fx_from_vm(PC, &in) != XDP_DROP)
			fail_msg("%s: not dropped", from_vm_cases[i].id);
		if (fx_drops(PC, XTAP_DIR_FROM_VM, from_vm_cases[i].reason) - drops != 1)
			fail_msg("%s: not counted under reason %u", from_vm_cases[i].id, from_vm_cases[i].reason);
		if (ovl_count(XTAP_OVL_ENCAP) != encap)
			fail_msg("%s: encapsulated", from_vm_cases[i].id);
		acl->n_rules = 0;
		memset(&PC->spec.rate, 0, sizeof(PC->spec.rate));
		fx_apply(PC);
	}
}

/* VXLAN arriving on the underlay: (outer source, VNI, inner destination) -> verdict. */
static const struct {
	const char *id;
	const char *src;
	uint32_t vni;
	int to_c;            /* inner destination port C's MAC (else the unknown MAC) */
	uint32_t want;
	int counter;
} decap_cases[] = {
	{ "known VTEP, port C", "198.51.100.2", OVL_VNI, 1, XDP_REDIRECT, XTAP_OVL_DECAP },
	{ "unknown VTEP", "198.51.100.7", OVL_VNI, 1, XDP_DROP, XTAP_OVL_DECAP_DROPPED },
	{ "wrong VNI", "198.51.100.2", OVL_VNI + 1, 1, XDP_DROP, XTAP_OVL_DECAP_DROPPED },
	{ "known VTEP, no such VM", "198.51.100.2", OVL_VNI, 0, XDP_DROP, XTAP_OVL_DECAP_NO_PORT },
};

static void test_decap_table(void **s)
{
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(decap_cases) / sizeof(decap_cases[0]); i++) {
		uint64_t before = ovl_count(decap_cases[i].counter);
		struct pkt inner, outer;
		struct fx_result r;

		remote_to_c(&inner, decap_cases[i].to_c ? PC->mac : fx_unknown_mac);
		vxlan_wrap(&outer, underlay_mac, remote_vtep_mac, pkt_ip4(decap_cases[i].src), pkt_ip4(local_vtep),
			   50000, decap_cases[i].vni, &inner);
		fx_run_xdp(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &outer, &r);
		if (r.retval != decap_cases[i].want)
			fail_msg("%s: verdict %u, want %u", decap_cases[i].id, r.retval, decap_cases[i].want);
		if (ovl_count(decap_cases[i].counter) - before != 1)
			fail_msg("%s: counter %d not counted once", decap_cases[i].id, decap_cases[i].counter);
		if (r.retval == XDP_REDIRECT &&
		    (r.out_len != inner.len || memcmp(r.out, inner.data, inner.len)))
			fail_msg("%s: not the inner frame", decap_cases[i].id);
	}
}

/* For real: delivered to port C by its devmap egress program, under its to-VM policy. */
static void test_decap_delivered_with_to_vm_policy(void **s)
{
	uint64_t delivered = fx_verdicts(PC, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	uint64_t acl_drops = fx_drops(PC, XTAP_DIR_TO_VM, XTAP_DROP_ACL);
	struct xtap_acl_spec *acl = &PC->spec.acl[XTAP_DIR_TO_VM];
	struct pkt inner, outer;

	(void)s;
	remote_to_c(&inner, PC->mac);
	vxlan_wrap(&outer, underlay_mac, remote_vtep_mac, pkt_ip4(remote_vtep), pkt_ip4(local_vtep), 50000,
		   OVL_VNI, &inner);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &outer);
	fx_expect_frame(&PC->tap, inner.data, inner.len);
	assert_int_equal(fx_verdicts(PC, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);

	/* The to-VM ACL denies the remote VM: the same frame is dropped ACL. */
	acl->n_rules = 1;
	acl->rules[0] = (struct xtap_acl_rule_spec){ .rule_id = 1, .priority = 1, .action = XTAP_ACL_DENY,
		.port_max = 65535, .cidr = { .family = 4, .prefixlen = 32 } };
	memcpy(acl->rules[0].cidr.addr, (uint32_t[]){ pkt_ip4("10.0.0.99") }, 4);
	fx_apply(PC);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &outer);
	fx_expect_silent();
	assert_int_equal(fx_drops(PC, XTAP_DIR_TO_VM, XTAP_DROP_ACL) - acl_drops, 1);
}

/* Not VXLAN for this host (another destination address): the uplink's ordinary path, untouched. */
static void test_decap_not_for_us(void **s)
{
	struct pkt inner, outer;
	struct fx_result r;

	(void)s;
	remote_to_c(&inner, PC->mac);
	vxlan_wrap(&outer, underlay_mac, remote_vtep_mac, pkt_ip4(remote_vtep), pkt_ip4("198.51.100.50"), 50000,
		   OVL_VNI, &inner);
	fx_run_xdp(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &outer, &r);
	assert_int_equal(r.retval, XDP_PASS);
	assert_int_equal(r.out_len, outer.len);
	assert_memory_equal(r.out, outer.data, outer.len);
}

XTAP_TEST_LIST(overlay,
	TO(test_encap_exact),
	TO(test_encap_sport_per_flow),
	TO(test_encap_no_neighbour),
	TO(test_encap_policy),
	TO(test_decap_table),
	TO(test_decap_delivered_with_to_vm_policy),
	TO(test_decap_not_for_us),
);
