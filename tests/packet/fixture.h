/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The packet-test world, built once per run inside a sandbox: four VM ports
 * on taps and one uplink tap, three segments.
 *
 *   segment 1: ports A, B; uplink, untagged
 *   segment 2: port C; no uplink (unknown unicast goes to the host)
 *   segment 3: port D; uplink, VLAN 100
 *
 * Each test starts from the baseline policy (fx_reset): every port allows
 * its own addresses, no ACL rules, no rate limits.
 */
#ifndef XTAP_TEST_FIXTURE_H
#define XTAP_TEST_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "datapath.h"
#include "policy.h"
#include "pktbuild.h"
#include "sandbox.h"

struct fx_port {
	const char *name;
	struct test_tap tap;
	struct xtap_port_spec spec;
	uint8_t mac[6];
	uint32_t ip4;            /* network order */
	struct in6_addr ip6;
};

enum { FX_A, FX_B, FX_C, FX_D, FX_PORTS };

extern struct xtap_datapath fx_dp;
extern struct fx_port fx_ports[FX_PORTS];
extern struct test_tap fx_uplink;
#define FX_SEG_VLAN 100

#define PA (&fx_ports[FX_A])
#define PB (&fx_ports[FX_B])
#define PC (&fx_ports[FX_C])
#define PD (&fx_ports[FX_D])

int fx_global_setup(void **state);
int fx_global_teardown(void **state);
/* Per-test setup: baseline policy on every port, taps drained. */
int fx_reset(void **state);
/* Writes a port's (modified) spec, failing the test on error. */
void fx_apply(struct fx_port *p);

struct fx_result {
	uint32_t retval;
	uint8_t out[PKT_MAX + 64];
	uint32_t out_len;
};

/* Runs a program once on the frame as if it arrived on ifindex. */
void fx_run_xdp(enum xtap_prog_id prog, int ifindex, const struct pkt *p, struct fx_result *r);
void fx_run_tc(enum xtap_prog_id prog, int ifindex, const struct pkt *p, struct fx_result *r);
/* Same, for real: redirects happen and land in the target taps. */
void fx_run_xdp_live(enum xtap_prog_id prog, int ifindex, const struct pkt *p);

/* "from VM" on port p: the verdict of the frame. */
uint32_t fx_from_vm(struct fx_port *port, const struct pkt *p);

/* Counters summed over CPUs. */
uint64_t fx_verdicts(const struct fx_port *p, int dir, int verdict);
uint64_t fx_drops(const struct fx_port *p, int dir, int reason);
struct xtap_counter fx_acl_hits(const struct fx_port *p, uint32_t rule_id);

/* Frames: Ethernet from the port's MAC. */
void fx_eth_ipv4(struct pkt *p, const struct fx_port *from, const uint8_t *dst_mac,
		 uint32_t src, uint32_t dst, uint8_t proto);
void fx_eth_ipv6(struct pkt *p, const struct fx_port *from, const uint8_t *dst_mac,
		 const struct in6_addr *src, const struct in6_addr *dst, uint8_t nexthdr);
/* A finished UDP/IPv4 frame from port `from` to port `to` (their MACs and IPs). */
void fx_udp4(struct pkt *p, const struct fx_port *from, const struct fx_port *to,
	     uint16_t dport, size_t payload);

/* Frames waiting on a tap (drained). */
int fx_tap_frames(struct test_tap *t);
/* Tap t holds exactly one frame, equal to want. */
void fx_expect_frame(struct test_tap *t, const uint8_t *want, size_t len);
/* No VM tap and not the uplink holds a frame (expected ones were read already). */
void fx_expect_silent(void);

extern const uint8_t fx_bcast[6];
extern const uint8_t fx_unknown_mac[6];

#endif /* XTAP_TEST_FIXTURE_H */
