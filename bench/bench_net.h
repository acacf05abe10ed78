/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the datapath benchmarks (throughput, kernel_path) share: the frame, a
 * tap opened as QEMU opens it, xtapd in the sandbox with two ports and the
 * full policy, and the classic peers' rules (ebtables, nftables, htb).
 */
#ifndef XTAP_BENCH_NET_H
#define XTAP_BENCH_NET_H

#include "pktbuild.h"
#include "sandbox.h"

#define BENCH_MAC_A  "02:00:00:00:00:0a"
#define BENCH_MAC_B  "02:00:00:00:00:0b"
#define BENCH_MAC_UP "02:00:00:00:00:fe"
#define BENCH_IP_A   "10.0.0.10"
#define BENCH_IP_B   "10.0.0.11"
#define BENCH_IP_UP  "192.0.2.254"

/* UDP/IPv4 of size bytes (Ethernet header included) to B, full checksums; die() if it comes out wrong. */
struct pkt *bench_frame(const char *src_mac, const char *src_ip, int size);
/* A tap of our own, as QEMU opens it (O_NONBLOCK, 12-byte vnet header, guest offloads). */
struct test_tap bench_tap(const char *name);
/* An xtapd port's tap, opened by name (O_NONBLOCK, 12-byte vnet header). */
int bench_xtap_tap(const char *name);
/* xtapd in the sandbox (state on a tmpfs in /run/xtap-test), ready for requests. */
void bench_xtapd_start(void);
/*
 * Segment 1 (uplink0 as its uplink if uplink), ports vma (A) and vmb (B), and
 * the full policy on vma from-vm: anti-spoofing, 64 ACL rules that cannot
 * match, a final allow, default deny, rate 100g and 100m pps.
 */
int64_t bench_xtap_ports(int uplink);   /* returns the final allow rule's id */
/* The ebtables command (ebtables-nft where it exists: this kernel has no legacy ebtables). */
const char *bench_ebtables(void);
/* libvirt's clean-traffic on port's ingress with ebtables: a nat PREROUTING chain I-PORT. */
void bench_ebtables_clean_traffic(const char *ebt, const char *port, const char *mac, const char *ip);
/* The same rules with nftables: table bridge xtapbench, chain i_PORT from prerouting. */
void bench_nft_clean_traffic(const char *port, const char *mac, const char *ip);
/* The classic rate limit on dev's egress: an htb class at rate (e.g. "100gbit"), high enough not to bind. */
void bench_htb(const char *dev, const char *rate);
/*
 * The classic peer: bridge BR with our taps A and B (B's MAC a static FDB
 * entry), libvirt's clean-traffic on A with ebtables, htb at htb_rate on B.
 */
void bench_classic_ebtables(const char *ebt, const char *br, struct test_tap *a, const char *a_name,
			    struct test_tap *b, const char *b_name, const char *htb_rate);
/*
 * The same with the rules in nftables, in a new network namespace of its own
 * (neither classic peer passes the other's hook). Returns that namespace's
 * fd; the caller is back in the namespace it called from.
 */
int bench_classic_nft(const char *br, struct test_tap *a, const char *a_name, struct test_tap *b,
		      const char *b_name, const char *htb_rate);
/* Frames the nftables peer's IPv4 accept rule for a_name counted, read in namespace ns. */
unsigned long long bench_nft_accepted(int ns, const char *a_name);

#endif
