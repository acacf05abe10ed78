// SPDX-License-Identifier: GPL-2.0
/*
 * The MTU (docs/packet-rules.md): a non-GSO frame longer than the port's MTU
 * + 14 is dropped MTU, counted once, whichever hook decides. From a VM, XDP
 * cannot tell a GSO frame, so it hands long frames to tc uncounted (the
 * metadata says max_len) and tc, with tc ingress attached here, drops or
 * counts them; to a VM, devmap egress and tc egress decide (tc exempts GSO).
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "rules.h"
#include "tests.h"

#define FROM_VM XTAP_DIR_FROM_VM
#define TO_VM   XTAP_DIR_TO_VM

static const uint8_t outside_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

static void attach_from_vm_tc(struct fx_port *port)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = port->tap.ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = xtap_prog_fd(&fx_dp, XTAP_PROG_FROM_VM_TC));
	int ret = bpf_tc_hook_create(&hook);

	assert_true(ret == 0 || ret == -EEXIST);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
}

/* tc egress of a VM's tap: the to-VM policy for frames tc redirects there. */
static void attach_to_vm_tc(struct fx_port *port)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = port->tap.ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = xtap_prog_fd(&fx_dp, XTAP_PROG_TO_VM_TC));
	int ret = bpf_tc_hook_create(&hook);

	assert_true(ret == 0 || ret == -EEXIST);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
}

static void attach_uplink_tc(void)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = fx_uplink.ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = xtap_prog_fd(&fx_dp, XTAP_PROG_FROM_UPLINK_TC));
	int ret = bpf_tc_hook_create(&hook);

	assert_true(ret == 0 || ret == -EEXIST);
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
}

static int detach_tc(void **s)
{
	int ifindex[] = { PA->tap.ifindex, PB->tap.ifindex, PD->tap.ifindex, fx_uplink.ifindex };
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(ifindex) / sizeof(ifindex[0]); i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex[i],
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
	return 0;
}

#define TM(fn) cmocka_unit_test_setup_teardown(fn, fx_reset, detach_tc)

/* A UDP/IPv4 frame of `len` bytes from port `from` to dst_mac. */
static void udp_frame(struct pkt *p, const struct fx_port *from, const uint8_t *dst_mac,
		      uint32_t dst, size_t len)
{
	fx_eth_ipv4(p, from, dst_mac, from->ip4, dst, IPPROTO_UDP);
	pkt_udp(p, 40000, 53, len - 42);
	pkt_finish(p);
	assert_int_equal(p->len, len);
}

struct counts {
	uint64_t drop, mtu, all, verdict;
};

static void counts(struct counts *c, const struct fx_port *p, int dir, int verdict)
{
	c->drop = fx_verdicts(p, dir, XTAP_VERDICT_DROP);
	c->mtu = fx_drops(p, dir, XTAP_DROP_MTU);
	c->all = rule_all_drops(p, dir);
	c->verdict = fx_verdicts(p, dir, verdict);
}

/* Since b: n frames dropped MTU (and nothing else), v frames counted under verdict. */
static void expect_counts(const struct fx_port *p, int dir, int verdict, const struct counts *b,
			  uint64_t n, uint64_t v)
{
	struct counts now;

	counts(&now, p, dir, verdict);
	assert_int_equal(now.drop - b->drop, n);
	assert_int_equal(now.mtu - b->mtu, n);
	assert_int_equal(now.all - b->all, n);
	assert_int_equal(now.verdict - b->verdict, v);
}

/* XDP hands a long frame to tc with max_len set and counts nothing itself. */
static void expect_handed_to_tc(struct fx_port *from, const struct pkt *p)
{
	struct fx_result r;
	struct counts b;
	uint32_t max_len;

	counts(&b, from, FROM_VM, XTAP_VERDICT_TO_PORT);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, from->tap.ifindex, p, &r);
	assert_int_equal(r.retval, XDP_PASS);
	memcpy(&max_len, r.out + 24, 4);    /* struct xtap_meta's last field */
	assert_int_equal(max_len, from->spec.mtu + 14u);
	expect_counts(from, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 0, 0);
}

