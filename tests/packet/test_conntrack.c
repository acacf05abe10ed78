// SPDX-License-Identifier: GPL-2.0
/*
 * Connection tracking (bpf/conntrack.h) as fixture tables: each case is a
 * policy and a sequence of frames between VM A and a remote host behind the
 * uplink, out (A's from-VM XDP) or in (A's to-VM tc egress), each with the
 * verdict it must get and the state its flow's entry must then be in. Steps
 * may move the programs' clock on (xtap_ct_conf.clock_offset_ns) first.
 */
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "conntrack.h"
#include "fixture.h"
#include "model.h"
#include "tests.h"

#define OUT 0        /* A -> remote, through A's "from VM" */
#define IN  1        /* remote -> A, through A's "to VM" (tc egress) */
#define PASS 0
#define S_ 0x02
#define A_ 0x10
#define F_ 0x01
#define R_ 0x04

#define REMOTE4 "203.0.113.5"
#define REMOTE6 "2001:db8:ff::5"
#define VM_PORT 40000
#define SVC_PORT 80

enum policy {
	POL_OUT,         /* from-vm: deny but one stateful allow-all rule; to-vm: deny */
	POL_OUT_DEFAULT, /* from-vm: default allow --stateful; to-vm: deny */
	POL_IN_SSH,      /* to-vm: deny but stateful tcp/22; from-vm: deny */
	POL_STATELESS,   /* from-vm: allow-all rule, not stateful; to-vm: deny */
	POL_OUT_TCP_UDP, /* from-vm: deny but stateful tcp (rule 1) and udp (rule 2); to-vm: deny */
};

enum kind {
	K_TCP,           /* flags given */
	K_UDP,
	K_ECHO_REQ,
	K_ECHO_REP,
	K_ERR,           /* ICMP error (err_type, else v4 unreachable, v6 packet too big) quoting the flow's frame */
	K_ERR_OTHER,     /* the same, quoting a flow that was never seen */
};

struct ct_step {
	int dir;
	enum kind kind;
	__u8 flags;       /* TCP */
	__u16 vm_port;    /* A's port (echo: identifier); 0 = VM_PORT */
	__u16 remote_port;/* 0 = SVC_PORT */
	int want;         /* PASS or the drop reason */
	int state;        /* the flow's entry afterwards (XTAP_CT_*; NONE = no live entry) */
	__u32 advance_s;  /* clock moved on by this much before the frame */
	__u8 err_type;    /* K_ERR's ICMP type; 0 = the default above */
};

struct ct_case {
	const char *name;
	enum policy pol;
	int family;
	__u8 proto;       /* of the flow whose state is checked */
	struct ct_step steps[12];
	int n;
};

#define STEPS(...) .steps = { __VA_ARGS__ }, \
	.n = sizeof((struct ct_step[]){ __VA_ARGS__ }) / sizeof(struct ct_step)

static void set_clock(__u64 offset_ns, __u32 port_max)
{
	struct xtap_ct_conf c = { .clock_offset_ns = offset_ns, .port_max = port_max };
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_CT_CONF), &zero, &c, 0), 0);
}

static __u64 clock_offset(void)
{
	struct xtap_ct_conf c;
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_CT_CONF), &zero, &c), 0);
	return c.clock_offset_ns;
}

static void advance(__u32 secs)
{
	struct xtap_ct_conf c;
	__u32 zero = 0;
	int fd = xtap_map_fd(&fx_dp, XTAP_MAP_CT_CONF);

	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &c), 0);
	c.clock_offset_ns += (__u64)secs * 1000000000ULL;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &c, 0), 0);
}

/* Every test here starts from the baseline with an empty table and the real clock. */
static int ct_reset(void **state)
{
	int r = fx_reset(state);

	xtap_ct_flush(&fx_dp, XTAP_CT_ALL_PORTS);
	set_clock(0, 0);
	return r;
}

#define TC(fn) cmocka_unit_test_setup(fn, ct_reset)

