// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: what the control socket refuses, and that a refusal changes
 * nothing. The real xtapd in a sandbox, driven through xtapctl and through
 * raw bytes on its socket; before and after each refusal the ports, the
 * segments and the state file must be the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "agent_ctl.h"
#include "agent_env.h"

/* ---- state before and after ---- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&text, &len, 0, f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

/* Drops what a refusal may not change but an accepted rule does: the next rule id. */
static void drop_runtime_fields(json_object *ports)
{
	size_t i;

	for (i = 0; i < json_object_array_length(ports); i++) {
		json_object_object_del(json_object_array_get_idx(ports, i), "status");
		json_object_object_del(json_object_array_get_idx(ports, i), "next_rule_id");
	}
}

/* Ports (without their live status), segments and the state file, as one text. */
static char *snapshot(void)
{
	json_object *ports = ctl_json("port list"), *segs = ctl_json("segment list"), *state, *v;
	char *state_text = read_file(ENV_STATE), *text;

	drop_runtime_fields(ports);
	state = json_tokener_parse(state_text);
	if (json_object_object_get_ex(state, "ports", &v))
		drop_runtime_fields(v);
	if (asprintf(&text, "%s\n%s\n%s", json_object_to_json_string(ports), json_object_to_json_string(segs),
		     state ? json_object_to_json_string(state) : state_text) < 0)
		text = NULL;
	json_object_put(ports);
	json_object_put(segs);
	json_object_put(state);
	free(state_text);
	return text;
}

/* xtapctl ARGS must fail (exit code != 0) with a message holding every one of the NULL-ended words. */
static void refused(const char *cmd, ...)
{
	const char *word;
	va_list ap;
	int rc = ctl(ctl_out, sizeof(ctl_out), "%s", cmd);

	if (rc == 0)
		fail_msg("xtapctl %s: accepted (wanted a refusal): %s", cmd, ctl_out);
	va_start(ap, cmd);
	while ((word = va_arg(ap, const char *)))
		if (!strstr(ctl_out, word))
			fail_msg("xtapctl %s: exit %d, \"%s\" does not say \"%s\"", cmd, rc, ctl_out, word);
	va_end(ap);
}

/* Sends bytes as they are on the control socket; returns the reply (free it). */
static char *raw_request(const char *bytes)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *reply = calloc(1, 65536);
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_non_null(reply);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ENV_SOCK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
	while (got < 65535 && (n = read(fd, reply + got, 65535 - got)) > 0)
		got += n;
	close(fd);
	return reply;
}

/* The request must be refused with a message holding every one of the NULL-ended words. */
static void raw_refused(const char *bytes, ...)
{
	char *reply = raw_request(bytes);
	json_object *o = json_tokener_parse(reply), *ok, *msg;
	const char *word, *text;
	va_list ap;

	if (!o || !json_object_object_get_ex(o, "ok", &ok) || json_object_get_boolean(ok) ||
	    !json_object_object_get_ex(o, "error", &msg))
		fail_msg("request %s: wanted a refusal, got %s", bytes, reply);
	text = json_object_get_string(msg);
	va_start(ap, bytes);
	while ((word = va_arg(ap, const char *)))
		if (!strstr(text, word))
			fail_msg("request %s: \"%s\" does not say \"%s\"", bytes, text, word);
	va_end(ap);
	json_object_put(o);
	free(reply);
}

static char *before;

static int remember_state(void **state)
{
	(void)state;
	before = snapshot();
	return before ? 0 : -1;
}

/* Every test ends where it started: the refusals changed nothing. */
static int check_state_same(void **state)
{
	char *after = snapshot();
	int same = after && !strcmp(before, after);

	(void)state;
	if (!same)
		fprintf(stderr, "state changed:\nbefore: %s\nafter:  %s\n", before, after);
	free(before);
	free(after);
	return same ? 0 : -1;
}

/* ---- tests ---- */

