// SPDX-License-Identifier: GPL-2.0
/* Tier 1: every policy rule exercised with BPF_PROG_TEST_RUN on crafted frames. */
#include "fixture.h"
#include "tests.h"

int main(void)
{
	const struct CMUnitTest tests[] = {
		XTAP_ANTISPOOF_TESTS
	};

	return cmocka_run_group_tests_name("packet", tests, fx_global_setup, fx_global_teardown);
}
