// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: xtapctl monitor and capture against the real datapath. Frames are
 * written by VMs played through their taps; the listener runs in the
 * background as an operator would run it; its pcapng output is read by two
 * independent readers (tshark and scapy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "pktbuild.h"
#include "xtap_abi.h"

#define OUT_FILE "/run/xtap-test/observe.out"
#define CAP_FILE "/run/xtap-test/observe.pcapng"
/* scapy of python3-scapy: /usr/bin/python3, not whatever python3 comes first in PATH */
#define PYTHON "/usr/bin/python3"

static struct vm vm_a = { .name = "vmA" }, vm_b = { .name = "vmB" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int conf_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = bpf_obj_get(ENV_PINS "/xtap_obs_conf");
	return fd;
}

static struct xtap_obs_conf conf_now(void)
{
	struct xtap_obs_conf c = { 0 };
	__u32 zero = 0;

	assert_int_equal(bpf_map_lookup_elem(conf_fd(), &zero, &c), 0);
	return c;
}

static struct xtap_obs_cpu cpu_sum(void)
{
	int fd = bpf_obj_get(ENV_PINS "/xtap_obs_cpu"), ncpu = libbpf_num_possible_cpus(), i;
	struct xtap_obs_cpu *v = calloc(ncpu, sizeof(*v)), s = { 0 };
	__u32 zero = 0;

	assert_true(fd >= 0 && v);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, v), 0);
	for (i = 0; i < ncpu; i++) {
		s.seen += v[i].seen;
		s.sent += v[i].sent;
		s.lost_rate += v[i].lost_rate;
		s.lost_ring += v[i].lost_ring;
	}
	free(v);
	close(fd);
	return s;
}

/* xtapctl ARGS in the background, stdout+stderr into OUT_FILE; returns when it holds the events. */
static pid_t listener_start(const char *fmt, ...)
{
	char cmd[512], bin[256], *argv[32], *save, *tok;
	const char *build = getenv("XTAP_BUILD");
	int argc = 0, fd;
	va_list ap;
	pid_t pid;
	double end;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(bin, sizeof(bin), "%s/xtapctl", build ? build : "build");
	argv[argc++] = bin;
	for (tok = strtok_r(cmd, " ", &save); tok && argc < 31; tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(OUT_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, argv);
		_exit(127);
	}
	for (end = now_s() + 10; now_s() < end; usleep(10000))
		if (conf_now().owner_pid == (__u32)pid)
			return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("xtapctl %s did not take the events within 10 s", fmt);
	return -1;
}