static void test_strict_request_parser(void **s)
{
	char *reply;

	(void)s;
	raw_refused("{'cmd': 'status'}", "single quote", "nothing changed", NULL);
	raw_refused("{\"cmd\": \"status\"} {\"cmd\": \"teardown\"}", "data after", NULL);
	raw_refused("{\"cmd\": \"status\"} x", "data after", NULL);
	raw_refused("{\"cmd\": \"status\", \"args\": {}, /* c */}", "not valid JSON", NULL);
	raw_refused("{\"cmd\":\"port.open\",\"args\":{\"name\":\"vmA\",\"queues\":true}}", "\"queues\"", "integer",
		    "nothing changed", NULL);
	raw_refused("{\"cmd\":\"port.open\",\"args\":{\"name\":\"vmA\",\"queues\":1.5}}", "\"queues\"", "integer", NULL);
	raw_refused("{\"cmd\":\"acl.add\",\"args\":{\"port\":\"vmA\",\"dir\":\"from-vm\",\"action\":\"deny\","
		    "\"priority\":1.5}}", "\"priority\"", "integer", NULL);
	raw_refused("{\"cmd\":\"segment.add\",\"args\":{\"id\":\"3\"}}", "\"id\"", "integer", NULL);
	raw_refused("{\"cmd\":\"segment.add\",\"args\":{\"id\":3,\"flood_host\":1}}", "\"flood_host\"", "true or false",
		    NULL);
	raw_refused("{\"cmd\":\"segment.add\",\"args\":{\"id\":3,\"colour\":\"red\"}}", "unknown field", "\"colour\"",
		    NULL);
	raw_refused("{\"cmd\":\"segment.add\",\"args\":{\"id\":3}, \"extra\": 1}", "unknown field", NULL);
	raw_refused("{\"cmd\":\"acl.del\",\"args\":{\"port\":\"vmA\",\"dir\":\"from-vm\"}}", "missing field \"id\"",
		    NULL);
	raw_refused("{\"cmd\":\"frobnicate\"}", "unknown command", NULL);
	/* Whitespace after the object is no data. */
	reply = raw_request("{\"cmd\": \"status\"}\r\n \n");
	assert_non_null(strstr(reply, "\"ok\":true"));
	free(reply);
}

static void test_same_address_two_ports_refused(void **s)
{
	(void)s;
	/* vmA holds 10.1.0.10/32 and 2001:db8::10/128 in segment 1. */
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 10.1.0.10/32", "port vmX", "10.1.0.10/32",
		"port vmA", "segment 1", "nothing changed", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 10.1.0.0/24", "port vmX", "10.1.0.0/24",
		"port vmA", "nothing changed", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 2001:db8::/64", "port vmX", "2001:db8::/64",
		"2001:db8::10/128", "port vmA", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 0.0.0.0/0", "port vmA", NULL);
	refused("addr add vmB 10.1.0.10", "port vmB", "10.1.0.10/32", "port vmA", "nothing changed", NULL);
	refused("addr add vmB 2001:db8::10", "port vmB", "port vmA", NULL);
	/* One side shared is not enough: both must say so. */
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --shared-addr 10.1.0.10/32", "port vmA", NULL);
	/* The same MAC twice in a segment, named by both ports. */
	refused("port add vmX --segment 1 --mac 02:00:00:00:01:0a", "port vmX", "port vmA", "already used", NULL);
}

static void test_shared_address_both_sides(void **s)
{
	json_object *p;

	(void)s;
	must_ctl("addr add vmA 10.1.0.100/32 --shared");
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --addr 10.1.0.100/32", "port vmA", NULL);
	must_ctl("port add vmX --segment 1 --mac 02:00:00:00:02:01 --shared-addr 10.1.0.100/32");
	p = ctl_json("port show vmX");
	assert_string_equal(json_object_to_json_string(json_object_object_get(p, "shared_addrs")),
			    "[ \"10.1.0.100\\/32\" ]");
	json_object_put(p);
	/* The shared address does not open the others. */
	refused("addr add vmX 10.1.0.10", "port vmX", "port vmA", NULL);
	must_ctl("port del vmX");
	must_ctl("addr del vmA 10.1.0.100/32");
	/* Another segment may reuse an address: segments are separate networks. */
	must_ctl("port add vmY --segment 2 --mac 02:00:00:00:02:02 --addr 10.1.0.10/32");
	must_ctl("port del vmY");
}