/* Class 4: 1515 bytes on an MTU of 1500, not GSO: dropped MTU by tc, counted once. */
static void test_mtu_from_vm_unicast_over_mtu(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PA);
	udp_frame(&p, PA, PB->mac, PB->ip4, 1515);
	expect_handed_to_tc(PA, &p);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_TO_PORT);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 1, 0);
	fx_expect_silent();
}

static void test_mtu_from_vm_at_mtu_redirected(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PA);
	udp_frame(&p, PA, PB->mac, PB->ip4, 1514);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_TO_PORT);
	assert_int_equal(fx_from_vm(PA, &p), XDP_REDIRECT);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 0, 2);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
}

/* Towards the uplink: dropped before it, not counted as sent. */
static void test_mtu_from_vm_to_uplink_over_mtu(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PA);
	udp_frame(&p, PA, fx_unknown_mac, pkt_ip4("192.0.2.1"), 1515);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_TO_UPLINK);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_TO_UPLINK, &b, 1, 0);
	fx_expect_silent();
}

/* The same to a tagged uplink (segment 3's VLAN would be pushed by tc). */
static void test_mtu_from_vm_to_tagged_uplink_over_mtu(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PD);
	udp_frame(&p, PD, fx_unknown_mac, pkt_ip4("192.0.2.1"), 1515);
	counts(&b, PD, FROM_VM, XTAP_VERDICT_TO_UPLINK);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PD->tap.ifindex, &p);
	expect_counts(PD, FROM_VM, XTAP_VERDICT_TO_UPLINK, &b, 1, 0);
	fx_expect_silent();
}

static void test_mtu_from_vm_broadcast_over_mtu(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PA);
	udp_frame(&p, PA, fx_bcast, pkt_ip4("255.255.255.255"), 1515);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_FLOOD);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_FLOOD, &b, 1, 0);
	fx_expect_silent();
}

/* A port MTU below the tap's: the port's decides. Long frames up to the tap's pass tc. */
static void test_mtu_from_vm_port_mtu_below_tap(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	PA->spec.mtu = 1400;
	fx_apply(PA);
	attach_from_vm_tc(PA);
	udp_frame(&p, PA, PB->mac, PB->ip4, 1415);
	expect_handed_to_tc(PA, &p);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_TO_PORT);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 1, 0);
	fx_expect_silent();
	udp_frame(&p, PA, PB->mac, PB->ip4, 1414);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_TO_PORT);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	expect_counts(PA, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 0, 1);
	fx_expect_frame(&PB->tap, p.data, p.len);
	fx_expect_silent();
}

/* A long frame XDP would drop anyway is counted by XDP, under its own reason, once. */
static void test_mtu_from_vm_spoof_over_mtu_counted_by_xdp(void **s)
{
	struct counts b;
	uint64_t spoof;
	struct pkt p;

	(void)s;
	attach_from_vm_tc(PA);
	fx_eth_ipv4(&p, PA, PB->mac, PC->ip4, PB->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 1515 - 42);
	pkt_finish(&p);
	spoof = fx_drops(PA, FROM_VM, XTAP_DROP_SPOOF_IPV4);
	counts(&b, PA, FROM_VM, XTAP_VERDICT_DROP);
	assert_int_equal(fx_from_vm(PA, &p), XDP_DROP);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_SPOOF_IPV4) - spoof, 2);
	assert_int_equal(rule_all_drops(PA, FROM_VM) - b.all, 2);
	assert_int_equal(fx_drops(PA, FROM_VM, XTAP_DROP_MTU) - b.mtu, 0);
	fx_expect_silent();
}

/* tc egress on B's tap, with the skb's gso_size. */
static uint32_t to_b_tc(const struct pkt *p, uint32_t gso_size)
{
	struct __sk_buff ctx = { .ifindex = PB->tap.ifindex, .gso_size = gso_size,
				 .gso_segs = gso_size ? (p->len + gso_size - 1) / gso_size : 0 };
	static uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(bpf_prog_test_run_opts(xtap_prog_fd(&fx_dp, XTAP_PROG_TO_VM_TC), &o), 0);
	return o.retval;
}