/* Its exit code once it ended by itself within timeout_s (SIGKILLed and failed otherwise). */
static int listener_wait(pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;
	int status;

	while (now_s() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("xtapctl (pid %d) still running after %.0f s", pid, timeout_s);
	return -1;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

/* A shell command's output (stdout and stderr). */
static char *run_out(const char *fmt, ...)
{
	static char buf[1 << 16];
	char cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *p;

	strcpy(cmd, "{ ");
	va_start(ap, fmt);
	vsnprintf(cmd + 2, sizeof(cmd) - 16, fmt, ap);
	va_end(ap);
	strcat(cmd, "\n} 2>&1");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static void udp4(struct pkt *p, const struct vm *from, const struct vm *to, uint32_t src, uint16_t dport,
		 size_t payload)
{
	pkt_init(p);
	pkt_eth(p, to->mac, from->mac, ETH_P_IP);
	pkt_ipv4(p, src, to->ip4, IPPROTO_UDP);
	pkt_udp(p, 40000, dport, payload);
	pkt_finish(p);
}

static int group_setup(void **state)
{
	(void)state;
	if (env_setup())
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "segment add 1")) {
		fprintf(stderr, "segment add: %s\n", ctl_out);
		return -1;
	}
	return ctl_vm_add(&vm_a, 1, "02:00:00:00:01:0a", "192.0.2.10") ||
	       ctl_vm_add(&vm_b, 1, "02:00:00:00:01:0b", "192.0.2.11");
}

static int group_teardown(void **state)
{
	(void)state;
	vm_close(&vm_a);
	vm_close(&vm_b);
	env_teardown();
	return 0;
}

/* Each test starts with the events off and the ports' queues empty. */
static int each_setup(void **state)
{
	(void)state;
	vm_count(&vm_a, 20);
	vm_count(&vm_b, 20);
	return conf_now().lease_until_ns ? -1 : 0;
}

/* monitor (drops only, the default) shows each drop with its reason and headers, and nothing else. */
static void test_monitor_shows_drops_with_reason(void **s)
{
	struct pkt good, spoof, denied;
	char *out;
	pid_t pid;

	(void)s;
	must_ctl("acl add vmA from-vm deny --proto udp --ports 6000");
	udp4(&good, &vm_a, &vm_b, vm_a.ip4, 5000, 32);
	udp4(&spoof, &vm_a, &vm_b, pkt_ip4("192.0.2.99"), 5000, 32);
	udp4(&denied, &vm_a, &vm_b, vm_a.ip4, 6000, 32);
	pid = listener_start("monitor vmA --count 2");
	assert_int_equal(vm_write(&vm_a, NULL, good.data, good.len), 0);
	assert_int_equal(vm_write(&vm_a, NULL, spoof.data, spoof.len), 0);
	assert_int_equal(vm_write(&vm_a, NULL, denied.data, denied.len), 0);
	assert_int_equal(listener_wait(pid, 10), 0);
	out = slurp(OUT_FILE);
	assert_non_null(strstr(out, "vmA from-vm drop spoof_ipv4 02:00:00:00:01:0a > 02:00:00:00:01:0b "
				    "ipv4 192.0.2.99:40000 > 192.0.2.11:5000 udp len 74"));
	assert_non_null(strstr(out, "vmA from-vm drop acl 02:00:00:00:01:0a > 02:00:00:00:01:0b "
				    "ipv4 192.0.2.10:40000 > 192.0.2.11:6000 udp len 74"));
	/* the frame that passed is no drop */
	assert_null(strstr(out, "192.0.2.10:40000 > 192.0.2.11:5000"));
	assert_non_null(strstr(out, "monitor: 2 events; lost: 0 over the rate limit, 0 ring full"));
	/* it let go of the events when it ended */
	assert_int_equal(conf_now().lease_until_ns, 0);
	assert_int_equal(vm_count(&vm_b, 200), 1);
}

/* monitor --all -j: one JSON object a line, both directions, with the hook that saw the frame. */
static void test_monitor_all_json_both_directions(void **s)
{
	json_object *ev[2];
	struct pkt p;
	char *out, *line, *save;
	int n = 0;
	pid_t pid;

	(void)s;
	udp4(&p, &vm_a, &vm_b, vm_a.ip4, 5000, 100);
	pid = listener_start("-j monitor --all --count 2");
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(listener_wait(pid, 10), 0);
	out = slurp(OUT_FILE);
	for (line = strtok_r(out, "\n", &save); line && n < 2; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '{')
			ev[n++] = json_tokener_parse(line);
	assert_int_equal(n, 2);
	/* the VM's frame as it left (XDP on vmA), then as vmB got it (devmap egress: redirected by XDP) */
	assert_string_equal(json_object_get_string(json_object_object_get(ev[0], "port")), "vmA");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[0], "direction")), "from-vm");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[0], "verdict")), "to_port");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[0], "hook")), "xdp");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[1], "port")), "vmB");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[1], "direction")), "to-vm");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[1], "verdict")), "deliver");
	assert_string_equal(json_object_get_string(json_object_object_get(ev[1], "hook")), "devmap");
	for (n = 0; n < 2; n++) {
		assert_int_equal(json_object_get_int(json_object_object_get(ev[n], "len")), (int)p.len);
		assert_string_equal(json_object_get_string(json_object_object_get(ev[n], "src")), "192.0.2.10");
		assert_int_equal(json_object_get_int(json_object_object_get(ev[n], "dport")), 5000);
		assert_null(json_object_object_get(ev[n], "reason"));
		json_object_put(ev[n]);
	}
}

/*
 * capture: pcapng that tshark and scapy both read back to the bytes sent,
 * interface and direction flag per direction, the verdict in the comment,
 * cut at the snap length with the original length kept.
 */
