// SPDX-License-Identifier: GPL-2.0
/* The "to VM" policy on tc egress of a VM's tap: frames from the host stack and the skb path. */
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "tests.h"

/* The tc egress program on B's tap returns `ret`, counting the frame once as `verdict`. */
static void expect_to_b(const struct pkt *p, uint32_t ret, int verdict)
{
	uint64_t before = fx_verdicts(PB, XTAP_DIR_TO_VM, verdict);
	struct fx_result r;

	fx_run_tc(XTAP_PROG_TO_VM_TC, PB->tap.ifindex, p, &r);
	assert_int_equal(r.retval, ret);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, verdict) - before, 1);
}

static void expect_dropped_at_b(const struct pkt *p, int reason)
{
	uint64_t before = fx_drops(PB, XTAP_DIR_TO_VM, reason);

	expect_to_b(p, TC_ACT_SHOT, XTAP_VERDICT_DROP);
	assert_int_equal(fx_drops(PB, XTAP_DIR_TO_VM, reason) - before, 1);
}

static void test_to_vm_own_mac_delivered(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	expect_to_b(&p, TC_ACT_OK, XTAP_VERDICT_DELIVER);
}

static void test_to_vm_other_unicast_mac_dropped(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PC, 53, 32);
	expect_dropped_at_b(&p, XTAP_DROP_DST_MAC);
}

static void test_to_vm_broadcast_delivered(void **s)
{
	struct pkt p;

	(void)s;
	fx_eth_ipv4(&p, PA, fx_bcast, PA->ip4, pkt_ip4("255.255.255.255"), IPPROTO_UDP);
	pkt_udp(&p, 40000, 5353, 32);
	pkt_finish(&p);
	expect_to_b(&p, TC_ACT_OK, XTAP_VERDICT_DELIVER);
}

static void test_to_vm_vlan_tagged_dropped(void **s)
{
	struct pkt p;

	(void)s;
	pkt_init(&p);
	pkt_eth(&p, PB->mac, PA->mac, ETH_P_8021Q);
	pkt_vlan(&p, FX_SEG_VLAN, ETH_P_IP);
	pkt_ipv4(&p, PA->ip4, PB->ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 53, 32);
	pkt_finish(&p);
	expect_dropped_at_b(&p, XTAP_DROP_VLAN_TAGGED);
}

/* The IPv4 header claims more bytes than the frame holds. */
static void test_to_vm_truncated_dropped(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	pkt_truncate(&p, p.l4_off + 4);
	expect_dropped_at_b(&p, XTAP_DROP_MALFORMED);
}

/* An egress program on a device that is no port: no policy to apply, fail closed. */
static void test_to_vm_unknown_device_dropped(void **s)
{
	uint64_t b_drops = fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP);
	struct fx_result r;
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	fx_run_tc(XTAP_PROG_TO_VM_TC, fx_uplink.ifindex, &p, &r);
	assert_int_equal(r.retval, TC_ACT_SHOT);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DROP), b_drops);
}

/* Limiter state survives fx_reset; start B's to-VM limiter from idle. */
static void reset_to_vm_rate_state(const struct fx_port *port)
{
	struct xtap_rate_state idle = {};
	__u32 idx = port->spec.port_id * XTAP_DIRS + XTAP_DIR_TO_VM;

	assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_RATE_STATE), &idx,
					     &idle, BPF_ANY), 0);
}

static void test_to_vm_packet_rate_burst_then_drop(void **s)
{
	struct pkt p;

	(void)s;
	PB->spec.rate[XTAP_DIR_TO_VM].packets_per_sec = 1;
	PB->spec.rate[XTAP_DIR_TO_VM].burst_packets = 2;
	fx_apply(PB);
	reset_to_vm_rate_state(PB);
	fx_udp4(&p, PA, PB, 53, 32);
	expect_to_b(&p, TC_ACT_OK, XTAP_VERDICT_DELIVER);
	expect_to_b(&p, TC_ACT_OK, XTAP_VERDICT_DELIVER);
	expect_dropped_at_b(&p, XTAP_DROP_RATE_PACKETS);
}

XTAP_TEST_LIST(to_vm,
	T(test_to_vm_own_mac_delivered),
	T(test_to_vm_other_unicast_mac_dropped),
	T(test_to_vm_broadcast_delivered),
	T(test_to_vm_vlan_tagged_dropped),
	T(test_to_vm_truncated_dropped),
	T(test_to_vm_unknown_device_dropped),
	T(test_to_vm_packet_rate_burst_then_drop),
);
