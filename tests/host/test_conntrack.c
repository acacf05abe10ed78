// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2, stateful security groups with real kernel TCP and UDP. Two VMs,
 * vmA and vmC, are kernel stacks in namespaces ctA and ctC on plain taps
 * relayed (frames and virtio-net headers) to their xtap ports, as QEMU
 * relays a guest; the outside is this sandbox's own stack on out0, the
 * uplink's veth peer. Both VMs: to-vm default deny, from-vm stateful allow
 * rules for TCP (rule 1) and UDP (rule 2). Every wait polls with a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "sandbox.h"
#include "xtap_abi.h"

#define OUT_IP "192.0.2.100"
#define VNET_LEN 12
#define WAIT_MS 5000   /* waits that end as soon as the event comes: wide for a loaded machine */

struct vm_ns {
	const char *ns, *tap, *port, *mac, *ip;
	int ns_fd, guest_fd;
	struct vm port_side;
	pthread_t relay;
};

static struct vm_ns A = { .ns = "ctA", .tap = "a0", .port = "vmA", .mac = "02:00:00:00:0c:01",
			  .ip = "192.0.2.1" },
		    C = { .ns = "ctC", .tap = "c0", .port = "vmC", .mac = "02:00:00:00:0c:03",
			  .ip = "192.0.2.3" };
static volatile int stop_relays;

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* Copies frames between the VM's own tap and its xtap port, as a VMM does. */
static void *relay(void *arg)
{
	struct vm_ns *v = arg;
	struct pollfd pf[2] = { { v->guest_fd, POLLIN, 0 }, { v->port_side.fd, POLLIN, 0 } };
	static __thread char buf[65536 + VNET_LEN];
	ssize_t n;

	while (!stop_relays) {
		if (poll(pf, 2, 100) <= 0)
			continue;
		while (pf[0].revents & POLLIN && (n = read(v->guest_fd, buf, sizeof(buf))) > VNET_LEN)
			if (write(v->port_side.fd, buf, n) != n)
				break;
		while (pf[1].revents & POLLIN && (n = read(v->port_side.fd, buf, sizeof(buf))) > VNET_LEN)
			if (write(v->guest_fd, buf, n) != n)
				break;
	}
	return NULL;
}

static int vm_ns_setup(struct vm_ns *v)
{
	struct test_tap t;
	char path[64];

	if (sh("ip netns add %s && ip netns exec %s sh -c 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
	       "net.ipv6.conf.default.disable_ipv6=1 && ip link set lo up'", v->ns, v->ns))
		return -1;
	if (tap_open(&t, v->tap, 1500))
		return -1;
	v->guest_fd = t.fd;
	if (sh("ip link set %s address %s netns %s", v->tap, v->mac, v->ns) ||
	    sh("ip -n %s link set %s up && ip -n %s addr add %s/24 dev %s", v->ns, v->tap, v->ns, v->ip, v->tap))
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "port add %s --segment 1 --mac %s --addr %s/32", v->port, v->mac, v->ip) ||
	    ctl(ctl_out, sizeof(ctl_out), "acl default %s to-vm deny", v->port) ||
	    ctl(ctl_out, sizeof(ctl_out), "acl add %s from-vm allow --proto tcp --stateful", v->port) ||
	    ctl(ctl_out, sizeof(ctl_out), "acl add %s from-vm allow --proto udp --stateful", v->port)) {
		fprintf(stderr, "%s: %s\n", v->port, ctl_out);
		return -1;
	}
	v->port_side.name = v->port;
	if (vm_open(&v->port_side))
		return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", v->ns);
	v->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (v->ns_fd < 0)
		return -1;
	return pthread_create(&v->relay, NULL, relay, v);
}

/* A socket in the namespace of ns_fd (-1: the outside, this process's own). */
static int socket_in(int ns_fd, int type)
{
	int fd = env_socket_in(ns_fd, type);

	if (fd < 0)
		fail_msg("socket in a namespace: %s", strerror(errno));
	return fd;
}