static void test_capture_pcapng_read_by_tshark_and_scapy(void **s)
{
	struct pkt ab, ba, spoof;
	char *out, hex[4096];
	size_t i;
	pid_t pid;

	(void)s;
	udp4(&ab, &vm_a, &vm_b, vm_a.ip4, 5000, 100);
	udp4(&ba, &vm_b, &vm_a, vm_b.ip4, 5001, 20);
	udp4(&spoof, &vm_a, &vm_b, pkt_ip4("192.0.2.99"), 5002, 20);
	pid = listener_start("capture vmA -w " CAP_FILE " --count 3 --snaplen 100");
	assert_int_equal(vm_write(&vm_a, NULL, ab.data, ab.len), 0);
	assert_int_equal(vm_write(&vm_b, NULL, ba.data, ba.len), 0);
	assert_int_equal(vm_write(&vm_a, NULL, spoof.data, spoof.len), 0);
	assert_int_equal(listener_wait(pid, 10), 0);

	out = run_out("tshark -r " CAP_FILE " -T fields -E separator='|' -e frame.interface_name "
		      "-e frame.packet_flags_direction -e frame.len -e frame.cap_len -e udp.dstport -e frame.comment");
	assert_non_null(strstr(out, "vmA from-vm|0x00000001|142|100|5000|verdict=to_port hook=xdp cpu="));
	assert_non_null(strstr(out, "vmA to-vm|0x00000002|62|62|5001|verdict=deliver hook=devmap cpu="));
	assert_non_null(strstr(out, "vmA from-vm|0x00000001|62|62|5002|verdict=drop reason=spoof_ipv4 hook=xdp cpu="));

	/* scapy: the bytes, the first 100 of the long frame */
	for (i = 0; i < 100; i++)
		sprintf(hex + 2 * i, "%02x", ab.data[i]);
	/* scapy 2.5.0 warns about comments without a newline (it cuts them there): quiet, not checked here */
	out = run_out(PYTHON " -c 'import logging\n"
		      "logging.getLogger(\"scapy\").setLevel(logging.ERROR)\n"
		      "from scapy.utils import PcapNgReader\n"
		      "ps = list(PcapNgReader(\"" CAP_FILE "\"))\n"
		      "print(len(ps))\n"
		      "for p in ps: print(bytes(p).hex(), p.wirelen)'");
	assert_non_null(strstr(out, "3\n"));
	assert_non_null(strstr(out, hex));
	for (i = 0; i < ba.len; i++)
		sprintf(hex + 2 * i, "%02x", ba.data[i]);
	assert_non_null(strstr(out, hex));
	assert_non_null(strstr(out, " 142\n"));
}