static void stateful_rule(struct xtap_acl_spec *acl, __u32 id, __u8 proto, __u16 pmin, __u16 pmax,
			  __u8 action)
{
	struct xtap_acl_rule_spec *r = &acl->rules[acl->n_rules++];

	memset(r, 0, sizeof(*r));
	r->rule_id = id;
	r->priority = 100;
	r->action = action;
	r->proto = proto;
	r->port_min = pmin;
	r->port_max = pmax;
}

static void apply_policy(struct fx_port *p, enum policy pol)
{
	struct xtap_acl_spec *out = &p->spec.acl[XTAP_DIR_FROM_VM], *in = &p->spec.acl[XTAP_DIR_TO_VM];

	out->n_rules = in->n_rules = 0;
	out->default_action = in->default_action = XTAP_ACL_DENY;
	switch (pol) {
	case POL_OUT:
		stateful_rule(out, 1, 0, 0, 0xFFFF, XTAP_ACL_ALLOW_STATEFUL);
		break;
	case POL_OUT_DEFAULT:
		out->default_action = XTAP_ACL_ALLOW_STATEFUL;
		break;
	case POL_IN_SSH:
		stateful_rule(in, 1, IPPROTO_TCP, 22, 22, XTAP_ACL_ALLOW_STATEFUL);
		break;
	case POL_STATELESS:
		stateful_rule(out, 1, 0, 0, 0xFFFF, XTAP_ACL_ALLOW);
		break;
	case POL_OUT_TCP_UDP:
		stateful_rule(out, 1, IPPROTO_TCP, 0, 0xFFFF, XTAP_ACL_ALLOW_STATEFUL);
		stateful_rule(out, 2, IPPROTO_UDP, 0, 0xFFFF, XTAP_ACL_ALLOW_STATEFUL);
		break;
	}
	fx_apply(p);
}

/* Ends of a frame of port p's flow in direction dir: MACs and addresses. */
static void frame_start(struct pkt *pk, const struct fx_port *p, int family, int dir, __u8 proto)
{
	struct in6_addr r6 = pkt_ip6(REMOTE6);

	pkt_init(pk);
	if (dir == OUT)
		pkt_eth(pk, fx_unknown_mac, p->mac, family == 4 ? ETH_P_IP : ETH_P_IPV6);
	else
		pkt_eth(pk, p->mac, fx_unknown_mac, family == 4 ? ETH_P_IP : ETH_P_IPV6);
	if (family == 4) {
		if (dir == OUT)
			pkt_ipv4(pk, p->ip4, pkt_ip4(REMOTE4), proto);
		else
			pkt_ipv4(pk, pkt_ip4(REMOTE4), p->ip4, proto);
	} else if (dir == OUT) {
		pkt_ipv6(pk, &p->ip6, &r6, proto);
	} else {
		pkt_ipv6(pk, &r6, &p->ip6, proto);
	}
}

static void echo(struct pkt *pk, int family, bool request, __u16 id)
{
	if (family == 4) {
		pkt_icmp_echo(pk, request ? 8 : 0, id, 1, 8);
		return;
	}
	pkt_icmp6(pk, request ? 128 : 129, 0, 4 + 8);
	pk->data[pk->l4_off + 4] = id >> 8;
	pk->data[pk->l4_off + 5] = id & 0xFF;
}

static void l4(struct pkt *pk, int family, int dir, __u8 proto, const struct ct_step *s,
	       __u16 vm_port, __u16 remote_port)
{
	__u16 sport = dir == OUT ? vm_port : remote_port, dport = dir == OUT ? remote_port : vm_port;

	switch (proto) {
	case IPPROTO_TCP:
		pkt_tcp(pk, sport, dport, s->flags, 8);
		break;
	case IPPROTO_UDP:
		pkt_udp(pk, sport, dport, 8);
		break;
	default:
		echo(pk, family, s->kind == K_ECHO_REQ, vm_port);
		break;
	}
}

static __u8 kind_proto(enum kind k, __u8 flow_proto, int family)
{
	switch (k) {
	case K_TCP:
		return IPPROTO_TCP;
	case K_UDP:
		return IPPROTO_UDP;
	case K_ECHO_REQ:
	case K_ECHO_REP:
		return family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	default:
		return flow_proto;
	}
}

