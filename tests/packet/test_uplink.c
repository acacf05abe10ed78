// SPDX-License-Identifier: GPL-2.0
/*
 * Frames from the outside on the uplink: to a local VM by MAC and VLAN, the
 * rest to the host; broadcasts flooded to the segment's VMs by tc.
 */
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "tests.h"

/* Like T(), plus a teardown that undoes what fx_reset does not. */
#define TT(fn, undo) cmocka_unit_test_setup_teardown(fn, fx_reset, undo)

static const uint8_t outside_mac[6] = { 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0x01 };

/* UDP/IPv4 from an outside host to dst_mac/dst_ip, 802.1Q-tagged with vid unless 0. */
static void outside_frame(struct pkt *p, const uint8_t *dst_mac, uint32_t dst_ip, uint16_t vid)
{
	pkt_init(p);
	if (vid) {
		pkt_eth(p, dst_mac, outside_mac, ETH_P_8021Q);
		pkt_vlan(p, vid, ETH_P_IP);
	} else {
		pkt_eth(p, dst_mac, outside_mac, ETH_P_IP);
	}
	pkt_ipv4(p, pkt_ip4("198.51.100.1"), dst_ip, IPPROTO_UDP);
	pkt_udp(p, 53, 40000, 32);
	pkt_finish(p);
}

static uint64_t uplink_count(int verdict)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct xtap_uplink_stats v[ncpu];
	uint64_t sum = 0;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_UPLINK_STATS), &zero, v),
			 0);
	for (c = 0; c < ncpu; c++)
		sum += v[c].verdict[verdict].packets;
	return sum;
}

/* "from uplink" XDP gives the frame `verdict`, counted once as `counted`. */
static void expect_from_uplink(const struct pkt *p, uint32_t verdict, int counted,
			       struct fx_result *r)
{
	uint64_t before = uplink_count(counted);

	fx_run_xdp(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, p, r);
	assert_int_equal(r->retval, verdict);
	assert_int_equal(uplink_count(counted) - before, 1);
}

static void live(const struct pkt *p)
{
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, p);
}

static void test_uplink_untagged_to_port(void **s)
{
	uint64_t delivered = fx_verdicts(PA, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, PA->mac, PA->ip4, 0);
	expect_from_uplink(&p, XDP_REDIRECT, XTAP_UPLINK_TO_PORT, &r);
	/* A's to-VM policy is applied in the uplink's program (bpf/deliver.h): counted by that run too. */
	assert_int_equal(fx_verdicts(PA, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
	delivered++;
	assert_int_equal(r.out_len, p.len);
	assert_memory_equal(r.out, p.data, p.len);
	live(&p);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PA, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
}

/* A host-side sender on a veth uplink leaves partial checksums too: completed before the redirect. */
static void test_uplink_partial_csum_completed(void **s)
{
	struct fx_result r;
	struct pkt p, full;

	(void)s;
	outside_frame(&p, PD->mac, PD->ip4, FX_SEG_VLAN);
	pkt_set_partial_csum(&p);
	outside_frame(&full, PD->mac, PD->ip4, 0);
	assert_false(pkt_l4_csum_ok(p.data, p.len));
	expect_from_uplink(&p, XDP_REDIRECT, XTAP_UPLINK_TO_PORT, &r);
	assert_true(pkt_l4_csum_ok(r.out, r.out_len));
	assert_int_equal(r.out_len, full.len);
	assert_memory_equal(r.out, full.data, full.len);
}

static void test_uplink_vlan_to_port_untagged(void **s)
{
	uint64_t delivered = fx_verdicts(PD, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct pkt p, untagged;
	struct fx_result r;

	(void)s;
	outside_frame(&p, PD->mac, PD->ip4, FX_SEG_VLAN);
	outside_frame(&untagged, PD->mac, PD->ip4, 0);
	expect_from_uplink(&p, XDP_REDIRECT, XTAP_UPLINK_TO_PORT, &r);
	/* D's to-VM policy is applied in the uplink's program (bpf/deliver.h): counted by that run too. */
	assert_int_equal(fx_verdicts(PD, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
	delivered++;
	assert_int_equal(r.out_len, untagged.len);
	assert_memory_equal(r.out, untagged.data, untagged.len);
	live(&p);
	fx_expect_frame(&PD->tap, untagged.data, untagged.len);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PD, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
}

/* VLAN 100 is segment 3; A is in segment 1, so its MAC is unknown there. */
static void test_uplink_vlan_to_port_of_other_segment_to_host(void **s)
{
	uint64_t delivered = fx_verdicts(PA, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, PA->mac, PA->ip4, FX_SEG_VLAN);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	live(&p);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PA, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER), delivered);
}

static void test_uplink_untagged_to_port_of_tagged_segment_to_host(void **s)
{
	uint64_t delivered = fx_verdicts(PD, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, PD->mac, PD->ip4, 0);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	live(&p);
	fx_expect_silent();
	assert_int_equal(fx_verdicts(PD, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER), delivered);
}

static void test_uplink_vlan_without_segment_to_host(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, PD->mac, PD->ip4, 200);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	live(&p);
	fx_expect_silent();
}

static void test_uplink_unknown_unicast_to_host(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, fx_unknown_mac, pkt_ip4("10.0.0.99"), 0);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	live(&p);
	fx_expect_silent();
}

/* XDP leaves broadcasts to the host; tc ingress clones them to the segment's VMs. */
static void test_uplink_broadcast_flooded_by_tc(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, fx_bcast, pkt_ip4("255.255.255.255"), 0);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_FLOOD, &r);
	fx_run_tc(XTAP_PROG_FROM_UPLINK_TC, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, TC_ACT_OK);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
}