/* A second listener is refused while one runs; --force takes the events over, and the first one says so. */
static void test_one_listener_at_a_time(void **s)
{
	pid_t first, second;
	char *out;

	(void)s;
	first = listener_start("monitor");
	out = run_out("%s/xtapctl monitor", getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build");
	assert_non_null(strstr(out, "takes the events already: stop it, or give --force"));
	assert_int_equal(conf_now().owner_pid, (__u32)first);
	/* listener_start writes OUT_FILE anew: the first one's words are in its old inode */
	second = listener_start("monitor --force");
	assert_int_equal(listener_wait(first, 5), 1);
	kill(second, SIGINT);
	assert_int_equal(listener_wait(second, 5), 0);
	assert_int_equal(conf_now().lease_until_ns, 0);
}

/* A listener killed outright cannot turn the events off: its lease runs out and the programs stop. */
static void test_killed_listener_lease_runs_out(void **s)
{
	struct xtap_obs_cpu before, after;
	struct pkt spoof;
	pid_t pid;
	int i;

	(void)s;
	udp4(&spoof, &vm_a, &vm_b, pkt_ip4("192.0.2.99"), 5000, 32);
	pid = listener_start("monitor");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* the lease is at most XTAP_OBS_LEASE_NS ahead: wait it out by the same clock as the programs */
	for (i = 0; i < 600 && conf_now().lease_until_ns > (__u64)(now_s() * 1e9); i++)
		usleep(10000);
	assert_true(conf_now().lease_until_ns <= (__u64)(now_s() * 1e9));
	before = cpu_sum();
	for (i = 0; i < 20; i++)
		assert_int_equal(vm_write(&vm_a, NULL, spoof.data, spoof.len), 0);
	after = cpu_sum();
	assert_int_equal(after.sent, before.sent);
	assert_int_equal(after.lost_ring, before.lost_ring);
	/* the first frame after the lease turned the events off: one lookup and a branch again */
	assert_int_equal(conf_now().lease_until_ns, 0);
	/* the next listener starts clean and leaves the events off */
	pid = listener_start("monitor");
	kill(pid, SIGTERM);
	assert_int_equal(listener_wait(pid, 5), 0);
	assert_int_equal(conf_now().lease_until_ns, 0);
}

/* A storm over the event rate: the datapath sends at most rate + burst, and counts every other one lost. */
static void test_storm_is_limited_and_counted(void **s)
{
	struct xtap_obs_cpu before, after;
	unsigned long long events, lost_rate, lost_ring;
	struct pkt spoof;
	char *out;
	pid_t pid;
	int i;

	(void)s;
	udp4(&spoof, &vm_a, &vm_b, pkt_ip4("192.0.2.99"), 5000, 32);
	before = cpu_sum();
	pid = listener_start("monitor vmA --rate 10");
	for (i = 0; i < 500; i++)
		assert_int_equal(vm_write(&vm_a, NULL, spoof.data, spoof.len), 0);
	after = cpu_sum();
	kill(pid, SIGINT);
	assert_int_equal(listener_wait(pid, 5), 0);
	out = strstr(slurp(OUT_FILE), "monitor: ");
	assert_non_null(out);
	assert_int_equal(sscanf(out, "monitor: %llu events; lost: %llu over the rate limit, %llu ring full", &events,
				&lost_rate, &lost_ring), 3);
	/* every frame is an event or counted lost */
	assert_int_equal(events + lost_rate + lost_ring, 500);
	assert_int_equal(after.sent - before.sent, events);
	/* 10/s with a burst of one second's worth, per CPU, while the writes take a moment (loaded machine) */
	assert_true(events >= 10);
	assert_true(events <= 10 * 2 * (unsigned long long)libbpf_num_possible_cpus() + 10);
}

static void test_user_errors(void **s)
{
	const char *b = getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build";
	char *out;

	(void)s;
	out = run_out("%s/xtapctl monitor nosuchport; echo rc=$?", b);
	assert_non_null(strstr(out, "monitor: no port nosuchport here (xtapctl port list shows the ports)\nrc=1"));
	out = run_out("%s/xtapctl capture vmA --direction sideways -w /dev/null; echo rc=$?", b);
	assert_non_null(strstr(out, "--direction is from-vm, to-vm or both"));
	assert_non_null(strstr(out, "rc=2"));
	out = run_out("%s/xtapctl capture vmA --snaplen 99999 -w /dev/null; echo rc=$?", b);
	assert_non_null(strstr(out, "--snaplen takes a number from 14 to 1536"));
	out = run_out("%s/xtapctl capture vmA -w /nonexistent/dir/x.pcapng; echo rc=$?", b);
	assert_non_null(strstr(out, "cannot write /nonexistent/dir/x.pcapng"));
	assert_non_null(strstr(out, "rc=1"));
	out = run_out("%s/xtapctl --pin-dir /run/xtap-test monitor; echo rc=$?", b);
	assert_non_null(strstr(out, "cannot open /run/xtap-test/xtap_obs_conf"));
	assert_non_null(strstr(out, "rc=3"));
	/* none of them turned the events on */
	assert_int_equal(conf_now().lease_until_ns, 0);
}


/* ---- trace ---- */

/* Everything a frame may change, as bytes: both ports' counters and limiter state, ACL hits, event counters. */
static size_t state_snapshot(uint8_t **out)
{
	static const char *const ports[] = { "vmA", "vmB" };
	int ncpu = libbpf_num_possible_cpus(), fd;
	size_t cap = 1 << 22, n = 0, i;
	uint8_t *b = calloc(1, cap);
	__u32 k, zero = 0;

	assert_non_null(b);
	for (i = 0; i < 2; i++) {
		unsigned int ifindex = if_nametoindex(ports[i]);
		struct xtap_port port;

		fd = bpf_obj_get(ENV_PINS "/xtap_ports");
		assert_int_equal(bpf_map_lookup_elem(fd, &ifindex, &port), 0);
		close(fd);
		fd = bpf_obj_get(ENV_PINS "/xtap_port_stats");
		assert_int_equal(bpf_map_lookup_elem(fd, &port.port_id, b + n), 0);
		n += ncpu * sizeof(struct xtap_port_stats);
		close(fd);
		fd = bpf_obj_get(ENV_PINS "/xtap_rate_state");
		for (k = port.port_id * XTAP_DIRS; k < port.port_id * XTAP_DIRS + XTAP_DIRS; k++) {
			assert_int_equal(bpf_map_lookup_elem(fd, &k, b + n), 0);
			n += sizeof(struct xtap_rate_state);
		}
		close(fd);
	}
	/* the hit slots of a handful of rules: the first ones handed out */
	fd = bpf_obj_get(ENV_PINS "/xtap_acl_hits");
	for (k = 0; k < 64; k++) {
		assert_int_equal(bpf_map_lookup_elem(fd, &k, b + n), 0);
		n += ncpu * sizeof(struct xtap_counter);
	}
	close(fd);
	fd = bpf_obj_get(ENV_PINS "/xtap_obs_cpu");
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, b + n), 0);
	n += ncpu * sizeof(struct xtap_obs_cpu);
	close(fd);
	*out = b;
	return n;
}

