/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzz tier's structure-aware generator: valid frames of every kind
 * xtap handles, built header by header for a port of the world, then
 * mutated layer by layer. Deterministic for a seed.
 */
#ifndef XTAP_FUZZ_GEN_H
#define XTAP_FUZZ_GEN_H

#include <stdint.h>

#include "model.h"

#define GEN_MAX 9216        /* a jumbo frame for a 9000-byte MTU, and some */
#define GEN_GROUP_MAX 6     /* fragments of one datagram */
/*
 * Longest frame generated: BPF_PROG_TEST_RUN takes a tc frame only if it
 * fits a page (EINVAL above), and runs a longer XDP frame as a multi-buffer
 * one whose tail the programs cannot read (a tap's generic XDP linearises
 * it). So a 9000-byte MTU is checked only below a page.
 */
#define GEN_RUN_MAX 3500

struct gen_frame {
	uint8_t data[GEN_MAX];
	int len;
	enum mdl_dir dir;
	int port;               /* from-VM: the sender; to-VM: the receiver; uplink: unused */
	int kind;               /* enum gen_kind */
	int mutated;
};

enum gen_kind {
	GK_ARP, GK_UDP4, GK_TCP4, GK_ICMP4, GK_ICMP4_ROUTER, GK_SCTP4, GK_GRE4, GK_DHCP4_CLIENT,
	GK_DHCP4_SERVER, GK_UDP6, GK_TCP6, GK_ICMP6, GK_NS, GK_NA, GK_RS, GK_RA, GK_REDIRECT6,
	GK_MLD, GK_DHCP6_CLIENT, GK_DHCP6_SERVER, GK_NONEXT6, GK_FRAG4, GK_FRAG6, GK_OTHER_ETH,
	GK_COUNT,
};

extern const char *const gen_kind_name[GK_COUNT];

struct gen {
	uint64_t s;
	const struct mdl_world *w;
};

void gen_init(struct gen *g, const struct mdl_world *w, uint64_t seed);
uint64_t gen_rand(struct gen *g);

/*
 * One case: a frame, or all fragments of one datagram (a group: same
 * direction and port, to be run in order and reassembled). Returns the
 * number of frames written to out[].
 */
int gen_case(struct gen *g, struct gen_frame out[GEN_GROUP_MAX]);

#endif /* XTAP_FUZZ_GEN_H */