/* The frame of a step; c gives the family and the flow an ICMP error quotes. */
static void build(struct pkt *pk, const struct ct_case *c, const struct ct_step *s)
{
	__u16 vm_port = s->vm_port ? s->vm_port : VM_PORT;
	__u16 remote_port = s->remote_port ? s->remote_port : SVC_PORT;
	__u8 icmp = c->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	struct ct_step quoted = { .kind = K_TCP, .flags = S_ };
	struct pkt inner;

	if (s->kind != K_ERR && s->kind != K_ERR_OTHER) {
		__u8 proto = kind_proto(s->kind, c->proto, c->family);

		frame_start(pk, PA, c->family, s->dir, proto);
		l4(pk, c->family, s->dir, proto, s, vm_port, remote_port);
		pkt_finish(pk);
		return;
	}
	/* The error quotes a frame that went the other way: IP header and 8 bytes of L4. */
	if (c->proto == IPPROTO_UDP)
		quoted.kind = K_UDP;
	if (s->kind == K_ERR_OTHER)
		remote_port = 9;
	frame_start(&inner, PA, c->family, !s->dir, c->proto);
	l4(&inner, c->family, !s->dir, c->proto, &quoted, vm_port, remote_port);
	pkt_finish(&inner);
	frame_start(pk, PA, c->family, s->dir, icmp);
	if (c->family == 4)
		pkt_icmp_echo(pk, s->err_type ?: 3, 0, 0, 0);   /* destination unreachable; 4 bytes unused */
	else
		pkt_icmp6(pk, s->err_type ?: 2, 0, 4);          /* packet too big; MTU 0 */
	pkt_append(pk, inner.data + inner.l3_off, inner.l4_off - inner.l3_off + 8);
	pkt_finish(pk);
}

static int run_step(const struct pkt *pk, int dir)
{
	struct fx_result r;

	if (dir == OUT) {
		fx_run_xdp(XTAP_PROG_FROM_VM_XDP, PA->tap.ifindex, pk, &r);
		return r.retval == XDP_DROP ? -1 : PASS;
	}
	fx_run_tc(XTAP_PROG_TO_VM_TC, PA->tap.ifindex, pk, &r);
	return r.retval == TC_ACT_SHOT ? -1 : PASS;
}

/* The state of port p's flow (its VM_PORT/SVC_PORT or echo VM_PORT), NONE when absent or expired. */
static int flow_state(const struct fx_port *p, int family, __u8 proto)
{
	struct xtap_ct_key k = { .port_id = p->spec.port_id, .family = family, .proto = proto,
				 .vm_port = VM_PORT };
	struct xtap_ct_entry e;

	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		k.remote_port = SVC_PORT;
	if (family == 4) {
		__u32 r = pkt_ip4(REMOTE4);

		memcpy(k.vm_addr, &p->ip4, 4);
		memcpy(k.remote_addr, &r, 4);
	} else {
		struct in6_addr r = pkt_ip6(REMOTE6);

		memcpy(k.vm_addr, &p->ip6, 16);
		memcpy(k.remote_addr, &r, 16);
	}
	if (bpf_map_lookup_elem(xtap_map_fd(&fx_dp, XTAP_MAP_CT), &k, &e))
		return XTAP_CT_NONE;
	return xtap_ct_now(&fx_dp) - e.last_seen < xtap_ct_timeout_ns(e.state) ? e.state : XTAP_CT_NONE;
}

static __u64 drops(int dir, int reason)
{
	return fx_drops(PA, dir == OUT ? XTAP_DIR_FROM_VM : XTAP_DIR_TO_VM, reason);
}

static void run_case(const struct ct_case *c)
{
	int i;

	apply_policy(PA, c->pol);
	for (i = 0; i < c->n; i++) {
		const struct ct_step *s = &c->steps[i];
		__u64 before = s->want ? drops(s->dir, s->want) : 0;
		struct pkt pk;
		int got;

		if (s->advance_s)
			advance(s->advance_s);
		build(&pk, c, s);
		got = run_step(&pk, s->dir);
		if (got != (s->want ? -1 : PASS) || (s->want && drops(s->dir, s->want) - before != 1))
			fail_msg("%s, step %d (%s): want %s, got %s", c->name, i + 1,
				 s->dir == OUT ? "out" : "in",
				 s->want ? xtap_drop_reason_name(s->want) : "pass",
				 got == PASS ? "pass" : "a drop of another reason");
		if (flow_state(PA, c->family, c->proto) != s->state)
			fail_msg("%s, step %d: flow state %s, want %s", c->name, i + 1,
				 xtap_ct_state_name(flow_state(PA, c->family, c->proto)),
				 xtap_ct_state_name(s->state));
	}
}