struct trace_case {
	const char *port;
	const char *dir;
	const char *frame;
	const char *verdict;      /* what the trace says and the real frame's counters get */
	const char *reason;       /* for drops */
	const char *stage;        /* the stage that decided ("steer" for a pass) */
	const char *sender;       /* the VM that sends the real frame */
};

static const struct trace_case trace_cases[] = {
	{ "vmA", "--from-vm", "ipv4 dst 192.0.2.11 udp dport 5000", "to_port", NULL, "steer", "vmA" },
	{ "vmA", "--from-vm", "ipv4 src 192.0.2.99 dst 192.0.2.11 udp dport 5000", "drop", "spoof_ipv4", "anti-spoof",
	  "vmA" },
	{ "vmA", "--from-vm", "ipv4 dst 192.0.2.11 tcp dport 6001", "drop", "acl", "acl", "vmA" },
	{ "vmA", "--from-vm", "ipv4 dst 192.0.2.11 udp dport 5000 vlan 7", "drop", "vlan_tagged", "anti-spoof", "vmA" },
	{ "vmB", "--to-vm", "ipv4 src 192.0.2.10 udp dport 7001", "drop", "acl", "acl", "vmA" },
	{ "vmB", "--to-vm", "ipv4 src 192.0.2.10 tcp dport 22", "deliver", NULL, "rate", "vmA" },
	{ "vmA", "--from-vm", "ipv6 src fe80::ff:fe00:10a dst fe80::ff:fe00:10b icmpv6", "to_port", NULL, "steer",
	  "vmA" },
	/* the VM's side left out: its link-local (no IPv6 address configured) */
	{ "vmA", "--from-vm", "ipv6 dst fe80::ff:fe00:10b udp dport 5000", "to_port", NULL, "steer", "vmA" },
	/* a MAC nobody on the segment has, and no uplink: the host */
	{ "vmA", "--from-vm", "ipv4 dst 198.51.100.1 tcp dport 443", "to_host", NULL, "steer", "vmA" },
};

static json_object *trace_json(const struct trace_case *c)
{
	return ctl_json("trace %s %s %s", c->port, c->dir, c->frame);
}

static const char *jstr(json_object *o, const char *k)
{
	return json_object_get_string(json_object_object_get(o, k));
}

/* The stage that decided: the first that dropped, else the last one reached. */
static json_object *deciding_stage(json_object *t)
{
	json_object *stages = json_object_object_get(t, "stages");
	size_t i, n = json_object_array_length(stages);

	for (i = 0; i < n; i++)
		if (!strcmp(jstr(json_object_array_get_idx(stages, i), "result"), "drop"))
			return json_object_array_get_idx(stages, i);
	return n ? json_object_array_get_idx(stages, n - 1) : NULL;
}

static int trace_setup(void)
{
	must_ctl("acl add vmA from-vm deny --proto tcp --ports 6001");
	must_ctl("acl add vmB to-vm deny --proto udp --ports 7001");
	/* limits far above what the test sends: the limiter's state is read, and must not move */
	must_ctl("rate set vmA from-vm --pps 100000 --burst-packets 100000");
	must_ctl("rate set vmB to-vm --pps 100000 --burst-packets 100000");
	return 0;
}

/*
 * Each case traced, then its very bytes sent by a VM: the trace's verdict is
 * what the real frame's counters get. The rule a trace names is the rule's id.
 */
