// SPDX-License-Identifier: GPL-2.0
/*
 * How a program finds a frame's port (bpf/port.h): the hint array, checked
 * against the slot's ifindex, then xtap_ports; entries written whole into
 * the port's other slot before the switch.
 */
#include <string.h>

#include <bpf/bpf.h>

#include "fixture.h"
#include "policy.h"
#include "tests.h"

static __u32 hint_of(const struct fx_port *p)
{
	__u32 h = p->tap.ifindex % XTAP_PORT_HINTS, v = 0;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORT_HINT), &h, &v), 0);
	return v;
}

static void set_hint(const struct fx_port *p, __u32 v)
{
	__u32 h = p->tap.ifindex % XTAP_PORT_HINTS;

	assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORT_HINT), &h, &v, 0), 0);
}

static struct xtap_port entry_of(const struct fx_port *p)
{
	struct xtap_port e;
	__u32 ifindex = p->tap.ifindex;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORTS), &ifindex, &e), 0);
	return e;
}

static struct xtap_port slot_entry(__u32 slot)
{
	struct xtap_port e;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORT_BY_ID), &slot, &e), 0);
	return e;
}

/* B's frame with A's addresses is B's spoof, counted at B; B's own frame goes to A. */
static void expect_judged_as_b(void)
{
	uint64_t spoof_b = fx_drops(PB, XTAP_DIR_FROM_VM, XTAP_DROP_SPOOF_MAC);
	uint64_t spoof_a = fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_SPOOF_MAC);
	uint64_t sent_b = fx_verdicts(PB, XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_PORT);
	struct pkt p;

	fx_udp4(&p, PA, PC, 53, 32);   /* A's MAC and address, sent on B's tap */
	assert_int_equal(fx_from_vm(PB, &p), XDP_DROP);
	assert_int_equal(fx_drops(PB, XTAP_DIR_FROM_VM, XTAP_DROP_SPOOF_MAC) - spoof_b, 1);
	assert_int_equal(fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_SPOOF_MAC) - spoof_a, 0);
	fx_udp4(&p, PB, PA, 53, 32);
	assert_int_equal(fx_from_vm(PB, &p), XDP_REDIRECT);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_PORT) - sent_b, 1);
}

/* Every port's hint points at the slot its xtap_ports entry names, and that slot holds it. */
static void test_port_hint_names_current_slot(void **s)
{
	int i;

	(void)s;
	for (i = 0; i < FX_PORTS; i++) {
		struct xtap_port e = entry_of(&fx_ports[i]), by_slot;

		assert_int_equal(e.slot / 2, e.port_id);
		assert_int_equal(hint_of(&fx_ports[i]), e.slot + 1);
		by_slot = slot_entry(e.slot);
		assert_memory_equal(&by_slot, &e, sizeof(e));
	}
}

/* A hint that points at another port's slot (two taps sharing it, or a stale one) is not trusted. */
static void test_port_hint_of_another_port_not_trusted(void **s)
{
	(void)s;
	set_hint(PB, entry_of(PA).slot + 1);
	expect_judged_as_b();
}

/* No hint, or one past the slots: the port is found by xtap_ports. */
static void test_port_without_hint_found_by_ifindex(void **s)
{
	(void)s;
	set_hint(PB, 0);
	expect_judged_as_b();
	set_hint(PB, XTAP_PORT_SLOTS + 7);
	expect_judged_as_b();
}

/*
 * A changed entry goes to the port's other slot, the old one left whole
 * (a frame that read the old hint reads the old entry); an unchanged one
 * stays where it is.
 */
static void test_port_change_writes_other_slot(void **s)
{
	struct xtap_port before = entry_of(PA), after, old_slot;
	uint64_t acl_drops = fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_ACL);
	struct pkt p;

	(void)s;
	fx_apply(PA);
	assert_int_equal(entry_of(PA).slot, before.slot);
	PA->spec.acl[XTAP_DIR_FROM_VM].default_action = XTAP_ACL_DENY;
	fx_apply(PA);
	after = entry_of(PA);
	assert_int_equal(after.slot, before.slot ^ 1);
	assert_int_equal(hint_of(PA), after.slot + 1);
	old_slot = slot_entry(before.slot);
	assert_memory_equal(&old_slot, &before, sizeof(before));
	fx_udp4(&p, PA, PB, 53, 32);
	assert_int_equal(fx_from_vm(PA, &p), XDP_DROP);
	assert_int_equal(fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_ACL) - acl_drops, 1);
}

/* A deleted port's hint and slot are cleared; frames on its tap are dropped. */
static void test_port_delete_clears_hint_and_slot(void **s)
{
	struct xtap_port e = entry_of(PC), zero = {}, by_slot;
	struct xtap_err err;
	struct pkt p;

	(void)s;
	assert_int_equal(xtap_port_delete(&fx_dp, PC->tap.ifindex, &err), 0);
	assert_int_equal(hint_of(PC), 0);
	by_slot = slot_entry(e.slot);
	assert_memory_equal(&by_slot, &zero, sizeof(zero));
	fx_udp4(&p, PC, PA, 53, 32);
	assert_int_equal(fx_from_vm(PC, &p), XDP_DROP);
}

XTAP_TEST_LIST(port_lookup,
	T(test_port_hint_names_current_slot),
	T(test_port_hint_of_another_port_not_trusted),
	T(test_port_without_hint_found_by_ifindex),
	T(test_port_change_writes_other_slot),
	T(test_port_delete_clears_hint_and_slot),
);