static void test_rule_id_above_2_32_refused(void **s)
{
	json_object *r = ctl_json("acl add vmA from-vm deny --cidr 192.0.2.1/32"), *acl, *rules;
	int64_t id = json_object_get_int64(json_object_object_get(r, "id"));
	char cmd[128];

	(void)s;
	json_object_put(r);
	/* 2^32 + id once truncated to id and deleted the rule. */
	snprintf(cmd, sizeof(cmd), "acl del vmA from-vm %lld", (long long)((1LL << 32) + id));
	refused(cmd, "\"id\"", "4294967295", "nothing changed", NULL);
	raw_refused("{\"cmd\":\"acl.del\",\"args\":{\"port\":\"vmA\",\"dir\":\"from-vm\",\"id\":18446744073709551617}}",
		    "\"id\"", NULL);
	refused("acl del vmA from-vm -1", "invalid option", NULL);
	acl = ctl_json("acl list vmA");
	rules = json_object_object_get(json_object_object_get(acl, "from-vm"), "rules");
	assert_int_equal(json_object_array_length(rules), 1);
	assert_int_equal(json_object_get_int64(json_object_object_get(json_object_array_get_idx(rules, 0), "id")), id);
	json_object_put(acl);
	snprintf(cmd, sizeof(cmd), "acl del vmA from-vm %lld", (long long)id);
	must_ctl("%s", cmd);
	/* The segment ids of segment del are 32-bit too: 2^32 + 1 is not segment 1. */
	refused("segment del 4294967297", "\"id\"", "nothing changed", NULL);
}

static void test_rates_and_bursts_bounded(void **s)
{
	(void)s;
	refused("rate set vmA from-vm --rate 1e30", "--rate", "1e30", "nothing changed", NULL);
	refused("rate set vmA from-vm --rate inf", "--rate", "inf", NULL);
	refused("rate set vmA from-vm --rate nan", "--rate", "nan", NULL);
	refused("rate set vmA from-vm --rate -5m", "--rate", NULL);
	refused("rate set vmA from-vm --rate 1000g", "port vmA", "400 Gbit/s", "nothing changed", NULL);
	/* 8e18 bytes at 10 Mbit/s would be 203 years: the limiter's tolerance would wrap. */
	refused("rate set vmA from-vm --rate 10m --burst 8e18", "port vmA", "rate from-vm", "burst", "3600 s",
		"nothing changed", NULL);
	refused("rate set vmA from-vm --pps 10 --burst-packets 1e12", "port vmA", "burst", "packets", NULL);
	refused("rate set vmA from-vm --rate 10m --burst 18446744073709551616", "--burst", NULL);
	raw_refused("{\"cmd\":\"rate.set\",\"args\":{\"port\":\"vmA\",\"dir\":\"from-vm\",\"bytes_per_sec\":1000000,"
		    "\"burst_bytes\":18446744073709551616}}", "\"burst_bytes\"", "nothing changed", NULL);
	raw_refused("{\"cmd\":\"rate.set\",\"args\":{\"port\":\"vmA\",\"dir\":\"from-vm\",\"bytes_per_sec\":1e30}}",
		    "\"bytes_per_sec\"", "integer", NULL);
	/* The longest burst allowed is taken. */
	must_ctl("rate set vmA from-vm --rate 8m --burst 3000m");
	must_ctl("rate clear vmA from-vm");
}

static void test_owner_ids_bounded(void **s)
{
	(void)s;
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --owner -1", "--owner", "nothing changed", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --group -1", "--group", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --owner 4294967295", "port vmX", "owner_uid",
		"nothing changed", NULL);
	raw_refused("{\"cmd\":\"port.add\",\"args\":{\"name\":\"vmX\",\"segment\":1,\"mac\":\"02:00:00:00:02:01\","
		    "\"owner_uid\":-1}}", "\"owner_uid\"", NULL);
	raw_refused("{\"cmd\":\"port.add\",\"args\":{\"name\":\"vmX\",\"segment\":1,\"mac\":\"02:00:00:00:02:01\","
		    "\"owner_gid\":4294967296}}", "port vmX", "owner_gid", NULL);
}

