// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

struct xtap_datapath fx_dp;
struct fx_port fx_ports[FX_PORTS] = {
	[FX_A] = { .name = "vmA" },
	[FX_B] = { .name = "vmB" },
	[FX_C] = { .name = "vmC" },
	[FX_D] = { .name = "vmD" },
};
struct test_tap fx_uplink = { .fd = -1 };
const uint8_t fx_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t fx_unknown_mac[6] = { 0x02, 0xee, 0xee, 0xee, 0xee, 0xee };

static const uint32_t port_segment[FX_PORTS] = { 1, 1, 2, 3 };

static void baseline_spec(int i)
{
	struct fx_port *p = &fx_ports[i];
	struct xtap_port_spec *s = &p->spec;
	char buf[64];

	memset(s, 0, sizeof(*s));
	s->port_id = 10 + i;
	s->ifindex = p->tap.ifindex;
	s->segment_id = port_segment[i];
	s->mtu = 1500;
	memcpy(s->mac, p->mac, 6);
	s->n_addrs = 3;
	s->addrs[0].family = 4;
	s->addrs[0].prefixlen = 32;
	memcpy(s->addrs[0].addr, &p->ip4, 4);
	/* A /24 besides the /32, for prefix-edge tests. */
	s->addrs[1].family = 4;
	s->addrs[1].prefixlen = 24;
	snprintf(buf, sizeof(buf), "10.%d.1.0", i + 1);
	{
		uint32_t a = pkt_ip4(buf);
		memcpy(s->addrs[1].addr, &a, 4);
	}
	s->addrs[2].family = 6;
	s->addrs[2].prefixlen = 128;
	memcpy(s->addrs[2].addr, &p->ip6, 16);
	s->acl[0].default_action = XTAP_ACL_ALLOW;
	s->acl[1].default_action = XTAP_ACL_ALLOW;
}

void fx_apply(struct fx_port *p)
{
	struct xtap_err err = {};
	int ret = xtap_port_write(&fx_dp, &p->spec, &err);

	if (ret)
		fail_msg("port %s: %s", p->name, err.msg);
}

int fx_global_setup(void **state)
{
	struct xtap_segment seg = {};
	struct xtap_err err = {};
	char buf[64];
	int i;

	(void)state;
	if (sandbox_enter())
		return -1;
	if (tap_open(&fx_uplink, "uplink0", 1500))
		return perror("uplink tap"), -1;
	for (i = 0; i < FX_PORTS; i++) {
		struct fx_port *p = &fx_ports[i];

		if (tap_open(&p->tap, p->name, 1500))
			return perror("vm tap"), -1;
		snprintf(buf, sizeof(buf), "02:00:00:00:00:%02x", 0xa + i);
		pkt_mac(p->mac, buf);
		snprintf(buf, sizeof(buf), "10.0.0.%d", 10 + i);
		p->ip4 = pkt_ip4(buf);
		snprintf(buf, sizeof(buf), "2001:db8::%x", 0xa + i);
		p->ip6 = pkt_ip6(buf);
	}
	mkdir("/sys/fs/bpf/xtap", 0700);
	if (xtap_datapath_load(&fx_dp, "/sys/fs/bpf/xtap"))
		return -1;

	seg.uplink_ifindex = fx_uplink.ifindex;
	if (xtap_segment_write(&fx_dp, 1, &seg, &err))
		return fprintf(stderr, "segment 1: %s\n", err.msg), -1;
	seg.uplink_ifindex = 0;
	if (xtap_segment_write(&fx_dp, 2, &seg, &err))
		return fprintf(stderr, "segment 2: %s\n", err.msg), -1;
	seg.uplink_ifindex = fx_uplink.ifindex;
	seg.vlan = FX_SEG_VLAN;
	if (xtap_segment_write(&fx_dp, 3, &seg, &err))
		return fprintf(stderr, "segment 3: %s\n", err.msg), -1;
	return 0;
}

int fx_global_teardown(void **state)
{
	int i;

	(void)state;
	xtap_datapath_close(&fx_dp);
	for (i = 0; i < FX_PORTS; i++)
		tap_close(&fx_ports[i].tap);
	tap_close(&fx_uplink);
	return 0;
}

int fx_reset(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FX_PORTS; i++) {
		baseline_spec(i);
		fx_apply(&fx_ports[i]);
		tap_drain(&fx_ports[i].tap);
	}
	tap_drain(&fx_uplink);
	return 0;
}

static int prog_fd(enum xtap_prog_id prog)
{
	int fd = xtap_prog_fd(&fx_dp, prog);

	assert_true(fd >= 0);
	return fd;
}

