// SPDX-License-Identifier: GPL-2.0
/*
 * Completing the L4 checksum of frames a guest left partial (checksum
 * offload) before XDP redirects them: the receiver must see a valid checksum.
 */
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

/* Runs "from VM" on A once; it must count the frame as `counted`. */
static void run_from_a(const struct pkt *p, struct fx_result *r, int counted)
{
	uint64_t before = fx_verdicts(PA, XTAP_DIR_FROM_VM, counted);

	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, p, r);
	assert_int_equal(fx_verdicts(PA, XTAP_DIR_FROM_VM, counted) - before, 1);
}

/*
 * Sends p (finished, valid checksum) from A to B with the checksum made
 * partial: XDP must redirect it with exactly the checksum pkt_finish computed,
 * and B must receive that frame with a clean vnet header.
 */
static void expect_completed(struct pkt *p)
{
	uint64_t delivered = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER);
	uint8_t full[PKT_MAX], buf[PKT_MAX], vnet[12], zero[12] = {};
	size_t len = p->len;
	struct fx_result r;

	assert_true(pkt_l4_csum_ok(p->data, len));
	memcpy(full, p->data, len);
	pkt_set_partial_csum(p);
	assert_false(pkt_l4_csum_ok(p->data, len));

	run_from_a(p, &r, XTAP_VERDICT_TO_PORT);
	assert_int_equal(r.retval, XDP_REDIRECT);
	/* B's to-VM policy is applied in A's program (bpf/deliver.h): counted by that run too. */
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
	delivered++;
	assert_int_equal(r.out_len, len);
	assert_true(pkt_l4_csum_ok(r.out, r.out_len));
	assert_int_equal(pkt_l4_csum_field(r.out, r.out_len), pkt_l4_csum_field(full, len));
	assert_memory_equal(r.out, full, len);

	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, p);
	assert_int_equal(tap_read(&PB->tap, buf, sizeof(buf), vnet), (int)len);
	assert_true(pkt_l4_csum_ok(buf, len));
	assert_memory_equal(buf, full, len);
	assert_memory_equal(vnet, zero, sizeof(zero));
	assert_int_equal(fx_tap_frames(&PB->tap), 0);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER) - delivered, 1);
}

static void a_to_b_ipv4(struct pkt *p, uint8_t proto)
{
	fx_eth_ipv4(p, PA, PB->mac, PA->ip4, PB->ip4, proto);
}

static void a_to_b_ipv6(struct pkt *p, uint8_t nexthdr)
{
	fx_eth_ipv6(p, PA, PB->mac, &PA->ip6, &PB->ip6, nexthdr);
}

static void test_csum_partial_ipv4_tcp(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv4(&p, IPPROTO_TCP);
	pkt_tcp(&p, 40000, 80, PKT_TCP_ACK | PKT_TCP_PSH, 100);
	pkt_finish(&p);
	expect_completed(&p);
}

static void test_csum_partial_ipv4_udp(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv4(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 100);
	pkt_finish(&p);
	expect_completed(&p);
}

static void test_csum_partial_ipv6_tcp(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv6(&p, IPPROTO_TCP);
	pkt_tcp(&p, 40000, 80, PKT_TCP_ACK | PKT_TCP_PSH, 100);
	pkt_finish(&p);
	expect_completed(&p);
}

static void test_csum_partial_ipv6_udp(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv6(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 100);
	pkt_finish(&p);
	expect_completed(&p);
}

/* The L4 length excludes the extension header; the checksum starts behind it. */
static void test_csum_partial_ipv6_hop_by_hop_tcp(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv6(&p, IPPROTO_HOPOPTS);
	pkt_ipv6_ext(&p, IPPROTO_HOPOPTS, IPPROTO_TCP);
	pkt_tcp(&p, 40000, 80, PKT_TCP_ACK | PKT_TCP_PSH, 100);
	pkt_finish(&p);
	expect_completed(&p);
}

/* RFC 1071: an odd trailing byte is summed as if padded with a zero byte. */
static void test_csum_partial_odd_length_payload(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv4(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 33);
	pkt_finish(&p);
	expect_completed(&p);
}

