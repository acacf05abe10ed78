// SPDX-License-Identifier: GPL-2.0
/*
 * Control-plane benchmark: the real xtapd in a sandbox. Measures ports
 * created and attached per second (100 and 1000 ports), policy updates per
 * second through the control socket and through xtapctl, the same for ACL
 * and rate updates on a port with 0, 64 and 256 rules, and xtapd's start
 * time with 1000 ports. Prints two tables.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent_env.h"
#include "xtap_abi.h"
#include "bench_util.h"

/* The answer to the last request. */
static char resp[65536];

/* One request on the control socket; returns 0 when the agent said ok. */
static int api(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int api(const char *fmt, ...)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[1024];
	ssize_t n, got = 0;
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ENV_SOCK);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, req, strlen(req)) < 0)
		return -1;
	while ((n = read(fd, resp + got, sizeof(resp) - got - 1)) > 0)
		got += n;
	resp[got] = 0;
	close(fd);
	if (!strstr(resp, "\"ok\":true")) {
		fprintf(stderr, "request %s: %s\n", req, resp);
		return -1;
	}
	return 0;
}

static double add_ports(int first, int n)
{
	double t0 = now_s();
	int i;

	for (i = first; i < first + n; i++)
		if (api("{\"cmd\":\"port.add\",\"args\":{\"name\":\"b%d\",\"segment\":%d,"
			"\"mac\":\"02:00:00:%02x:%02x:%02x\",\"addrs\":[\"10.%d.%d.%d/32\"]}}",
			i, 1 + i / 256, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 10 + (i >> 16), (i >> 8) & 0xff,
			i & 0xff))
			die("port.add b%d failed", i);
	return n / (now_s() - t0);
}

static void del_ports(int first, int n)
{
	int i;

	for (i = first; i < first + n; i++)
		if (api("{\"cmd\":\"port.del\",\"args\":{\"name\":\"b%d\"}}", i))
			die("port.del b%d failed", i);
}

/*
 * Rule i of the ACL benchmark: a deny of its own /24 (198.18.0.0/15 holds 512),
 * as a security group's rules mostly are: disjoint prefixes.
 */
static __u32 acl_add_deny(const char *port, int i)
{
	const char *id;

	if (api("{\"cmd\":\"acl.add\",\"args\":{\"port\":\"%s\",\"dir\":\"from-vm\",\"action\":\"deny\","
		"\"proto\":\"tcp\",\"cidr\":\"198.%d.%d.0/24\"}}", port, 18 + (i >> 8 & 1), i & 0xff))
		die("acl.add on %s failed", port);
	id = strstr(resp, "\"id\":");
	if (!id)
		die("acl.add on %s: no rule id in %s", port, resp);
	return strtoul(id + 5, NULL, 10);
}

static void acl_del(const char *port, __u32 id)
{
	if (api("{\"cmd\":\"acl.del\",\"args\":{\"port\":\"%s\",\"dir\":\"from-vm\",\"id\":%u}}", port, id))
		die("acl.del %u on %s failed", id, port);
}

#define POLICY_RULE_COUNTS 3
#define POLICY_BATCHES     10
#define POLICY_BATCH       100   /* updates; even: an ACL batch is whole del+add rounds */

struct policy_row {
	int rules;
	struct stat3 acl, rate;   /* updates per second over the batches */
};

/* One ACL update round on b7 holding `rules` rules: two updates (see policy_rows()). */
static void acl_round(int rules, __u32 *ids, int *oldest, int *next)
{
	if (!rules) {
		acl_del("b7", acl_add_deny("b7", 0));
		return;
	}
	acl_del("b7", ids[(*oldest)++ % 512]);
	ids[*next % 512] = acl_add_deny("b7", *next);
	(*next)++;
}

/*
 * Policy updates per second on port b7 holding `rules` from-vm rules: that
 * many - 1 denies and a final allow of everything (priority 2000). An ACL
 * update is an acl.del of the oldest deny or an acl.add of a new one, in
 * turn, so the port keeps its rule count (with no rules: an add and its del);
 * a rate update is a rate.set of a new packet rate. Each is timed in
 * POLICY_BATCHES batches, ACL and rate batches interleaved: the median shows
 * the steady rate, the range what else the agent and the machine did.
 */