#define NONE XTAP_CT_NONE
#define SSENT XTAP_CT_SYN_SENT
#define SRECV XTAP_CT_SYN_RECV
#define EST XTAP_CT_ESTABLISHED
#define FINW XTAP_CT_FIN_WAIT
#define CLOSE XTAP_CT_CLOSE
#define UDP XTAP_CT_UDP
#define ECHO XTAP_CT_ICMP_ECHO
#define ACL XTAP_DROP_ACL
#define INVALID XTAP_DROP_CT_INVALID

/* Handshake, data and close of a flow the VM opens. */
#define HANDSHAKE \
	{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },            \
	{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },        \
	{ .dir = OUT, .kind = K_TCP, .flags = A_, .state = EST }

static const struct ct_case cases[] = {
	{ "tcp v4: handshake, data, FIN close", POL_OUT, 4, IPPROTO_TCP, STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_TCP, .flags = A_, .state = EST },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = EST },   /* SYN-ACK again: the opener's ACK was lost */
		{ .dir = OUT, .kind = K_TCP, .flags = F_ | A_, .state = FINW },
		{ .dir = IN, .kind = K_TCP, .flags = F_ | A_, .state = FINW },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .state = FINW },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = NONE, .advance_s = 31 },
	) },
	{ "tcp v6 under a stateful default", POL_OUT_DEFAULT, 6, IPPROTO_TCP, STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_TCP, .flags = A_, .state = EST },
		{ .dir = IN, .kind = K_TCP, .flags = R_ | A_, .state = CLOSE },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = CLOSE },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .want = INVALID, .state = CLOSE },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },     /* the port used again */
	) },
	{ "tcp refused: RST answers the SYN", POL_OUT, 4, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = R_ | A_, .state = CLOSE },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .want = INVALID, .state = CLOSE },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .want = INVALID, .state = NONE, .advance_s = 11 },
	) },
	{ "tcp: only a SYN-ACK or RST answers a SYN", POL_OUT, 4, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_, .want = INVALID, .state = SSENT },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .want = INVALID, .state = SSENT },
		{ .dir = OUT, .kind = K_TCP, .flags = S_ | A_, .want = INVALID, .state = SSENT },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
	) },
	{ "spoofed replies and mid-stream frames with no flow", POL_OUT, 4, IPPROTO_TCP, STEPS(
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .want = INVALID },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID },
		{ .dir = IN, .kind = K_TCP, .flags = R_, .want = INVALID },
		{ .dir = IN, .kind = K_TCP, .flags = S_, .want = ACL },
		{ .dir = IN, .kind = K_UDP, .want = ACL },
		{ .dir = IN, .kind = K_ECHO_REP, .want = INVALID },
		{ .dir = IN, .kind = K_ECHO_REQ, .want = ACL },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .want = INVALID },  /* allowed by a stateful rule, but no flow */
		{ .dir = IN, .kind = K_ERR, .want = INVALID },
	) },
	{ "tcp: SYN timeout", POL_OUT, 6, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .want = INVALID, .state = NONE, .advance_s = 31 },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV, .advance_s = 29 },
	) },
	{ "tcp: established timeout", POL_OUT, 4, IPPROTO_TCP, STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_TCP, .flags = A_, .state = EST, .advance_s = 3599 },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = NONE, .advance_s = 3601 },
	) },
	{ "tcp the remote opens (stateful to-vm rule)", POL_IN_SSH, 4, IPPROTO_TCP, STEPS(
		{ .dir = IN, .kind = K_TCP, .flags = S_, .vm_port = 22, .remote_port = 50000 },
		{ .dir = OUT, .kind = K_TCP, .flags = S_ | A_, .vm_port = 22, .remote_port = 50000 },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .vm_port = 22, .remote_port = 50000 },
		{ .dir = OUT, .kind = K_TCP, .flags = A_, .vm_port = 22, .remote_port = 50000 },
		/* Errors the VM sends about the flow's frames are related too. */
		{ .dir = OUT, .kind = K_ERR, .vm_port = 22, .remote_port = 50000 },
		{ .dir = OUT, .kind = K_ERR_OTHER, .vm_port = 22, .want = INVALID },
		{ .dir = IN, .kind = K_TCP, .flags = S_, .vm_port = 23, .remote_port = 50000, .want = ACL },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .want = ACL },         /* the VM may not open anything */
		{ .dir = OUT, .kind = K_TCP, .flags = S_ | A_, .vm_port = 22, .remote_port = 50001, .want = INVALID },
	) },
	{ "udp v4: replies, timeout", POL_OUT, 4, IPPROTO_UDP, STEPS(
		{ .dir = OUT, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .remote_port = 81, .want = ACL, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .vm_port = 40001, .want = ACL, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .state = UDP, .advance_s = 59 },
		{ .dir = IN, .kind = K_UDP, .want = ACL, .state = NONE, .advance_s = 61 },
		{ .dir = OUT, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .state = UDP },
	) },
	{ "udp v6", POL_OUT, 6, IPPROTO_UDP, STEPS(
		{ .dir = IN, .kind = K_UDP, .want = ACL },
		{ .dir = OUT, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_UDP, .state = UDP },
	) },
	{ "icmp echo v4", POL_OUT, 4, IPPROTO_ICMP, STEPS(
		{ .dir = OUT, .kind = K_ECHO_REQ, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REP, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REP, .vm_port = 7, .want = INVALID, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REQ, .want = INVALID, .state = ECHO },
		{ .dir = OUT, .kind = K_ECHO_REP, .want = INVALID, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REP, .want = INVALID, .state = NONE, .advance_s = 31 },
	) },
	{ "icmpv6 echo", POL_OUT, 6, IPPROTO_ICMPV6, STEPS(
		{ .dir = IN, .kind = K_ECHO_REP, .want = INVALID },
		{ .dir = OUT, .kind = K_ECHO_REQ, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REP, .state = ECHO },
		{ .dir = IN, .kind = K_ECHO_REP, .vm_port = 7, .want = INVALID, .state = ECHO },
	) },
	{ "related icmp v4: unreachable for a tcp flow", POL_OUT, 4, IPPROTO_TCP, STEPS(
		{ .dir = IN, .kind = K_ERR, .want = INVALID },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_ERR, .state = SSENT },
		{ .dir = IN, .kind = K_ERR_OTHER, .want = INVALID, .state = SSENT },
	) },
	{ "related icmp v4: unreachable for a udp flow", POL_OUT, 4, IPPROTO_UDP, STEPS(
		{ .dir = OUT, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_ERR, .state = UDP },
		{ .dir = IN, .kind = K_ERR_OTHER, .want = INVALID, .state = UDP },
	) },
	{ "related icmpv6: packet too big for a tcp flow", POL_OUT, 6, IPPROTO_TCP, STEPS(
		{ .dir = IN, .kind = K_ERR, .want = INVALID },
		HANDSHAKE,
		{ .dir = IN, .kind = K_ERR, .state = EST },
		{ .dir = IN, .kind = K_ERR_OTHER, .want = INVALID, .state = EST },
	) },
	{ "tcp: syn_recv, then FIN", POL_OUT, 4, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },   /* sent again */
		{ .dir = IN, .kind = K_TCP, .flags = A_, .state = SRECV },        /* the other end's data first */
		{ .dir = OUT, .kind = K_TCP, .flags = S_ | A_, .want = INVALID, .state = SRECV },
		{ .dir = OUT, .kind = K_TCP, .flags = F_ | A_, .state = FINW },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .want = INVALID, .state = FINW },
		{ .dir = IN, .kind = K_TCP, .flags = R_, .state = CLOSE },
		{ .dir = OUT, .kind = K_TCP, .flags = R_, .state = CLOSE },       /* close takes a RST */
	) },
	{ "tcp: syn_recv, then RST; syn_recv timeout", POL_OUT, 6, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },
		{ .dir = OUT, .kind = K_TCP, .flags = R_ | A_, .state = CLOSE },
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT, .advance_s = 11 },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = NONE, .advance_s = 31 },
	) },
	{ "tcp: the opener's SYN on an established flow starts over", POL_OUT, 4, IPPROTO_TCP, STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_TCP, .flags = S_, .want = INVALID, .state = EST },  /* only the opener starts over */
		{ .dir = OUT, .kind = K_TCP, .flags = S_, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = A_, .want = INVALID, .state = SSENT },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .state = SRECV },
	) },
	{ "related icmp v4: time exceeded, parameter problem; not for a closed flow", POL_OUT, 4, IPPROTO_TCP,
	  STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_ERR, .err_type = 11, .state = EST },
		{ .dir = IN, .kind = K_ERR, .err_type = 12, .state = EST },
		{ .dir = IN, .kind = K_ERR_OTHER, .err_type = 11, .want = INVALID, .state = EST },
		{ .dir = IN, .kind = K_TCP, .flags = R_, .state = CLOSE },
		{ .dir = IN, .kind = K_ERR, .err_type = 11, .want = INVALID, .state = NONE, .advance_s = 11 },
	) },
	{ "related icmpv6: unreachable, time exceeded, parameter problem for a udp flow", POL_OUT, 6,
	  IPPROTO_UDP, STEPS(
		{ .dir = OUT, .kind = K_UDP, .state = UDP },
		{ .dir = IN, .kind = K_ERR, .err_type = 1, .state = UDP },
		{ .dir = IN, .kind = K_ERR, .err_type = 3, .state = UDP },
		{ .dir = IN, .kind = K_ERR, .err_type = 4, .state = UDP },
		{ .dir = IN, .kind = K_ERR_OTHER, .err_type = 1, .want = INVALID, .state = UDP },
	) },
	{ "related icmp v4: an error about an echo", POL_OUT, 4, IPPROTO_ICMP, STEPS(
		{ .dir = IN, .kind = K_ERR, .want = INVALID },
		{ .dir = OUT, .kind = K_ECHO_REQ, .state = ECHO },
		{ .dir = IN, .kind = K_ERR, .err_type = 11, .state = ECHO },
		{ .dir = IN, .kind = K_ERR, .vm_port = 7, .want = INVALID, .state = ECHO },
	) },
	{ "related icmpv6: an error about an echo", POL_OUT, 6, IPPROTO_ICMPV6, STEPS(
		{ .dir = OUT, .kind = K_ECHO_REQ, .state = ECHO },
		{ .dir = IN, .kind = K_ERR, .err_type = 1, .state = ECHO },
		{ .dir = IN, .kind = K_ERR, .vm_port = 7, .want = INVALID, .state = ECHO },
	) },
	{ "a stateless allow tracks nothing", POL_STATELESS, 4, IPPROTO_TCP, STEPS(
		{ .dir = OUT, .kind = K_TCP, .flags = S_ },
		{ .dir = IN, .kind = K_TCP, .flags = S_ | A_, .want = XTAP_DROP_ACL },
		{ .dir = OUT, .kind = K_UDP },
		{ .dir = IN, .kind = K_UDP, .want = ACL },
	) },
};