static void test_trace_agrees_with_real_frames(void **s)
{
	size_t i, k, len;
	uint8_t frame[2048];

	(void)s;
	trace_setup();
	for (i = 0; i < sizeof(trace_cases) / sizeof(trace_cases[0]); i++) {
		const struct trace_case *c = &trace_cases[i];
		const char *dir = !strcmp(c->dir, "--from-vm") ? "from-vm" : "to-vm";
		json_object *t = trace_json(c), *st = deciding_stage(t);
		const char *group = c->reason ? "drops" : "verdicts", *name = c->reason ? c->reason : c->verdict;
		const char *hex = jstr(t, "frame");
		int64_t before = stat_of(c->port, dir, group, name);
		struct vm *sender = !strcmp(c->sender, "vmA") ? &vm_a : &vm_b;

		assert_string_equal(jstr(t, "verdict"), c->verdict);
		if (c->reason)
			assert_string_equal(jstr(t, "reason"), c->reason);
		assert_non_null(st);
		assert_string_equal(jstr(st, "stage"), c->stage);
		for (len = 0; hex[2 * len]; len++)
			sscanf(hex + 2 * len, "%2hhx", &frame[len]);
		assert_int_equal(vm_write(sender, NULL, frame, len), 0);
		/* counters are read from the maps: poll, the write is processed by then but be generous */
		for (k = 0; k < 100 && stat_of(c->port, dir, group, name) == before; k++)
			usleep(10000);
		assert_int_equal(stat_of(c->port, dir, group, name) - before, 1);
		json_object_put(t);
	}
	vm_count(&vm_a, 50);
	vm_count(&vm_b, 50);
}

/* The ACL stage names the rule that matched by its id; the default when none did. */
static void test_trace_names_the_rule(void **s)
{
	json_object *acl = ctl_json("acl list vmA"), *rules, *t, *st;
	int64_t id = -1;
	size_t i;

	(void)s;
	rules = json_object_object_get(json_object_object_get(acl, "from-vm"), "rules");
	for (i = 0; i < json_object_array_length(rules); i++) {
		json_object *r = json_object_array_get_idx(rules, i);

		if (json_object_get_int(json_object_object_get(r, "port_min")) == 6001 ||
		    strstr(json_object_to_json_string(r), "6001"))
			id = json_object_get_int64(json_object_object_get(r, "id"));
	}
	json_object_put(acl);
	assert_true(id >= 0);
	t = ctl_json("trace vmA --from-vm ipv4 dst 192.0.2.11 tcp dport 6001");
	st = deciding_stage(t);
	assert_int_equal(json_object_get_int64(json_object_object_get(st, "rule")), id);
	json_object_put(t);
	t = ctl_json("trace vmA --from-vm ipv4 dst 192.0.2.11 tcp dport 6002");
	assert_string_equal(jstr(json_object_array_get_idx(json_object_object_get(t, "stages"), 2), "stage"), "acl");
	assert_string_equal(jstr(json_object_array_get_idx(json_object_object_get(t, "stages"), 2), "rule"), "default");
	json_object_put(t);
	/* the table form */
	must_ctl("trace vmA --from-vm ipv4 dst 192.0.2.11 tcp dport 6001");
	assert_non_null(strstr(ctl_out, "trace vmA from-vm: 02:00:00:00:01:0a > 02:00:00:00:01:0b ipv4 "
					"192.0.2.10:40000 > 192.0.2.11:6001 tcp (54 bytes)"));
	assert_non_null(strstr(ctl_out, "  acl         drop acl rule"));
	assert_non_null(strstr(ctl_out, "  => drop acl (XDP_DROP)"));
}

/* Tracing changes nothing a frame changes: counters, limiter state, ACL hits, events, byte for byte. */
static void test_trace_changes_nothing(void **s)
{
	uint8_t *before, *after;
	size_t n1, n2, i, r;

	(void)s;
	trace_setup();
	n1 = state_snapshot(&before);
	for (r = 0; r < 5; r++)
		for (i = 0; i < sizeof(trace_cases) / sizeof(trace_cases[0]); i++)
			json_object_put(trace_json(&trace_cases[i]));
	n2 = state_snapshot(&after);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
}

/* Every tracked flow (key and entry bytes, in map order) and vmA's flow count, as bytes. */
static size_t ct_snapshot(uint8_t *out, size_t cap)
{
	int fd = bpf_obj_get(ENV_PINS "/xtap_ct"), cfd = bpf_obj_get(ENV_PINS "/xtap_ct_count");
	struct xtap_ct_key key, next, *cur = NULL;
	unsigned int ifindex = if_nametoindex("vmA");
	struct xtap_port port;
	int pfd = bpf_obj_get(ENV_PINS "/xtap_ports");
	size_t n = 0;

	assert_true(fd >= 0 && cfd >= 0 && pfd >= 0);
	while (!bpf_map_get_next_key(fd, cur, &next) && n + sizeof(next) + sizeof(struct xtap_ct_entry) <= cap) {
		memcpy(out + n, &next, sizeof(next));
		assert_int_equal(bpf_map_lookup_elem(fd, &next, out + n + sizeof(next)), 0);
		n += sizeof(next) + sizeof(struct xtap_ct_entry);
		key = next;
		cur = &key;
	}
	assert_int_equal(bpf_map_lookup_elem(pfd, &ifindex, &port), 0);
	assert_int_equal(bpf_map_lookup_elem(cfd, &port.port_id, out + n), 0);
	n += sizeof(struct xtap_ct_count);
	close(fd);
	close(cfd);
	close(pfd);
	return n;
}

