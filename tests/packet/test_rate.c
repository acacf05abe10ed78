// SPDX-License-Identifier: GPL-2.0
#include <linux/if_ether.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

static void test_rate_placeholder(void **s)
{
	(void)s;
}

XTAP_TEST_LIST(rate,
	T(test_rate_placeholder),
);