void fx_run_xdp(enum xtap_prog_id prog, int ifindex, const struct pkt *p, struct fx_result *r)
{
	struct xdp_md ctx = { .data_end = p->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int ret = bpf_prog_test_run_opts(prog_fd(prog), &o);

	if (ret)
		fail_msg("test run: %s", strerror(errno));
	r->retval = o.retval;
	r->out_len = o.data_size_out;
}

void fx_run_tc(enum xtap_prog_id prog, int ifindex, const struct pkt *p, struct fx_result *r)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int ret = bpf_prog_test_run_opts(prog_fd(prog), &o);

	if (ret)
		fail_msg("tc test run: %s", strerror(errno));
	r->retval = o.retval;
	r->out_len = o.data_size_out;
}

void fx_run_xdp_live(enum xtap_prog_id prog, int ifindex, const struct pkt *p)
{
	struct xdp_md ctx = { .data_end = p->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->data, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int ret = bpf_prog_test_run_opts(prog_fd(prog), &o);

	if (ret)
		fail_msg("live test run: %s", strerror(errno));
}

uint32_t fx_from_vm(struct fx_port *port, const struct pkt *p)
{
	struct fx_result r;

	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, port->tap.ifindex, p, &r);
	return r.retval;
}

static void port_stats(const struct fx_port *p, struct xtap_port_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c, d, i;
	struct xtap_port_stats *v = calloc(ncpu, sizeof(*v));
	__u32 id = p->spec.port_id;

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_PORT_STATS), &id, v), 0);
	memset(sum, 0, sizeof(*sum));
	for (c = 0; c < ncpu; c++)
		for (d = 0; d < XTAP_DIRS; d++) {
			for (i = 0; i < XTAP_VERDICTS; i++) {
				sum->verdict[d][i].packets += v[c].verdict[d][i].packets;
				sum->verdict[d][i].bytes += v[c].verdict[d][i].bytes;
			}
			for (i = 0; i < XTAP_DROP_REASONS; i++) {
				sum->drop[d][i].packets += v[c].drop[d][i].packets;
				sum->drop[d][i].bytes += v[c].drop[d][i].bytes;
			}
		}
	free(v);
}

uint64_t fx_verdicts(const struct fx_port *p, int dir, int verdict)
{
	struct xtap_port_stats s;

	port_stats(p, &s);
	return s.verdict[dir][verdict].packets;
}

uint64_t fx_drops(const struct fx_port *p, int dir, int reason)
{
	struct xtap_port_stats s;

	port_stats(p, &s);
	return s.drop[dir][reason].packets;
}

struct xtap_counter fx_acl_hits(const struct fx_port *p, uint32_t rule_id)
{
	struct xtap_counter sum;

	if (xtap_acl_hits_read(&fx_dp, p->spec.ifindex, rule_id, &sum))
		fail_msg("no hit counter for port %s rule %u", p->name, rule_id);
	return sum;
}

void fx_eth_ipv4(struct pkt *p, const struct fx_port *from, const uint8_t *dst_mac,
		 uint32_t src, uint32_t dst, uint8_t proto)
{
	pkt_init(p);
	pkt_eth(p, dst_mac, from->mac, ETH_P_IP);
	pkt_ipv4(p, src, dst, proto);
}

void fx_eth_ipv6(struct pkt *p, const struct fx_port *from, const uint8_t *dst_mac,
		 const struct in6_addr *src, const struct in6_addr *dst, uint8_t nexthdr)
{
	pkt_init(p);
	pkt_eth(p, dst_mac, from->mac, ETH_P_IPV6);
	pkt_ipv6(p, src, dst, nexthdr);
}

void fx_udp4(struct pkt *p, const struct fx_port *from, const struct fx_port *to,
	     uint16_t dport, size_t payload)
{
	fx_eth_ipv4(p, from, to->mac, from->ip4, to->ip4, IPPROTO_UDP);
	pkt_udp(p, 40000, dport, payload);
	pkt_finish(p);
}

void fx_expect_frame(struct test_tap *t, const uint8_t *want, size_t len)
{
	uint8_t buf[PKT_MAX];

	assert_int_equal(tap_read(t, buf, sizeof(buf), NULL), (int)len);
	assert_memory_equal(buf, want, len);
	assert_int_equal(fx_tap_frames(t), 0);
}

void fx_expect_silent(void)
{
	struct test_tap *all[] = { &PA->tap, &PB->tap, &PC->tap, &PD->tap, &fx_uplink };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		assert_int_equal(fx_tap_frames(all[i]), 0);
}

int fx_tap_frames(struct test_tap *t)
{
	return tap_drain(t);
}