static void test_mtu_to_vm_tc(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	udp_frame(&p, PA, PB->mac, PB->ip4, 1515);
	counts(&b, PB, TO_VM, XTAP_VERDICT_DELIVER);
	assert_int_equal(to_b_tc(&p, 0), TC_ACT_SHOT);
	expect_counts(PB, TO_VM, XTAP_VERDICT_DELIVER, &b, 1, 0);
	udp_frame(&p, PA, PB->mac, PB->ip4, 1514);
	counts(&b, PB, TO_VM, XTAP_VERDICT_DELIVER);
	assert_int_equal(to_b_tc(&p, 0), TC_ACT_OK);
	expect_counts(PB, TO_VM, XTAP_VERDICT_DELIVER, &b, 0, 1);
}

/* A GSO skb is segmented to the MTU on its way: not an MTU drop. */
static void test_mtu_to_vm_tc_gso_exempt(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, PB->mac, PA->ip4, PB->ip4, IPPROTO_TCP);
	pkt_tcp(&p, 40000, 80, PKT_TCP_ACK, 3000 - 54);
	pkt_finish(&p);
	counts(&b, PB, TO_VM, XTAP_VERDICT_DELIVER);
	assert_int_equal(to_b_tc(&p, 1448), TC_ACT_OK);
	expect_counts(PB, TO_VM, XTAP_VERDICT_DELIVER, &b, 0, 1);
	counts(&b, PB, TO_VM, XTAP_VERDICT_DELIVER);
	assert_int_equal(to_b_tc(&p, 0), TC_ACT_SHOT);
	expect_counts(PB, TO_VM, XTAP_VERDICT_DELIVER, &b, 1, 0);
}

/*
 * From the uplink into A, port MTU 1400 on a 1500 tap: 1415 bytes go by tc to
 * A's tc egress (MTU drop), 1414 by XDP through A's devmap egress (delivered).
 */
static void test_mtu_to_vm_port_mtu_below_tap(void **s)
{
	struct counts b;
	struct pkt p;

	(void)s;
	PA->spec.mtu = 1400;
	fx_apply(PA);
	attach_uplink_tc();
	attach_to_vm_tc(PA);
	pkt_init(&p);
	pkt_eth(&p, PA->mac, outside_mac, ETH_P_IP);
	pkt_ipv4(&p, pkt_ip4("192.0.2.1"), PA->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 1415 - 42);
	pkt_finish(&p);
	counts(&b, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &p);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &b, 1, 0);
	fx_expect_silent();
	pkt_truncate(&p, 1414);
	p.data[p.l3_off + 2] = (1400 >> 8);
	p.data[p.l3_off + 3] = 1400 & 0xff;
	pkt_finish(&p);
	counts(&b, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &p);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &b, 0, 1);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_silent();
}

/* The fuzz tier's F7 (tests/fuzz/FINDINGS.md): 1515-byte IPv6 frames. */
static void test_mtu_fuzz_findings(void **s)
{
	struct fx_result r;
	struct counts b;
	struct pkt p;

	(void)s;
	/* to-VM on vmA: tc egress drops it MTU. */
	pkt_init(&p);
	pkt_eth(&p, PA->mac, PD->mac, ETH_P_IPV6);
	{
		struct in6_addr src = pkt_ip6("2001:db8:2::1"), dst = pkt_ip6("2001:db8:1::ec");

		pkt_ipv6(&p, &src, &dst, IPPROTO_ICMPV6);
	}
	pkt_icmp6(&p, 137, 0, 1515 - 58);
	pkt_finish(&p);
	assert_int_equal(p.len, 1515);
	counts(&b, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_tc(XTAP_PROG_TO_VM_TC, PA->tap.ifindex, &p, &r);
	assert_int_equal(r.retval, TC_ACT_SHOT);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &b, 1, 0);
	/* from-VM on vmD: UDP/IPv6 broadcast, handed to tc, dropped there. */
	attach_from_vm_tc(PD);
	pkt_init(&p);
	pkt_eth(&p, fx_bcast, PD->mac, ETH_P_IPV6);
	{
		struct in6_addr dst = pkt_ip6("2001:db8:1::82");

		pkt_ipv6(&p, &PD->ip6, &dst, IPPROTO_UDP);
	}
	pkt_udp(&p, 80, 67, 1515 - 62);
	pkt_finish(&p);
	expect_handed_to_tc(PD, &p);
	counts(&b, PD, FROM_VM, XTAP_VERDICT_FLOOD);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PD->tap.ifindex, &p);
	expect_counts(PD, FROM_VM, XTAP_VERDICT_FLOOD, &b, 1, 0);
	fx_expect_silent();
}

