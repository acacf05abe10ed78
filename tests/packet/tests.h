/* SPDX-License-Identifier: GPL-2.0 */
/* Each test file exports its list; main.c runs them all as one group. */
#ifndef XTAP_PACKET_TESTS_H
#define XTAP_PACKET_TESTS_H

#include <stddef.h>

/* Every test starts from the baseline policy. */
#define T(fn) cmocka_unit_test_setup(fn, fx_reset)

#define XTAP_TEST_LIST(name, ...)                                                \
	const struct CMUnitTest name##_tests[] = { __VA_ARGS__ };                \
	const size_t name##_tests_count = sizeof(name##_tests) / sizeof(name##_tests[0])

#define XTAP_TEST_LIST_DECL(name)                                                \
	extern const struct CMUnitTest name##_tests[];                           \
	extern const size_t name##_tests_count

XTAP_TEST_LIST_DECL(antispoof);
XTAP_TEST_LIST_DECL(parse);
XTAP_TEST_LIST_DECL(acl);
XTAP_TEST_LIST_DECL(rate);
XTAP_TEST_LIST_DECL(steer);
XTAP_TEST_LIST_DECL(csum);
XTAP_TEST_LIST_DECL(uplink);
XTAP_TEST_LIST_DECL(to_vm);
XTAP_TEST_LIST_DECL(fragments);
XTAP_TEST_LIST_DECL(trailing);
XTAP_TEST_LIST_DECL(ip_options);
XTAP_TEST_LIST_DECL(dhcp_guard);
XTAP_TEST_LIST_DECL(mtu);
XTAP_TEST_LIST_DECL(model_text);
XTAP_TEST_LIST_DECL(overlay);
XTAP_TEST_LIST_DECL(conntrack);
XTAP_TEST_LIST_DECL(observe);
XTAP_TEST_LIST_DECL(port_lookup);

#endif