/*
 * On a port that tracks flows, traces of a new flow and of its reply leave
 * the flow table as it was; the same frame sent for real adds the flow (so
 * the comparison can fail).
 */
static void test_trace_leaves_conntrack_alone(void **s)
{
	static uint8_t before[1 << 16], after[1 << 16];
	const char *fwd = "ipv4 dst 192.0.2.11 udp dport 9000";
	json_object *t, *rule;
	size_t n1, n2, len;
	uint8_t frame[256];
	const char *hex;
	int64_t id;

	(void)s;
	rule = ctl_json("acl add vmA from-vm allow --proto udp --ports 9000 --stateful");
	id = json_object_get_int64(json_object_object_get(rule, "id"));
	json_object_put(rule);
	assert_true(id > 0);
	must_ctl("conntrack flush");
	n1 = ct_snapshot(before, sizeof(before));
	t = ctl_json("trace vmA --from-vm %s", fwd);
	assert_string_equal(jstr(t, "verdict"), "to_port");
	json_object_put(ctl_json("trace vmA --to-vm ipv4 src 192.0.2.11 udp sport 9000 dport 40000"));
	n2 = ct_snapshot(after, sizeof(after));
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	/* the same bytes for real: a flow */
	hex = jstr(t, "frame");
	for (len = 0; hex[2 * len]; len++)
		sscanf(hex + 2 * len, "%2hhx", &frame[len]);
	assert_int_equal(vm_write(&vm_a, NULL, frame, len), 0);
	n2 = ct_snapshot(after, sizeof(after));
	assert_true(n2 > n1);
	json_object_put(t);
	must_ctl("acl del vmA from-vm %lld", (long long)id);
	must_ctl("conntrack flush");
	vm_count(&vm_b, 50);
}

static void test_trace_user_errors(void **s)
{
	(void)s;
	assert_int_not_equal(ctl(ctl_out, sizeof(ctl_out), "trace vmA ipv4 dst 192.0.2.11"), 0);
	assert_non_null(strstr(ctl_out, "give --from-vm or --to-vm"));
	assert_int_not_equal(ctl(ctl_out, sizeof(ctl_out), "trace vmA --from-vm ipv4 dst 192.0.2.11 bogus 1"), 0);
	assert_non_null(strstr(ctl_out, "unknown word \"bogus\""));
	assert_int_not_equal(ctl(ctl_out, sizeof(ctl_out), "trace vmA --from-vm ipv4 dst 2001:db8::1"), 0);
	assert_non_null(strstr(ctl_out, "dst takes an IPv4 or IPv6 address of the frame's family"));
	assert_int_not_equal(ctl(ctl_out, sizeof(ctl_out), "trace nosuch --to-vm ipv4 src 192.0.2.1"), 0);
	assert_non_null(strstr(ctl_out, "no port named nosuch"));
	assert_int_not_equal(ctl(ctl_out, sizeof(ctl_out), "trace vmA --from-vm hex 0102"), 0);
	assert_non_null(strstr(ctl_out, "hex takes the frame's bytes"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, each_setup)
	const struct CMUnitTest tests[] = {
		T(test_monitor_shows_drops_with_reason),
		T(test_monitor_all_json_both_directions),
		T(test_capture_pcapng_read_by_tshark_and_scapy),
		T(test_one_listener_at_a_time),
		T(test_killed_listener_lease_runs_out),
		T(test_storm_is_limited_and_counted),
		T(test_user_errors),
		T(test_trace_agrees_with_real_frames),
		T(test_trace_names_the_rule),
		T(test_trace_changes_nothing),
		T(test_trace_leaves_conntrack_alone),
		T(test_trace_user_errors),
	};

	return cmocka_run_group_tests_name("observe", tests, group_setup, group_teardown);
}
