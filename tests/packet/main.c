// SPDX-License-Identifier: GPL-2.0
/* Tier 1: every policy rule exercised with BPF_PROG_TEST_RUN on crafted frames. */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "tests.h"

#define LIST(name) { name##_tests, &name##_tests_count }

int main(void)
{
	const struct {
		const struct CMUnitTest *tests;
		const size_t *count;
	} lists[] = {
		LIST(antispoof), LIST(parse), LIST(acl), LIST(rate),
		LIST(steer), LIST(csum), LIST(uplink), LIST(to_vm),
		LIST(fragments), LIST(trailing), LIST(ip_options), LIST(dhcp_guard), LIST(mtu), LIST(model_text),
		LIST(overlay),
		LIST(conntrack),
		LIST(observe),
		LIST(port_lookup),
	};
	struct CMUnitTest *all;
	size_t n = 0, i;
	int ret;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		n += *lists[i].count;
	all = calloc(n, sizeof(*all));
	if (!all)
		return 1;
	n = 0;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		memcpy(all + n, lists[i].tests, *lists[i].count * sizeof(*all));
		n += *lists[i].count;
	}
	ret = _cmocka_run_group_tests("packet", all, n, fx_global_setup, fx_global_teardown);
	free(all);
	return ret;
}