/*
 * The fuzz tier's F40: B (MTU 9000) sends A (MTU 1500) a 2000-byte frame. An
 * XDP redirect would be refused before A's devmap egress, uncounted; B's XDP
 * counts it sent and hands it to tc, whose redirect meets A's tc egress:
 * dropped MTU there, counted once on A.
 */
static void test_mtu_from_vm_longer_than_target_port(void **s)
{
	struct counts a, b;
	struct fx_result r;
	uint32_t m[7];
	struct pkt p;

	(void)s;
	PB->spec.mtu = 9000;
	fx_apply(PB);
	udp_frame(&p, PB, PA->mac, PA->ip4, 2000);
	counts(&b, PB, FROM_VM, XTAP_VERDICT_TO_PORT);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PB->tap.ifindex, &p, &r);
	assert_int_equal(r.retval, XDP_PASS);
	memcpy(m, r.out, sizeof(m));
	assert_int_equal(m[1], 1);                  /* META_REDIRECT */
	assert_int_equal(m[2], PA->tap.ifindex);
	assert_int_equal(m[6], 0);                  /* counted by XDP: within B's MTU */
	expect_counts(PB, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 0, 1);

	attach_from_vm_tc(PB);
	attach_to_vm_tc(PA);
	counts(&b, PB, FROM_VM, XTAP_VERDICT_TO_PORT);
	counts(&a, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PB->tap.ifindex, &p);
	expect_counts(PB, FROM_VM, XTAP_VERDICT_TO_PORT, &b, 0, 1);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &a, 1, 0);
	fx_expect_silent();

	/* 1514 bytes fit A: XDP redirects them, A's to-VM policy (in B's XDP, bpf/deliver.h) delivers. */
	udp_frame(&p, PB, PA->mac, PA->ip4, 1514);
	counts(&a, PA, TO_VM, XTAP_VERDICT_DELIVER);
	assert_int_equal(fx_from_vm(PB, &p), XDP_REDIRECT);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &a, 0, 1);
	counts(&a, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PB->tap.ifindex, &p);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &a, 0, 1);
	fx_expect_frame(&PA->tap, p.data, p.len);
	fx_expect_silent();
}

/* F40 from the uplink: a 1600-byte frame for A goes by tc to A's tc egress: MTU there. */
static void test_mtu_from_uplink_longer_than_port(void **s)
{
	struct fx_result r;
	struct counts a;
	uint32_t m[7];
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_eth(&p, PA->mac, outside_mac, ETH_P_IP);
	pkt_ipv4(&p, pkt_ip4("192.0.2.1"), PA->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 1600 - 42);
	pkt_finish(&p);
	fx_run_xdp(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, XDP_PASS);
	memcpy(m, r.out, sizeof(m));
	assert_int_equal(m[1], 1);
	assert_int_equal(m[2], PA->tap.ifindex);

	attach_uplink_tc();
	attach_to_vm_tc(PA);
	counts(&a, PA, TO_VM, XTAP_VERDICT_DELIVER);
	fx_run_xdp_live(XTAP_PROG_FROM_UPLINK_XDP, fx_uplink.ifindex, &p);
	expect_counts(PA, TO_VM, XTAP_VERDICT_DELIVER, &a, 1, 0);
	fx_expect_silent();
}

XTAP_TEST_LIST(mtu,
	TM(test_mtu_from_vm_longer_than_target_port),
	TM(test_mtu_from_uplink_longer_than_port),
	TM(test_mtu_from_vm_unicast_over_mtu),
	TM(test_mtu_from_vm_at_mtu_redirected),
	TM(test_mtu_from_vm_to_uplink_over_mtu),
	TM(test_mtu_from_vm_to_tagged_uplink_over_mtu),
	TM(test_mtu_from_vm_broadcast_over_mtu),
	TM(test_mtu_from_vm_port_mtu_below_tap),
	TM(test_mtu_from_vm_spoof_over_mtu_counted_by_xdp),
	TM(test_mtu_to_vm_tc),
	TM(test_mtu_to_vm_tc_gso_exempt),
	TM(test_mtu_to_vm_port_mtu_below_tap),
	TM(test_mtu_fuzz_findings),
);