static void policy_rows(struct policy_row *rows)
{
	static const int counts[POLICY_RULE_COUNTS] = { 0, 64, XTAP_MAX_ACL_RULES };
	double acl[POLICY_BATCHES], rate[POLICY_BATCHES], t0;
	int next = 0, oldest = 0, r, b, i;
	__u32 ids[512];

	for (r = 0; r < POLICY_RULE_COUNTS; r++) {
		rows[r].rules = counts[r];
		if (counts[r] && !next && api("{\"cmd\":\"acl.add\",\"args\":{\"port\":\"b7\",\"dir\":\"from-vm\","
					    "\"action\":\"allow\",\"priority\":2000}}"))
			die("acl.add allow on b7 failed");
		while (counts[r] && next - oldest < counts[r] - 1) {
			ids[next % 512] = acl_add_deny("b7", next);
			next++;
		}
		for (b = 0; b < POLICY_BATCHES; b++) {
			t0 = now_s();
			for (i = 0; i < POLICY_BATCH / 2; i++)
				acl_round(counts[r], ids, &oldest, &next);
			acl[b] = POLICY_BATCH / (now_s() - t0);
			t0 = now_s();
			for (i = 0; i < POLICY_BATCH; i++)
				if (api("{\"cmd\":\"rate.set\",\"args\":{\"port\":\"b7\",\"dir\":\"from-vm\",\"packets_per_sec\":%d}}",
					100000 + b * POLICY_BATCH + i))
					die("rate.set on b7 failed");
			rate[b] = POLICY_BATCH / (now_s() - t0);
		}
		rows[r].acl = stats(acl, POLICY_BATCHES);
		rows[r].rate = stats(rate, POLICY_BATCHES);
	}
}

int main(void)
{
	struct policy_row rows[POLICY_RULE_COUNTS];
	double r100, r1000, upd_socket, upd_ctl, start_s, t0;
	char out[4096];
	int i, n_upd = 2000, n_ctl = 200;

	bench_name = "control_plane";
	/* xtapd's xtap-vhost processes (one per port) outlive it: env_teardown stops them, also on die(). */
	bench_cleanup = env_teardown;
	if (env_setup())
		die("setting up the sandbox failed");
	/* A segment floods to at most 512 ports: 256 per segment here. */
	for (i = 1; i <= 4; i++)
		if (api("{\"cmd\":\"segment.add\",\"args\":{\"id\":%d}}", i))
			die("segment.add %d failed", i);
	r100 = add_ports(0, 100);
	del_ports(0, 100);
	r1000 = add_ports(0, 1000);

	/* A policy update = one ACL rule added or removed on a port with 1000 neighbours. */
	t0 = now_s();
	for (i = 0; i < n_upd; i++)
		if (api("{\"cmd\":\"rate.set\",\"args\":{\"port\":\"b7\",\"dir\":\"from-vm\",\"packets_per_sec\":%d}}",
			1000 + i))
			die("rate.set failed");
	upd_socket = n_upd / (now_s() - t0);
	t0 = now_s();
	for (i = 0; i < n_ctl; i++)
		if (ctl(out, sizeof(out), "rate set b7 from-vm --pps %d", 1000 + i))
			die("xtapctl rate set: %s", out);
	upd_ctl = n_ctl / (now_s() - t0);
	policy_rows(rows);

	env_agent_kill();
	t0 = now_s();
	if (env_agent_start() < 0)
		die("xtapd did not start again");
	start_s = now_s() - t0;

	printf("control plane (xtapd in a network namespace, taps created and attached)\n");
	printf("%-52s %12s\n", "case", "value");
	printf("%-52s %12.0f\n", "ports created+attached per second, 100 ports", r100);
	printf("%-52s %12.0f\n", "ports created+attached per second, 1000 ports", r1000);
	printf("%-52s %12.0f\n", "policy updates per second, control socket", upd_socket);
	printf("%-52s %12.0f\n", "policy updates per second, xtapctl", upd_ctl);
	printf("%-52s %12.2f\n", "xtapd start to ready with 1000 ports (s)", start_s);
	printf("\npolicy updates per second on port b7 of 1000 (control socket, one connection each;\n"
	       "median [min-max] of %d batches of %d)\n", POLICY_BATCHES, POLICY_BATCH);
	printf("%-14s %24s %24s\n", "rules on b7", "acl add/del", "rate set");
	for (i = 0; i < POLICY_RULE_COUNTS; i++)
		printf("%-14d %8.0f [%6.0f-%6.0f] %8.0f [%6.0f-%6.0f]\n", rows[i].rules, rows[i].acl.med,
		       rows[i].acl.min, rows[i].acl.max, rows[i].rate.med, rows[i].rate.min, rows[i].rate.max);
	del_ports(0, 1000);
	env_teardown();
	return 0;
}
