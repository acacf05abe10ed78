// SPDX-License-Identifier: GPL-2.0
/* Steering of frames leaving a VM: to a port, flood, uplink, host; segment isolation. */
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

/* Like T(), plus a teardown that undoes map changes fx_reset does not touch. */
#define TT(fn, undo) cmocka_unit_test_setup_teardown(fn, fx_reset, undo)

static const uint8_t host_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

/* The frame from port `from` must get `verdict` from XDP and count once as `counted`. */
static void expect_from_vm(struct fx_port *from, const struct pkt *p, uint32_t verdict,
			   int counted)
{
	uint64_t before = fx_verdicts(from, XTAP_DIR_FROM_VM, counted);

	assert_int_equal(fx_from_vm(from, p), verdict);
	assert_int_equal(fx_verdicts(from, XTAP_DIR_FROM_VM, counted) - before, 1);
}

/* The XDP -> tc hand-over in front of a passed frame's data (bpf/meta.h). */
struct meta {
	uint32_t magic, action, target, vlan, port_id, verdict, max_len;
};
#define META_MAGIC      0x78746170U   /* "xtap" */
#define META_REDIRECT   1
#define META_FLOOD      2
#define META_FLOOD_HOST 3

/*
 * XDP passes the frame up unchanged, with the decision in metadata for tc. A
 * frame longer than the MTU allows (large) is counted by tc, which alone can
 * tell a GSO frame from one to drop MTU; any other is counted by XDP.
 */
static void expect_deferred(struct fx_port *from, const struct pkt *p, int counted,
			    uint32_t action, uint32_t target, uint32_t vlan)
{
	uint64_t before = fx_verdicts(from, XTAP_DIR_FROM_VM, counted);
	int large = p->len > from->spec.mtu + 14u;
	struct fx_result r;
	struct meta m;

	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, from->tap.ifindex, p, &r);
	assert_int_equal(r.retval, XDP_PASS);
	assert_int_equal(fx_verdicts(from, XTAP_DIR_FROM_VM, counted) - before, large ? 0 : 1);
	assert_int_equal(r.out_len, sizeof(m) + p->len);
	memcpy(&m, r.out, sizeof(m));
	assert_int_equal(m.magic, META_MAGIC);
	assert_int_equal(m.action, action);
	assert_int_equal(m.target, target);
	assert_int_equal(m.vlan, vlan);
	assert_int_equal(m.port_id, from->spec.port_id);
	assert_int_equal(m.verdict, counted);
	assert_int_equal(m.max_len, large ? from->spec.mtu + 14u : 0);
	assert_memory_equal(r.out + sizeof(m), p->data, p->len);
}

static void live(struct fx_port *from, const struct pkt *p)
{
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, from->tap.ifindex, p);
}

static void test_steer_unicast_live(void **s)
{
	uint64_t delivered = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	expect_from_vm(PA, &p, XDP_REDIRECT, XTAP_VERDICT_TO_PORT);
	/* B's to-VM policy is applied in A's program (bpf/deliver.h): counted by that run too. */
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
	delivered++;
	live(PA, &p);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
}

static void test_steer_broadcast_floods_segment_and_uplink(void **s)
{
	uint64_t delivered = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, fx_bcast, PA->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 5353, 32);
	pkt_finish(&p);
	expect_from_vm(PA, &p, XDP_REDIRECT, XTAP_VERDICT_FLOOD);
	live(PA, &p);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_frame(&fx_uplink, p.data, p.len);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
}

static void test_steer_multicast_floods_segment_and_uplink(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, mcast_mac, PA->ip4, pkt_ip4("224.0.0.251"), IPPROTO_UDP);
	pkt_udp(&p, 5353, 5353, 32);
	pkt_finish(&p);
	expect_from_vm(PA, &p, XDP_REDIRECT, XTAP_VERDICT_FLOOD);
	live(PA, &p);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_frame(&fx_uplink, p.data, p.len);
	fx_expect_silent();
}