static struct sockaddr_in sa_of(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

static int listener(int ns_fd, const char *ip, int port)
{
	struct sockaddr_in sa = sa_of(ip, port);
	int fd = socket_in(ns_fd, SOCK_STREAM), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* Connects within ms, or returns -1. */
static int connect_within(int ns_fd, const char *ip, int port, int ms)
{
	struct sockaddr_in sa = sa_of(ip, port);
	int fd = socket_in(ns_fd, SOCK_STREAM), err = 0;
	struct pollfd pf = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(err);

	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)
		goto fail;
	if (poll(&pf, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		goto fail;
	fcntl(fd, F_SETFL, 0);
	return fd;
fail:
	close(fd);
	return -1;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd pf = { lfd, POLLIN, 0 };

	return poll(&pf, 1, ms) == 1 ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
}

/* Sends a byte on `from`; whether `to` receives it within ms. */
static int byte_passes(int from, int to, int ms)
{
	struct pollfd pf = { to, POLLIN, 0 };
	char c = 'x';

	if (send(from, &c, 1, MSG_NOSIGNAL) != 1)
		return 0;
	return poll(&pf, 1, ms) == 1 && recv(to, &c, 1, 0) == 1;
}

/* Closes a connection without waiting for anything (RST). */
static void drop_conn(int fd)
{
	struct linger lg = { 1, 0 };

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
}

struct conn {
	int lfd, vm, out;   /* listener (outside), the VM's end, the outside's end */
};

/* A TCP connection from VM v to the outside's port. */
static struct conn vm_connects(struct vm_ns *v, int port)
{
	struct conn c = { .lfd = listener(-1, OUT_IP, port) };

	c.vm = connect_within(v->ns_fd, OUT_IP, port, WAIT_MS);
	assert_true(c.vm >= 0);
	c.out = accept_within(c.lfd, WAIT_MS);
	assert_true(c.out >= 0);
	return c;
}

static void conn_close(struct conn *c)
{
	drop_conn(c->vm);
	drop_conn(c->out);
	close(c->lfd);
}

static int64_t tracked(const char *port)
{
	json_object *o = ctl_json("stats %s", port);
	int64_t n = json_object_get_int64(json_object_object_get(json_object_object_get(o, port),
								 "tracked_flows"));

	json_object_put(o);
	return n;
}

/* Whether `conntrack list PORT` holds a TCP flow to the outside's port in state. */
static int has_flow(const char *port, int remote_port, const char *state)
{
	json_object *l = ctl_json("conntrack list %s", port);
	size_t i;
	int found = 0;

	for (i = 0; i < json_object_array_length(l); i++) {
		json_object *f = json_object_array_get_idx(l, i);

		if (!strcmp(json_object_get_string(json_object_object_get(f, "proto")), "tcp") &&
		    json_object_get_int(json_object_object_get(f, "remote_port")) == remote_port &&
		    !strcmp(json_object_get_string(json_object_object_get(f, "state")), state) &&
		    !strcmp(json_object_get_string(json_object_object_get(f, "opened")), "from-vm"))
			found = 1;
	}
	json_object_put(l);
	return found;
}

static void test_vm_fetches_with_to_vm_default_deny(void **s)
{
	struct sockaddr_in sa = sa_of(OUT_IP, 5353), from;
	int u_out = socket_in(-1, SOCK_DGRAM), u_vm = socket_in(A.ns_fd, SOCK_DGRAM);
	struct pollfd pf = { u_out, POLLIN, 0 };
	socklen_t fl = sizeof(from);
	struct conn c;
	char buf[8];

	(void)s;
	c = vm_connects(&A, 8080);
	assert_true(byte_passes(c.vm, c.out, WAIT_MS));
	assert_true(byte_passes(c.out, c.vm, WAIT_MS));
	assert_true(has_flow("vmA", 8080, "established"));
	/* The tables people read: the flow, and the port's tracked count. */
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "conntrack list vmA"), 0);
	assert_non_null(strstr(ctl_out, "192.0.2.100:8080"));
	assert_non_null(strstr(ctl_out, "established"));
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "stats vmA"), 0);
	assert_non_null(strstr(ctl_out, "FLOWS"));
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "acl list vmA"), 0);
	assert_non_null(strstr(ctl_out, "allow,stateful"));

	/* UDP: a query out, its answer back in. */
	assert_int_equal(bind(u_out, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(sendto(u_vm, "q", 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
	assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
	assert_int_equal(recvfrom(u_out, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 1);
	assert_int_equal(sendto(u_out, "a", 1, 0, (struct sockaddr *)&from, fl), 1);
	pf.fd = u_vm;
	assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
	assert_int_equal(recv(u_vm, buf, sizeof(buf), 0), 1);
	assert_true(tracked("vmA") >= 2);
	close(u_out);
	close(u_vm);
	conn_close(&c);
}

static void test_outside_cannot_connect(void **s)
{
	int64_t acl = stat_of("vmA", "to-vm", "drops", "acl");
	int lfd = listener(A.ns_fd, A.ip, 2222), fd;

	(void)s;
	fd = connect_within(-1, A.ip, 2222, 1500);
	assert_int_equal(fd, -1);
	assert_true(stat_of("vmA", "to-vm", "drops", "acl") > acl);
	close(lfd);
}

static void test_rule_removal_cuts_established_flow(void **s)
{
	struct conn c;
	json_object *o;

	(void)s;
	c = vm_connects(&A, 8081);
	assert_true(byte_passes(c.out, c.vm, WAIT_MS));
	must_ctl("acl del vmA from-vm 1");
	/*
	 * Nothing comes in for the flow any more. (The VM's own frames still go
	 * out: from-vm's default is allow, statelessly; never acknowledged.)
	 */
	assert_false(byte_passes(c.out, c.vm, 1000));
	assert_false(byte_passes(c.out, c.vm, 1000));
	/* The rule back (a new id): the flow's entry is still there and the flow goes on. */
	o = ctl_json("acl add vmA from-vm allow --proto tcp --stateful");
	json_object_put(o);
	assert_true(byte_passes(c.out, c.vm, 10000));
	conn_close(&c);
}

/* vmA opens UDP flows past its cap; vmC's established TCP flow is untouched. */
static void test_flood_leaves_neighbour_flow(void **s)
{
	struct xtap_ct_conf conf = { .port_max = 100 };
	int fd = bpf_obj_get(ENV_PINS "/xtap_ct_conf"), u = socket_in(A.ns_fd, SOCK_DGRAM), i;
	__u32 zero = 0;
	struct conn c;

	(void)s;
	c = vm_connects(&C, 8082);
	assert_true(fd >= 0);
	must_ctl("conntrack flush vmA");
	assert_int_equal(bpf_map_update_elem(fd, &zero, &conf, 0), 0);
	/*
	 * New flows in rounds of 200 until xtap has refused 2000 of them: a
	 * starved relay lets the VM's tap queue drop some of a round, so the
	 * count of flows xtap saw is not known in advance (at most 50 000).
	 */
	for (i = 0; i < 50000; i++) {
		struct sockaddr_in sa = sa_of(OUT_IP, 10000 + i);

		sendto(u, "f", 1, 0, (struct sockaddr *)&sa, sizeof(sa));
		if (i % 200 == 199) {
			usleep(20000);
			if (stat_of("vmA", "from-vm", "drops", "ct_full") >= 2000)
				break;
		}
	}
	assert_true(stat_of("vmA", "from-vm", "drops", "ct_full") >= 2000);
	assert_int_equal(tracked("vmA"), 100);
	assert_true(byte_passes(c.out, c.vm, WAIT_MS));
	assert_true(byte_passes(c.vm, c.out, WAIT_MS));
	assert_true(has_flow("vmC", 8082, "established"));
	conf.port_max = 0;
	assert_int_equal(bpf_map_update_elem(fd, &zero, &conf, 0), 0);
	must_ctl("conntrack flush vmA");
	assert_int_equal(tracked("vmA"), 0);
	close(fd);
	close(u);
	conn_close(&c);
}

static void test_restart_keeps_flows(void **s)
{
	struct conn c;

	(void)s;
	c = vm_connects(&A, 8083);
	assert_true(byte_passes(c.out, c.vm, WAIT_MS));
	env_agent_kill();
	assert_true(env_agent_start() > 0);
	assert_true(has_flow("vmA", 8083, "established"));
	assert_true(byte_passes(c.out, c.vm, WAIT_MS));
	assert_true(byte_passes(c.vm, c.out, WAIT_MS));
	conn_close(&c);
}

/* A flushed flow's next reply matches nothing: dropped ct_invalid. */
static void test_flush_forgets_flows(void **s)
{
	int64_t inv = stat_of("vmA", "to-vm", "drops", "ct_invalid");
	struct conn c;

	(void)s;
	c = vm_connects(&A, 8084);
	must_ctl("conntrack flush vmA");
	assert_int_equal(tracked("vmA"), 0);
	assert_false(byte_passes(c.out, c.vm, 1000));
	assert_true(stat_of("vmA", "to-vm", "drops", "ct_invalid") > inv);
	conn_close(&c);
}

static int group_setup(void **state)
{
	(void)state;
	if (env_setup())
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "segment add 1 --uplink uplink0") ||
	    sh("ip addr add " OUT_IP "/24 dev out0 && ethtool -K out0 tx off tso off gso off >/dev/null 2>&1"))
		return fprintf(stderr, "setup: %s\n", ctl_out), -1;
	if (vm_ns_setup(&A) || vm_ns_setup(&C))
		return fprintf(stderr, "setup: VM namespaces: %s\n", strerror(errno)), -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_relays = 1;
	pthread_join(A.relay, NULL);
	pthread_join(C.relay, NULL);
	sh("ip netns del ctA; ip netns del ctC");
	env_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_fetches_with_to_vm_default_deny),
		cmocka_unit_test(test_outside_cannot_connect),
		cmocka_unit_test(test_rule_removal_cuts_established_flow),
		cmocka_unit_test(test_flood_leaves_neighbour_flow),
		cmocka_unit_test(test_restart_keeps_flows),
		cmocka_unit_test(test_flush_forgets_flows),
	};

	return cmocka_run_group_tests_name("conntrack", tests, group_setup, group_teardown);
}