static void test_ct_tables(void **s)
{
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ct_reset(NULL);
		run_case(&cases[i]);
	}
}

static const struct ct_case established = { "established", POL_OUT, 4, IPPROTO_TCP, STEPS(
	HANDSHAKE,
	{ .dir = IN, .kind = K_TCP, .flags = A_, .state = EST },
) };

/* Runs one step by hand (the policy as it is now): it gets `want`. */
static void step(const struct ct_case *c, const struct ct_step *st, int want)
{
	__u64 before = want ? drops(st->dir, want) : 0;
	struct pkt pk;

	build(&pk, c, st);
	assert_int_equal(run_step(&pk, st->dir), want ? -1 : PASS);
	if (want)
		assert_int_equal(drops(st->dir, want) - before, 1);
}

/*
 * Deleting the rule that allowed a flow cuts it both ways at once (the port
 * still tracks flows: its UDP rule is stateful); a stateless allow-all is
 * not the rule either; adding the stateful rule back lets the flow go on.
 */
static void test_ct_rule_removal_cuts_flow(void **s)
{
	static const struct ct_case est = { "tcp+udp", POL_OUT_TCP_UDP, 4, IPPROTO_TCP, STEPS(
		HANDSHAKE,
		{ .dir = IN, .kind = K_TCP, .flags = A_, .state = EST },
	) };
	static const struct ct_step in_ack = { .dir = IN, .kind = K_TCP, .flags = A_ }, out_ack = { .dir = OUT, .kind = K_TCP, .flags = A_ },
		in_err = { .dir = IN, .kind = K_ERR };
	struct xtap_acl_spec *out = &PA->spec.acl[XTAP_DIR_FROM_VM];

	(void)s;
	run_case(&est);
	out->rules[0] = out->rules[1];   /* rule 1 (tcp) deleted */
	out->n_rules = 1;
	fx_apply(PA);
	step(&est, &in_ack, ACL);
	step(&est, &out_ack, ACL);
	step(&est, &in_err, ACL);
	stateful_rule(out, 3, 0, 0, 0xFFFF, XTAP_ACL_ALLOW);
	fx_apply(PA);
	step(&est, &in_ack, ACL);
	step(&est, &out_ack, PASS);   /* the VM's frames are allowed, statelessly */
	out->n_rules = 1;
	stateful_rule(out, 4, IPPROTO_TCP, 0, 0xFFFF, XTAP_ACL_ALLOW_STATEFUL);
	fx_apply(PA);
	step(&est, &in_ack, PASS);
	assert_int_equal(flow_state(PA, 4, IPPROTO_TCP), EST);
}