static void test_steer_unknown_unicast_to_untagged_uplink(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, fx_unknown_mac, PA->ip4, pkt_ip4("192.0.2.1"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_from_vm(PA, &p, XDP_REDIRECT, XTAP_VERDICT_TO_UPLINK);
	live(PA, &p);
	fx_expect_frame(&fx_uplink, p.data, p.len);
	fx_expect_silent();
}

/* want = frame with an 802.1Q tag for FX_SEG_VLAN inserted after the MACs. */
static void tagged(const struct pkt *p, uint8_t *want)
{
	memcpy(want, p->data, 12);
	want[12] = 0x81;
	want[13] = 0x00;
	want[14] = FX_SEG_VLAN >> 8;
	want[15] = FX_SEG_VLAN & 0xff;
	memcpy(want + 16, p->data + 12, p->len - 12);
}

static void test_steer_unknown_unicast_to_tagged_uplink(void **s)
{
	uint8_t want[PKT_MAX + 4];
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PD, fx_unknown_mac, PD->ip4, pkt_ip4("192.0.2.1"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_from_vm(PD, &p, XDP_REDIRECT, XTAP_VERDICT_TO_UPLINK);
	live(PD, &p);
	tagged(&p, want);
	fx_expect_frame(&fx_uplink, want, p.len + 4);
	fx_expect_silent();
}

static void test_steer_broadcast_to_tagged_uplink_only(void **s)
{
	uint8_t want[PKT_MAX + 4];
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PD, fx_bcast, PD->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 5353, 32);
	pkt_finish(&p);
	expect_from_vm(PD, &p, XDP_REDIRECT, XTAP_VERDICT_FLOOD);
	live(PD, &p);
	tagged(&p, want);
	fx_expect_frame(&fx_uplink, want, p.len + 4);
	fx_expect_silent();
}

static void test_steer_unknown_unicast_without_uplink_to_host(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PC, fx_unknown_mac, PC->ip4, pkt_ip4("192.0.2.1"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_from_vm(PC, &p, XDP_PASS, XTAP_VERDICT_TO_HOST);
	live(PC, &p);
	fx_expect_silent();
}

static void test_steer_other_segment_mac_not_delivered(void **s)
{
	uint64_t b_to_vm = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct pkt p;

	(void)s;
	fx_udp4(&p, PC, PB, 53, 32);
	expect_from_vm(PC, &p, XDP_PASS, XTAP_VERDICT_TO_HOST);
	live(PC, &p);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER), b_to_vm);
}

static void test_steer_own_mac_is_hairpin(void **s)
{
	uint64_t hairpin = fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_HAIRPIN);
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PA, 53, 32);
	expect_from_vm(PA, &p, XDP_DROP, XTAP_VERDICT_DROP);
	assert_int_equal(fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_HAIRPIN) - hairpin, 1);
	live(PA, &p);
	fx_expect_silent();
}

static int remove_host_mac(void **s)
{
	struct xtap_err err = {};

	(void)s;
	return xtap_fdb_host_write(&fx_dp, 1, host_mac, 0, &err);
}

/* Without the entry this MAC would be unknown unicast, for the uplink. */
static void test_steer_host_mac_to_host(void **s)
{
	struct xtap_err err = {};
	struct pkt p;

	(void)s;
	assert_int_equal(xtap_fdb_host_write(&fx_dp, 1, host_mac, 1, &err), 0);
	fx_eth_ipv4(&p, PA, host_mac, PA->ip4, pkt_ip4("10.0.0.1"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_from_vm(PA, &p, XDP_PASS, XTAP_VERDICT_TO_HOST);
	live(PA, &p);
	fx_expect_silent();
}

/* Longer than MTU + 14: a GSO frame, which the tc program must redirect, not XDP. */
static void test_steer_gso_frame_deferred_to_tc(void **s)
{
	uint64_t b_to_vm = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 1600 - 42);
	assert_int_equal(p.len, 1600);
	expect_deferred(PA, &p, XTAP_VERDICT_TO_PORT, META_REDIRECT, PB->tap.ifindex, 0);
	live(PA, &p);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER), b_to_vm);
}

