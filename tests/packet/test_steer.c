// SPDX-License-Identifier: GPL-2.0
/* Steering of frames leaving a VM: to a port, flood, uplink, host; segment isolation. */
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

static void test_steer_unicast_live(void **s)
{
	uint8_t buf[PKT_MAX], vnet[12];
	struct pkt p;
	int n;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	fx_run_xdp_live(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, &p);
	n = tap_read(&PB->tap, buf, sizeof(buf), vnet);
	assert_int_equal(n, (int)p.len);
	assert_memory_equal(buf, p.data, p.len);
	assert_int_equal(fx_tap_frames(&PA->tap), 0);
	assert_int_equal(fx_tap_frames(&PC->tap), 0);
	assert_int_equal(fx_tap_frames(&fx_uplink), 0);
	assert_int_equal(fx_verdicts(PB, XTAP_DIR_TO_VM, XTAP_VERDICT_DELIVER), 1);
}

XTAP_TEST_LIST(steer,
	T(test_steer_unicast_live),
);