/* 8 + 1400 bytes of UDP are summed in several 512-byte chunks. */
static void test_csum_partial_payload_across_chunks(void **s)
{
	struct pkt p;

	(void)s;
	a_to_b_ipv4(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 1400);
	pkt_finish(&p);
	expect_completed(&p);
}

/* A UDP sum that complements to 0 must be sent as 0xffff: 0 would mean "no checksum". */
static void test_csum_partial_udp_zero_result_sent_as_ffff(void **s)
{
	uint8_t *word;
	uint32_t w;
	struct pkt p;

	(void)s;
	a_to_b_ipv6(&p, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 100);
	pkt_finish(&p);
	/* Adding the checksum to a payload word makes the sum all ones, the checksum 0. */
	word = p.data + p.l4_off + 8;
	w = (word[0] << 8 | word[1]) + pkt_l4_csum_field(p.data, p.len);
	w = (w & 0xffff) + (w >> 16);
	word[0] = w >> 8;
	word[1] = w & 0xff;
	pkt_finish(&p);
	assert_int_equal(pkt_l4_csum_field(p.data, p.len), 0xffff);
	expect_completed(&p);
}

static void test_csum_full_checksum_untouched(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 100);
	run_from_a(&p, &r, XTAP_VERDICT_TO_PORT);
	assert_int_equal(r.retval, XDP_REDIRECT);
	assert_int_equal(r.out_len, p.len);
	assert_memory_equal(r.out, p.data, p.len);
}

/* UDP over IPv4 with checksum 0 has none; filling one in would be wrong. */
static void test_csum_udp4_zero_stays_zero(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 100);
	p.data[p.l4_off + 6] = 0;
	p.data[p.l4_off + 7] = 0;
	run_from_a(&p, &r, XTAP_VERDICT_TO_PORT);
	assert_int_equal(r.retval, XDP_REDIRECT);
	assert_int_equal(r.out_len, p.len);
	assert_memory_equal(r.out, p.data, p.len);
}

static void test_csum_partial_broadcast_completed_before_flood(void **s)
{
	uint8_t full[PKT_MAX], buf[PKT_MAX];
	struct fx_result r;
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, fx_bcast, PA->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 5353, 5353, 64);
	pkt_finish(&p);
	memcpy(full, p.data, p.len);
	pkt_set_partial_csum(&p);

	run_from_a(&p, &r, XTAP_VERDICT_FLOOD);
	assert_int_equal(r.retval, XDP_REDIRECT);
	assert_int_equal(r.out_len, p.len);
	assert_memory_equal(r.out, full, p.len);

	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	assert_int_equal(tap_read(&PB->tap, buf, sizeof(buf), NULL), (int)p.len);
	assert_true(pkt_l4_csum_ok(buf, p.len));
	assert_memory_equal(buf, full, p.len);
	assert_int_equal(tap_read(&fx_uplink, buf, sizeof(buf), NULL), (int)p.len);
	assert_memory_equal(buf, full, p.len);
}

/* A GSO frame keeps its partial checksum: the skb path completes it (or segments it). */
static void test_csum_partial_gso_frame_untouched(void **s)
{
	struct fx_result r;
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 1600 - 42);
	pkt_set_partial_csum(&p);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p, &r);
	assert_int_equal(r.retval, XDP_PASS);
	/* data_out starts with the 28-byte metadata for the tc program (bpf/meta.h). */
	assert_int_equal(r.out_len, p.len + 28);
	assert_memory_equal(r.out + 28, p.data, p.len);
}

XTAP_TEST_LIST(csum,
	T(test_csum_partial_ipv4_tcp),
	T(test_csum_partial_ipv4_udp),
	T(test_csum_partial_ipv6_tcp),
	T(test_csum_partial_ipv6_udp),
	T(test_csum_partial_ipv6_hop_by_hop_tcp),
	T(test_csum_partial_odd_length_payload),
	T(test_csum_partial_payload_across_chunks),
	T(test_csum_partial_udp_zero_result_sent_as_ffff),
	T(test_csum_full_checksum_untouched),
	T(test_csum_udp4_zero_stays_zero),
	T(test_csum_partial_broadcast_completed_before_flood),
	T(test_csum_partial_gso_frame_untouched),
);
