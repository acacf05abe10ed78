// SPDX-License-Identifier: GPL-2.0
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

static void test_uplink_placeholder(void **s)
{
	(void)s;
}

XTAP_TEST_LIST(uplink,
	T(test_uplink_placeholder),
);