static void test_uplink_tc_leaves_unicast_alone(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, PA->mac, PA->ip4, 0);
	fx_run_tc(XTAP_PROG_FROM_UPLINK_TC, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, TC_ACT_OK);
	assert_memory_equal(r.out, p.data, p.len);
	fx_expect_silent();
}

/*
 * A test_run skb keeps the 802.1Q tag in the payload (no skb->vlan_tci),
 * while the program reads only skb->vlan_present: the tag goes unseen, the
 * frame counts as untagged, i.e. segment 1, and A and B get clones with the
 * VLAN-100 tag still inside. This documents the harness, not the datapath: on
 * a real receive the stack moves the tag into skb->vlan_tci before tc
 * ingress (see test_uplink_tagged_broadcast_flooded_on_receive_path).
 */
static void test_uplink_tc_test_run_tag_in_payload_seen_as_untagged(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	outside_frame(&p, fx_bcast, pkt_ip4("255.255.255.255"), FX_SEG_VLAN);
	fx_run_tc(XTAP_PROG_FROM_UPLINK_TC, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, TC_ACT_OK);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
}

/*
 * The fixture attaches no program to a device. With tc ingress on the uplink,
 * frames a live XDP run passes up take the real receive path into it.
 */
static void attach_uplink_tc(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = fx_uplink.ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts,
		    .prog_fd = xtap_prog_fd(&fx_dp, XTAP_PROG_FROM_UPLINK_TC));

	assert_int_equal(bpf_tc_hook_create(&hook), 0);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
}

static int detach_uplink_tc(void **s)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = fx_uplink.ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	(void)s;
	return bpf_tc_hook_destroy(&hook);
}

/*
 * The whole receive path: XDP passes the frame up, the stack strips the tag
 * into skb->vlan_tci, tc ingress finds VLAN 100's segment and clones the
 * frame, untagged, to D only.
 */
static void test_uplink_tagged_broadcast_flooded_on_receive_path(void **s)
{
	struct pkt p, untagged;
	struct fx_result r;

	(void)s;
	attach_uplink_tc();
	outside_frame(&p, fx_bcast, pkt_ip4("255.255.255.255"), FX_SEG_VLAN);
	outside_frame(&untagged, fx_bcast, pkt_ip4("255.255.255.255"), 0);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_FLOOD, &r);
	live(&p);
	fx_expect_frame(&PD->tap, untagged.data, untagged.len);
	fx_expect_silent();
}

static void test_uplink_untagged_broadcast_flooded_on_receive_path(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	attach_uplink_tc();
	outside_frame(&p, fx_bcast, pkt_ip4("255.255.255.255"), 0);
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_FLOOD, &r);
	live(&p);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
}

/*
 * An 802.1ad (outer) tag is no segment's VLAN: such frames are the host's,
 * never steered as untagged into segment 1 (the fuzz tier's F16, as found).
 */
static void test_uplink_8021ad_to_host(void **s)
{
	static const uint8_t tag_only[] = { 0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0d,
					    0x88, 0xa8, 0x06, 0xd4 };
	static const uint8_t qinq[] = { 0x02, 0, 0, 0, 0, 0x0d, 0x02, 0, 0, 0, 0, 0x0c,
					0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x64,
					0x86, 0xdd, 0x60, 0, 0, 0, 0 };
	struct fx_result r;
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_append(&p, tag_only, sizeof(tag_only));
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	/* To A's MAC with a VLAN 100 802.1ad tag, then an 802.1Q one. */
	pkt_init(&p);
	pkt_append(&p, qinq, sizeof(qinq));
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	live(&p);
	fx_expect_silent();
}

/* Runts (a cut 802.1Q tag, a bare Ethernet header, less) go to the host, counted (fuzz F41). */
static void test_uplink_runts_counted_to_host(void **s)
{
	static const uint8_t cut_tag[] = { 0x02, 0, 0, 0, 0, 0x99, 0x02, 0, 0, 0, 0, 0x99,
					   0x81, 0x00, 0x00, 0x64, 0x86 };
	static const uint8_t header_only[] = { 0x02, 0, 0, 0, 0, 0x0d, 0x02, 0, 0, 0, 0, 0x0b,
					       0x81, 0x00 };
	struct fx_result r;
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_append(&p, cut_tag, sizeof(cut_tag));
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
	pkt_init(&p);
	pkt_append(&p, header_only, sizeof(header_only));
	expect_from_uplink(&p, XDP_PASS, XTAP_UPLINK_TO_HOST, &r);
}

XTAP_TEST_LIST(uplink,
	T(test_uplink_runts_counted_to_host),
	T(test_uplink_8021ad_to_host),
	T(test_uplink_untagged_to_port),
	T(test_uplink_vlan_to_port_untagged),
	T(test_uplink_partial_csum_completed),
	T(test_uplink_vlan_to_port_of_other_segment_to_host),
	T(test_uplink_untagged_to_port_of_tagged_segment_to_host),
	T(test_uplink_vlan_without_segment_to_host),
	T(test_uplink_unknown_unicast_to_host),
	T(test_uplink_broadcast_flooded_by_tc),
	T(test_uplink_tc_leaves_unicast_alone),
	T(test_uplink_tc_test_run_tag_in_payload_seen_as_untagged),
	TT(test_uplink_tagged_broadcast_flooded_on_receive_path, detach_uplink_tc),
	TT(test_uplink_untagged_broadcast_flooded_on_receive_path, detach_uplink_tc),
);