/* tc pushes the tag on the skb path, so XDP hands it the segment's VLAN. */
static void test_steer_gso_frame_to_tagged_uplink_deferred_with_vlan(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PD, fx_unknown_mac, PD->ip4, pkt_ip4("192.0.2.1"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 1600 - 42);
	pkt_finish(&p);
	expect_deferred(PD, &p, XTAP_VERDICT_TO_UPLINK, META_REDIRECT, fx_uplink.ifindex,
			FX_SEG_VLAN);
	live(PD, &p);
	fx_expect_silent();
}

static void test_steer_gso_broadcast_deferred_as_flood(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, fx_bcast, PA->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 5353, 1600 - 42);
	pkt_finish(&p);
	expect_deferred(PA, &p, XTAP_VERDICT_FLOOD, META_FLOOD, 1, 0);
	live(PA, &p);
	fx_expect_silent();
}

static void test_steer_to_vm_acl_applies_to_redirect(void **s)
{
	uint64_t drops = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP);
	uint64_t acl = fx_drops(PB, XTAP_DIR_TO_VM, XTAP_DROP_ACL);
	struct pkt p;

	(void)s;
	PB->spec.acl[XTAP_DIR_TO_VM].default_action = XTAP_ACL_DENY;
	fx_apply(PB);
	fx_udp4(&p, PA, PB, 53, 32);
	/* A sent it (to_port); B's to-VM policy, applied in A's program (bpf/deliver.h), drops it. */
	expect_from_vm(PA, &p, XDP_DROP, XTAP_VERDICT_TO_PORT);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP) - drops, 1);
	assert_int_equal(fx_drops(PB, XTAP_DIR_TO_VM, XTAP_DROP_ACL) - acl, 1);
	live(PA, &p);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP) - drops, 2);
	assert_int_equal(fx_drops(PB, XTAP_DIR_TO_VM, XTAP_DROP_ACL) - acl, 2);
}

/* Segment 1 as the fixture made it. */
static int segment1_default(void **s)
{
	struct xtap_segment seg = { .uplink_ifindex = fx_uplink.ifindex };
	struct xtap_err err = {};

	(void)s;
	return xtap_segment_write(&fx_dp, 1, &seg, &err);
}

/* The host must see the flood too, so XDP passes it up for tc to clone instead. */
static void test_steer_flood_host_segment_deferred_to_tc(void **s)
{
	struct xtap_segment seg = { .flags = XTAP_SEGMENT_F_FLOOD_HOST,
				    .uplink_ifindex = fx_uplink.ifindex };
	struct xtap_err err = {};
	struct pkt p;

	(void)s;
	assert_int_equal(xtap_segment_write(&fx_dp, 1, &seg, &err), 0);
	fx_eth_ipv4(&p, PA, fx_bcast, PA->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 5353, 32);
	pkt_finish(&p);
	expect_deferred(PA, &p, XTAP_VERDICT_FLOOD, META_FLOOD_HOST, 1, 0);
	live(PA, &p);
	fx_expect_silent();
}

XTAP_TEST_LIST(steer,
	T(test_steer_unicast_live),
	T(test_steer_broadcast_floods_segment_and_uplink),
	T(test_steer_multicast_floods_segment_and_uplink),
	T(test_steer_unknown_unicast_to_untagged_uplink),
	T(test_steer_unknown_unicast_to_tagged_uplink),
	T(test_steer_broadcast_to_tagged_uplink_only),
	T(test_steer_unknown_unicast_without_uplink_to_host),
	T(test_steer_other_segment_mac_not_delivered),
	T(test_steer_own_mac_is_hairpin),
	TT(test_steer_host_mac_to_host, remove_host_mac),
	T(test_steer_gso_frame_deferred_to_tc),
	T(test_steer_gso_frame_to_tagged_uplink_deferred_with_vlan),
	T(test_steer_gso_broadcast_deferred_as_flood),
	T(test_steer_to_vm_acl_applies_to_redirect),
	TT(test_steer_flood_host_segment_deferred_to_tc, segment1_default),
);