/* A UDP flow to remote port `port` from A (or another port). */
static int udp_out(struct fx_port *p, __u16 port)
{
	struct pkt pk;
	struct fx_result r;

	frame_start(&pk, p, 4, OUT, IPPROTO_UDP);
	pkt_udp(&pk, VM_PORT, port, 8);
	pkt_finish(&pk);
	fx_run_xdp(XTAP_PROG_FROM_VM_XDP, p->tap.ifindex, &pk, &r);
	return r.retval == XDP_DROP ? -1 : PASS;
}

/*
 * The per-port cap: past it a new flow is dropped CT_FULL, flows already
 * tracked go on, another port is not affected; the sweeper frees the slots
 * of expired flows.
 */
static void test_ct_port_cap(void **s)
{
	struct xtap_ct_sweeper sw = {};
	__u64 full;
	int i;

	(void)s;
	set_clock(0, 4);
	apply_policy(PA, POL_OUT);
	apply_policy(PB, POL_OUT);
	run_case(&established);
	for (i = 0; i < 3; i++)
		assert_int_equal(udp_out(PA, 1000 + i), PASS);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 4);
	full = fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_CT_FULL);
	for (i = 0; i < 100; i++)
		assert_int_equal(udp_out(PA, 2000 + i), -1);
	assert_int_equal(fx_drops(PA, XTAP_DIR_FROM_VM, XTAP_DROP_CT_FULL) - full, 100);
	assert_int_equal(udp_out(PA, 1000), PASS);           /* tracked already */
	step(&established, &established.steps[3], PASS);   /* the established flow goes on */
	for (i = 0; i < 4; i++)
		assert_int_equal(udp_out(PB, 3000 + i), PASS);
	assert_int_equal(udp_out(PB, 4000), -1);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 4);

	/* The UDP flows expire; only the sweeper gives their slots back. */
	advance(61);
	assert_int_equal(udp_out(PA, 5000), -1);
	assert_int_equal(xtap_ct_sweep(&fx_dp, &sw, 1 << 20), 3 + 4);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 1);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PB->spec.port_id), 0);
	assert_int_equal(udp_out(PA, 5000), PASS);
	assert_int_equal(flow_state(PA, 4, IPPROTO_TCP), EST);
	/* Flushing a port empties it and its count, and no other port's. */
	assert_int_equal(udp_out(PB, 6000), PASS);
	assert_int_equal(xtap_ct_flush(&fx_dp, PA->spec.port_id), 2);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 0);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PB->spec.port_id), 1);
	assert_int_equal(flow_state(PA, 4, IPPROTO_TCP), NONE);
}

