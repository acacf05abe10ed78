// SPDX-License-Identifier: GPL-2.0
/* Anti-spoofing of frames leaving a VM. */
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

static void test_ipv4_good_to_port(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	assert_int_equal(fx_from_vm(PA, &p), XDP_REDIRECT);
	assert_int_equal(fx_verdicts(PA, XTAP_DIR_FROM_VM, XTAP_VERDICT_TO_PORT), 1);
}

static void test_spoof_mac(void **s)
{
	struct pkt p;

	(void)s;
	fx_udp4(&p, PA, PB, 53, 32);
	p.data[11] ^= 0x10;   /* source MAC */
	assert_int_equal(fx_from_vm(PA, &p), XDP_DROP);
	assert_int_equal(fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_SPOOF_MAC), 1);
}

XTAP_TEST_LIST(antispoof,
	T(test_ipv4_good_to_port),
	T(test_spoof_mac),
);