static void test_errors_name_the_port(void **s)
{
	(void)s;
	refused("port add vmX --segment 1 --mac 01:00:00:00:00:01", "port vmX", "MAC", NULL);
	refused("port add vmX --segment 1 --mac 02:00:00:00:02:01 --mtu 40", "port vmX", "\"mtu\"", NULL);
	refused("rate set vmB to-vm --rate 10m --burst 1k", "port vmB", "burst", NULL);
	refused("acl add vmB to-vm deny --proto icmp --ports 80", "port vmB", "ports", NULL);
	refused("acl del vmB to-vm 77", "port vmB", "77", NULL);
	refused("addr add vmB 10.9.0.0/33", "addr", NULL);
}

/* The overlay's commands refuse what cannot work, each naming the thing and changing nothing. */
static void test_overlay_refusals(void **s)
{
	(void)s;
	refused("segment add 4 --vni 300", "VNI 300", "segment 3", NULL);
	refused("segment add 4 --vni 16777216", "\"vni\"", NULL);
	refused("segment add 4 --vni 5 --flood-host", "--flood-host", "--vni", NULL);
	/* uplink0 has IPv4 forwarding off: the datapath's FIB lookup would find no outer MACs. */
	refused("overlay underlay set uplink0 198.51.100.1", "uplink0", "forwarding", "nothing changed", NULL);
	refused("overlay underlay set nosuch0 198.51.100.1", "nosuch0", "does not exist", NULL);
	refused("overlay underlay set uplink0 224.0.0.1", "vtep", "224.0.0.1", NULL);
	refused("overlay vtep add 1 198.51.100.2", "segment 1", "no VNI", NULL);
	refused("overlay vtep add 9 198.51.100.2", "segment 9", "does not exist", NULL);
	refused("overlay vtep add 3 198.51.100.256", "198.51.100.256", NULL);
	refused("overlay mac add 3 02:00:00:00:09:01 198.51.100.2", "no VTEP 198.51.100.2", "overlay vtep add", NULL);
	refused("overlay mac add 3 01:00:00:00:09:01 198.51.100.2", "unicast", NULL);
	refused("overlay mac del 3 02:00:00:00:09:01", "no remote MAC", NULL);
	refused("overlay vtep del 3 198.51.100.2", "no VTEP", NULL);
	/* A VTEP with a MAC behind it stays until the MAC goes. */
	must_ctl("overlay vtep add 3 198.51.100.2");
	refused("overlay vtep add 3 198.51.100.2", "already has that VTEP", NULL);
	must_ctl("overlay mac add 3 02:00:00:00:09:01 198.51.100.2");
	refused("overlay vtep del 3 198.51.100.2", "02:00:00:00:09:01", "overlay mac del", NULL);
	refused("segment del 3", "remote VTEPs", NULL);
	must_ctl("overlay mac del 3 02:00:00:00:09:01");
	must_ctl("overlay vtep del 3 198.51.100.2");
}

static int group_setup(void **state)
{
	(void)state;
	if (env_setup())
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "segment add 1") || ctl(ctl_out, sizeof(ctl_out), "segment add 2") ||
	    ctl(ctl_out, sizeof(ctl_out), "segment add 3 --vni 300") ||
	    ctl(ctl_out, sizeof(ctl_out),
		"port add vmA --segment 1 --mac 02:00:00:00:01:0a --addr 10.1.0.10/32 --addr 2001:db8::10/128") ||
	    ctl(ctl_out, sizeof(ctl_out), "port add vmB --segment 1 --mac 02:00:00:00:01:0b --addr 10.1.0.11/32")) {
		fprintf(stderr, "setup: %s\n", ctl_out);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	env_teardown();
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, remember_state, check_state_same)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_strict_request_parser),
		T(test_same_address_two_ports_refused),
		T(test_shared_address_both_sides),
		T(test_rule_id_above_2_32_refused),
		T(test_rates_and_bursts_bounded),
		T(test_owner_ids_bounded),
		T(test_errors_name_the_port),
		T(test_overlay_refusals),
	};

	return cmocka_run_group_tests_name("validation", tests, group_setup, group_teardown);
}
