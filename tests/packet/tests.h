/* SPDX-License-Identifier: GPL-2.0 */
/* The test lists of each file, for main.c. */
#ifndef XTAP_PACKET_TESTS_H
#define XTAP_PACKET_TESTS_H

#define T(fn) cmocka_unit_test_setup(fn, fx_reset)

void test_ipv4_good_to_port(void **s);
void test_spoof_mac(void **s);

#define XTAP_ANTISPOOF_TESTS \
	T(test_ipv4_good_to_port), \
	T(test_spoof_mac),

#endif