/* The sweeper reads at most its budget per call and goes on where it stopped. */
static void test_ct_sweep_bounded(void **s)
{
	struct xtap_ct_sweeper sw = {};
	int i, total = 0, calls = 0, r;

	(void)s;
	apply_policy(PA, POL_OUT);
	for (i = 0; i < 3000; i++)
		assert_int_equal(udp_out(PA, 1000 + i), PASS);
	assert_int_equal(xtap_ct_sweep(&fx_dp, &sw, 1 << 20), 0);   /* nothing expired */
	assert_int_equal(sw.visited, 3000);
	advance(61);
	sw = (struct xtap_ct_sweeper){};
	do {
		__u64 seen = sw.visited;

		r = xtap_ct_sweep(&fx_dp, &sw, 1000);
		assert_true(r >= 0);
		assert_true(sw.visited - seen < 1000 + 1024);
		total += r;
		calls++;
	} while (total < 3000 && calls < 100);
	assert_int_equal(total, 3000);
	assert_true(calls >= 2);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 0);
}

static void set_port_count(const struct fx_port *p, __u32 flows)
{
	struct xtap_ct_count c = { .flows = flows };
	__u32 id = p->spec.port_id;

	assert_int_equal(bpf_map_update_elem(xtap_map_fd(&fx_dp, XTAP_MAP_CT_COUNT), &id, &c, 0), 0);
}

