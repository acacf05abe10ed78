// SPDX-License-Identifier: GPL-2.0
/*
 * IPv4 options (docs/packet-rules.md): walked when IHL > 5; EOL ends them,
 * NOP is one byte, every other option has a length >= 2 inside the header
 * (else MALFORMED); source routes (LSRR 131, SSRR 137) are IP_OPTION
 * anywhere. Both directions.
 */
#include <string.h>

#include "rules.h"
#include "tests.h"

/* A UDP/IPv4 frame whose options are exactly opt[0..n) (n a multiple of 4). */
static void with_options(struct pkt *p, const struct rule_ends *e, const uint8_t *opt, size_t n)
{
	struct pkt_ip4_opts o = PKT_IP4_DEFAULTS;

	o.opt_len = n;
	rule_ipv4_ex(p, e, IPPROTO_UDP, &o);
	memcpy(p->data + p->l3_off + 20, opt, n);
	pkt_udp(p, 40000, 53, 16);
	pkt_finish(p);
}

#define OPTS(fn, ...)                                                            \
	static void fn(struct pkt *p, const struct rule_ends *e)                 \
	{                                                                        \
		static const uint8_t o[] = { __VA_ARGS__ };                      \
		with_options(p, e, o, sizeof(o));                                \
	}

OPTS(nops, 1, 1, 1, 1)
OPTS(lsrr, 131, 7, 4, 10, 0, 0, 1, 1)
OPTS(ssrr, 137, 7, 4, 10, 0, 0, 1, 1)
OPTS(nop_then_lsrr, 1, 131, 7, 4, 10, 0, 0, 1)
OPTS(record_route, 7, 7, 4, 0, 0, 0, 0, 1)
OPTS(router_alert, 148, 4, 0, 0)
OPTS(eol_then_lsrr_bytes, 0, 131, 7, 4, 10, 0, 0, 1)
OPTS(length_1, 7, 1, 0, 0)
OPTS(length_0, 7, 0, 0, 0)
OPTS(length_beyond_header, 7, 12, 4, 0, 0, 0, 0, 0)
OPTS(no_length_byte, 1, 1, 1, 7)
OPTS(rr_then_bad, 7, 3, 4, 1, 68, 0, 0, 0)
OPTS(nops_40, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
OPTS(lsrr_after_36_nops, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
     1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 131, 3, 4, 0)
/* Timestamp (68) of 36 bytes, then SSRR in the last 4. */
OPTS(ssrr_after_timestamp, 68, 36, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
     0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 137, 3, 4, 0)

static const struct rule_case cases[] = {
	{ "NOPs", nops, RULE_PASS, RULE_PASS },
	{ "40 bytes of NOPs", nops_40, RULE_PASS, RULE_PASS },
	{ "record route", record_route, RULE_PASS, RULE_PASS },
	{ "router alert", router_alert, RULE_PASS, RULE_PASS },
	{ "EOL, then bytes of an LSRR", eol_then_lsrr_bytes, RULE_PASS, RULE_PASS },
	{ "LSRR", lsrr, XTAP_DROP_IP_OPTION, XTAP_DROP_IP_OPTION },
	{ "SSRR", ssrr, XTAP_DROP_IP_OPTION, XTAP_DROP_IP_OPTION },
	{ "NOP, then LSRR", nop_then_lsrr, XTAP_DROP_IP_OPTION, XTAP_DROP_IP_OPTION },
	{ "LSRR after 36 NOPs", lsrr_after_36_nops, XTAP_DROP_IP_OPTION, XTAP_DROP_IP_OPTION },
	{ "SSRR after a timestamp", ssrr_after_timestamp, XTAP_DROP_IP_OPTION,
	  XTAP_DROP_IP_OPTION },
	{ "option length 1", length_1, XTAP_DROP_MALFORMED, XTAP_DROP_MALFORMED },
	{ "option length 0", length_0, XTAP_DROP_MALFORMED, XTAP_DROP_MALFORMED },
	{ "option beyond the header", length_beyond_header, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
	{ "option without its length byte", no_length_byte, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
	{ "record route, then an option past the header", rr_then_bad, XTAP_DROP_MALFORMED,
	  XTAP_DROP_MALFORMED },
};

static void test_ip_options_table(void **s)
{
	(void)s;
	RULES_RUN(cases);
}

/* The fuzz tier's F8 (tests/fuzz/FINDINGS.md), as found. */
static const struct hex_case fuzz_cases[] = {
	{ "F8 LSRR from vmC", 0, FX_C,
	  "ffffffffffff02000000000c080047000020b6880025400612fa0a00000c0a00000a8307040a0a0a0a00"
	  "c9021e53", XTAP_DROP_IP_OPTION },
	{ "F8 SSRR to vmD", 1, FX_D,
	  "02000000000d020000000099080047000020a4df000340061ec30a00000b0a00000d8907040a0a0a0a00"
	  "342b62d7", XTAP_DROP_IP_OPTION },
	{ "F8 SCTP header of 5 bytes to vmD", 1, FX_D,
	  "ffffffffffff020000000099080045000019ca47000040849c570a00000b0a00000df99530e5dd",
	  XTAP_DROP_MALFORMED },
};

static void test_ip_options_fuzz_findings(void **s)
{
	(void)s;
	HEX_RUN(fuzz_cases);
}

XTAP_TEST_LIST(ip_options,
	T(test_ip_options_table),
	T(test_ip_options_fuzz_findings),
);