/*
 * A count that drifted below the entries (an upgrade, a race with the
 * sweeper) never wraps when they are deleted: a wrapped count would hold the
 * port at its cap for good. An empty table zeroes counts left from a table
 * an upgrade replaced; a table with flows keeps them.
 */
static void test_ct_counts_never_wrap(void **s)
{
	struct xtap_ct_sweeper sw = {};

	(void)s;
	set_clock(0, 4);
	apply_policy(PA, POL_OUT);
	assert_int_equal(udp_out(PA, 1000), PASS);
	assert_int_equal(udp_out(PA, 1001), PASS);
	/* An expired entry taken over by its flow again is counted once. */
	advance(61);
	assert_int_equal(udp_out(PA, 1000), PASS);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 2);

	set_port_count(PA, 0);
	assert_int_equal(xtap_ct_sweep(&fx_dp, &sw, 1 << 20), 1);   /* 1001 expired */
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 0);
	assert_int_equal(xtap_ct_flush(&fx_dp, PA->spec.port_id), 1);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PA->spec.port_id), 0);
	assert_int_equal(udp_out(PA, 2000), PASS);                  /* not at the cap */

	set_port_count(PB, 3);
	assert_int_equal(xtap_ct_counts_check(&fx_dp), 0);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PB->spec.port_id), 3);
	assert_int_equal(xtap_ct_flush(&fx_dp, XTAP_CT_ALL_PORTS), 1);
	assert_int_equal(xtap_ct_counts_check(&fx_dp), 0);
	assert_int_equal(xtap_ct_port_count(&fx_dp, PB->spec.port_id), 0);
}

/* Ports without a stateful rule or default never touch the table. */
static void test_ct_off_without_stateful_rules(void **s)
{
	struct xtap_ct_key next;

	(void)s;
	apply_policy(PA, POL_STATELESS);
	assert_int_equal(udp_out(PA, 53), PASS);
	assert_int_equal(udp_out(PB, 53), PASS);
	assert_int_not_equal(bpf_map_get_next_key(xtap_map_fd(&fx_dp, XTAP_MAP_CT), NULL, &next), 0);
	assert_int_equal(clock_offset(), 0);
}

XTAP_TEST_LIST(conntrack,
	TC(test_ct_tables),
	TC(test_ct_rule_removal_cuts_flow),
	TC(test_ct_port_cap),
	TC(test_ct_sweep_bounded),
	TC(test_ct_counts_never_wrap),
	TC(test_ct_off_without_stateful_rules),
);
