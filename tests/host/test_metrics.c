// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: xtapd's Prometheus endpoint. Scrapes it over HTTP, reads every
 * scrape with python3-prometheus-client's parser (prom_parse.py), and checks
 * the values against traffic sent through two VM taps and against xtapctl;
 * scrapers that stall hold neither `xtapctl status` nor other scrapers; a
 * non-loopback address is refused; and a tap deleted while xtapd was down
 * comes back on start with no reconcile error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "pktbuild.h"

#define METRICS_PORT 9477
#define PARSED_FILE "/run/xtap-test/metrics.parsed"
#define STATUS_MAX_MS 1000

static struct vm vm_a = { .name = "vmA" }, vm_b = { .name = "vmB" };
static char body[1 << 20], parsed[1 << 20];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int metrics_connect(int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(METRICS_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads to EOF within timeout_ms: the bytes read, or -1 on timeout. */
static ssize_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	for (;;) {
		if (poll(&p, 1, (int)(end - now_ms()) + 1) <= 0 || now_ms() > end)
			return -1;
		n = read(fd, buf + got, cap - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	buf[got] = 0;
	return got;
}

/* Sends a raw request; the HTTP status, the body in body[]. -1: no answer within 5 s. */
static int http(const char *request)
{
	int fd = metrics_connect(0), code = -1;
	ssize_t n;
	char *sep;

	if (fd < 0)
		return -1;
	if (write(fd, request, strlen(request)) == (ssize_t)strlen(request) &&
	    (n = read_all(fd, body, sizeof(body), 5000)) > 0 && sscanf(body, "HTTP/1.%*d %d", &code) == 1 &&
	    (sep = strstr(body, "\r\n\r\n")))
		memmove(body, sep + 4, strlen(sep + 4) + 1);
	close(fd);
	return code;
}

/* A scrape, read by the independent parser into parsed[] ("family N T" lines, then samples). */
static void scrape(void)
{
	FILE *f;
	size_t n;
	int st;

	assert_int_equal(http("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"), 200);
	f = popen("/usr/bin/python3 tests/host/prom_parse.py > " PARSED_FILE, "w");
	assert_non_null(f);
	fputs(body, f);
	st = pclose(f);
	f = fopen(PARSED_FILE, "r");
	assert_non_null(f);
	n = fread(parsed, 1, sizeof(parsed) - 1, f);
	parsed[n] = 0;
	fclose(f);
	if (st)
		print_message("the parser refused the scrape: %s\n", parsed);
	assert_int_equal(st, 0);
}

/* A sample's value from the last scrape ("NAME{labels sorted}"); fails the test when absent. */
static double sample(const char *fmt, ...)
{
	char key[512], *at;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(key, sizeof(key) - 1, fmt, ap);
	va_end(ap);
	strcat(key, " ");
	for (at = parsed; (at = strstr(at, key)); at++)
		if (at == parsed || at[-1] == '\n')
			return strtod(at + strlen(key), NULL);
	print_message("no sample %s in the scrape\n", key);
	fail();
	return 0;
}

static double frames(const char *port, const char *dir, const char *verdict)
{
	return sample("xtap_port_frames_total{direction=\"%s\",port=\"%s\",verdict=\"%s\"}", dir, port, verdict);
}

static double drops(const char *port, const char *dir, const char *reason)
{
	return sample("xtap_port_drops_total{direction=\"%s\",port=\"%s\",reason=\"%s\"}", dir, port, reason);
}

static void udp(struct pkt *p, const struct vm *from, const struct vm *to, uint32_t src, uint16_t dport)
{
	pkt_init(p);
	pkt_eth(p, to->mac, from->mac, ETH_P_IP);
	pkt_ipv4(p, src, to->ip4, IPPROTO_UDP);
	pkt_udp(p, 40000, dport, 64);
	pkt_finish(p);
}

static int group_setup(void **state)
{
	(void)state;
	env_agent_config = "{\"metrics\": \"127.0.0.1:9477\"}";
	if (env_setup())
		return -1;
	if (ctl(ctl_out, sizeof(ctl_out), "segment add 1 --uplink uplink0")) {
		fprintf(stderr, "segment add: %s\n", ctl_out);
		return -1;
	}
	return ctl_vm_add(&vm_a, 1, "02:00:00:00:02:0a", "192.0.2.10") ||
	       ctl_vm_add(&vm_b, 1, "02:00:00:00:02:0b", "192.0.2.11");
}

static int group_teardown(void **state)
{
	(void)state;
	vm_close(&vm_a);
	vm_close(&vm_b);
	env_teardown();
	return 0;
}

/* Every family parses with HELP and TYPE; the values are the traffic's and xtapctl's. */
static void test_scrape_counts_traffic(void **s)
{
	static const char *const verdicts[] = { "to_port", "to_uplink", "flood", "to_host", "deliver", "drop" };
	static const char *const dirs[] = { "from-vm", "to-vm" };
	double sent0, delivered0, spoof0, refused0, rule_hits;
	uint8_t buf[2048];
	json_object *acl;
	struct pkt p;
	size_t d, v;
	int i, rule;

	(void)s;
	scrape();
	assert_non_null(strstr(parsed, "family xtap_port_frames counter\n"));
	assert_non_null(strstr(parsed, "family xtap_port_drops counter\n"));
	assert_non_null(strstr(parsed, "family xtap_acl_rule_hits counter\n"));
	assert_non_null(strstr(parsed, "family xtap_port_state gauge\n"));
	assert_non_null(strstr(parsed, "family xtap_agent_start_time_seconds gauge\n"));
	sent0 = frames("vmA", "from-vm", "to_port");
	delivered0 = frames("vmB", "to-vm", "deliver");
	spoof0 = drops("vmA", "from-vm", "spoof_ipv4");
	refused0 = sample("xtap_agent_requests_total{result=\"refused\"}");

	must_ctl("acl add vmB to-vm deny --proto udp --ports 7000");
	acl = ctl_json("acl list vmB");
	rule = json_object_get_int(json_object_object_get(json_object_array_get_idx(json_object_object_get(
		json_object_object_get(acl, "to-vm"), "rules"), 0), "id"));
	json_object_put(acl);
	for (i = 0; i < 20; i++) {   /* delivered */
		udp(&p, &vm_a, &vm_b, vm_a.ip4, 5000);
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
		assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 1000), (int)p.len);
	}
	for (i = 0; i < 5; i++) {    /* spoofed source */
		udp(&p, &vm_a, &vm_b, pkt_ip4("192.0.2.99"), 5000);
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	}
	for (i = 0; i < 3; i++) {    /* denied by vmB's rule */
		udp(&p, &vm_a, &vm_b, vm_a.ip4, 7000);
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	}
	assert_int_equal(vm_count(&vm_b, 300), 0);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "segment add 1"), 1);   /* refused: it exists */
	scrape();

	assert_true(frames("vmA", "from-vm", "to_port") - sent0 >= 20);
	assert_int_equal((int)(frames("vmB", "to-vm", "deliver") - delivered0), 20);
	assert_int_equal((int)(drops("vmA", "from-vm", "spoof_ipv4") - spoof0), 5);
	rule_hits = sample("xtap_acl_rule_hits_total{action=\"deny\",direction=\"to-vm\",port=\"vmB\",rule=\"%d\"}", rule);
	assert_int_equal((int)rule_hits, 3);
	assert_int_equal((int)sample("xtap_acl_rule_hit_bytes_total{action=\"deny\",direction=\"to-vm\",port=\"vmB\","
				     "rule=\"%d\"}", rule), 3 * (int)p.len);
	/* Nothing moves between the scrape and xtapctl: every counter is xtapctl's. */
	for (d = 0; d < 2; d++)
		for (v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
			assert_int_equal((int64_t)frames("vmA", dirs[d], verdicts[v]),
					 stat_of("vmA", dirs[d], "verdicts", verdicts[v]));
			assert_int_equal((int64_t)frames("vmB", dirs[d], verdicts[v]),
					 stat_of("vmB", dirs[d], "verdicts", verdicts[v]));
		}
	assert_int_equal((int)sample("xtap_port_state{port=\"vmA\",state=\"up\"}"), 1);
	assert_int_equal((int)sample("xtap_port_state{port=\"vmA\",state=\"tap_missing\"}"), 0);
	assert_int_equal((int)sample("xtap_ports{state=\"up\"}"), 2);
	assert_int_equal((int)sample("xtap_segments{}"), 1);
	assert_int_equal((int)(sample("xtap_agent_requests_total{result=\"refused\"}") - refused0), 1);
	assert_true(sample("xtap_agent_start_time_seconds{}") > time(NULL) - 3600);
	assert_true(sample("xtap_agent_start_time_seconds{}") <= time(NULL));
	assert_true(sample("xtap_agent_last_reconcile_timestamp_seconds{}") >= sample("xtap_agent_start_time_seconds{}"));
	must_ctl("acl del vmB to-vm %d", rule);
}

/* Frames from the uplink, a packet limit's drops, the xtap-vhost's state. */
static void test_uplink_rate_vhost(void **s)
{
	double up0, deliver0, rate0, reason0, end;
	uint8_t buf[2048];
	struct pkt p;
	int i, delivered;

	(void)s;
	scrape();
	up0 = sample("xtap_uplink_frames_total{verdict=\"to_port\"}");
	deliver0 = frames("vmA", "to-vm", "deliver");
	rate0 = sample("xtap_port_rate_limit_drops_total{direction=\"from-vm\",limit=\"packets\",port=\"vmA\"}");
	reason0 = drops("vmA", "from-vm", "rate_packets");
	for (i = 0; i < 4; i++) {
		pkt_init(&p);
		pkt_eth(&p, vm_a.mac, env_out_mac, ETH_P_IP);
		pkt_ipv4(&p, pkt_ip4("198.51.100.7"), vm_a.ip4, IPPROTO_UDP);
		pkt_udp(&p, 53, 40000, 32);
		pkt_finish(&p);
		assert_int_equal(out_write(p.data, p.len), 0);
		assert_int_equal(vm_read(&vm_a, buf, sizeof(buf), NULL, 1000), (int)p.len);
	}
	must_ctl("rate set vmA from-vm --pps 10 --burst-packets 5");
	for (i = 0; i < 30; i++) {
		udp(&p, &vm_a, &vm_b, vm_a.ip4, 5000);
		assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	}
	delivered = vm_count(&vm_b, 300);
	must_ctl("rate clear vmA from-vm");
	scrape();
	assert_int_equal((int)(sample("xtap_uplink_frames_total{verdict=\"to_port\"}") - up0), 4);
	assert_int_equal((int)(frames("vmA", "to-vm", "deliver") - deliver0), 4);
	print_message("packet limit 10/s, burst 5: %d of 30 frames passed\n", delivered);
	assert_true(delivered < 30);
	assert_int_equal((int)(sample("xtap_port_rate_limit_drops_total{direction=\"from-vm\",limit=\"packets\",port=\"vmA\"}") -
			       rate0), 30 - delivered);
	assert_int_equal((int)(drops("vmA", "from-vm", "rate_packets") - reason0), 30 - delivered);
	/* Each port's xtap-vhost serves its socket (it may still be starting just after port add). */
	for (end = now_ms() + 10000; now_ms() < end; usleep(100000)) {
		scrape();
		if (sample("xtap_port_vhost_state{port=\"vmA\",state=\"running\"}") == 1)
			break;
	}
	assert_int_equal((int)sample("xtap_port_vhost_state{port=\"vmA\",state=\"running\"}"), 1);
	assert_int_equal((int)sample("xtap_port_vhost_state{port=\"vmA\",state=\"not_running\"}"), 0);
	assert_int_equal((int)sample("xtap_port_vhost_frontend_connected{port=\"vmA\"}"), 0);
	/* xtap-vhost's counters, from its status (the libvirt tier sees no_shared_memory count). */
	assert_int_equal((int)sample("xtap_port_vhost_connections_total{port=\"vmA\"}"), 0);
	assert_int_equal((int)sample("xtap_port_vhost_no_shared_memory_total{port=\"vmA\"}"), 0);
	assert_int_equal((int)sample("xtap_port_info{data_plane=\"tap\",port=\"vmA\",segment=\"1\"}"), 1);
}

static void test_wrong_requests(void **s)
{
	(void)s;
	assert_int_equal(http("GET /other HTTP/1.0\r\n\r\n"), 404);
	assert_int_equal(http("POST /metrics HTTP/1.0\r\n\r\n"), 405);
	assert_int_equal(http("hello\r\n\r\n"), 400);
	assert_int_equal(http("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), 200);
}

/*
 * 30 scrapers that send half a request, 10 that ask and never read (a
 * one-byte receive buffer): status and a good scrape answer at once, and
 * the half requests are closed at their deadline.
 */
static void test_stalled_scrapers_do_not_block(void **s)
{
	const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
	int half[30], mute[10], i, closed = 0;
	double t0, ms;
	char c;

	(void)s;
	for (i = 0; i < 30; i++) {
		half[i] = metrics_connect(0);
		assert_true(half[i] >= 0);
		assert_int_equal(write(half[i], "GET /met", 8), 8);
	}
	for (i = 0; i < 10; i++) {
		mute[i] = metrics_connect(1);
		assert_true(mute[i] >= 0);
		assert_int_equal(write(mute[i], req, strlen(req)), (ssize_t)strlen(req));
	}
	t0 = now_ms();
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "status"), 0);
	ms = now_ms() - t0;
	print_message("xtapctl status with 40 stalled scrapers: %.1f ms\n", ms);
	assert_true(ms < STATUS_MAX_MS);
	t0 = now_ms();
	scrape();
	print_message("a scrape next to them: %.1f ms (parser included)\n", now_ms() - t0);
	/* Half requests are closed at XTAP_METRICS_REQUEST_TIMEOUT_S (5 s); poll up to 20 s. */
	t0 = now_ms();
	for (i = 0; i < 30; i++) {
		struct pollfd p = { .fd = half[i], .events = POLLIN };

		if (poll(&p, 1, (int)(t0 + 20000 - now_ms())) == 1 && read(half[i], &c, 1) == 0)
			closed++;
		close(half[i]);
	}
	print_message("half requests closed by xtapd: %d of 30, the last after %.1f s\n", closed, (now_ms() - t0) / 1e3);
	assert_int_equal(closed, 30);
	for (i = 0; i < 10; i++)
		close(mute[i]);
}

/* A second xtapd with a config: its exit code, its stderr in out. Refused before it takes anything. */
static int xtapd_with_config(const char *config, char *out, size_t len)
{
	char cmd[1024];
	FILE *f = fopen("/run/xtap-test/other.json", "w"), *p;
	size_t n;
	int st;

	assert_non_null(f);
	fputs(config, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/xtapd -c /run/xtap-test/other.json -s /run/xtap-test/other.sock "
		 "--state /run/xtap-test/other-state.json --pin-dir /sys/fs/bpf/other 2>&1",
		 getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build");
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_bad_addresses_refused(void **s)
{
	char out[4096];

	(void)s;
	assert_int_equal(xtapd_with_config("{\"metrics\": \"192.0.2.1:9477\"}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "not a loopback address"));
	assert_non_null(strstr(out, "\"metrics_allow_remote\": true"));
	assert_int_equal(xtapd_with_config("{\"metrics\": \"localhost\"}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "use ADDR:PORT"));
	assert_int_equal(xtapd_with_config("{\"metrics\": \"127.0.0.1:70000\"}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "1-65535"));
	assert_int_equal(xtapd_with_config("{\"metrics\": 9477}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"metrics\""));
	/* The test's agent serves 9477 already. */
	assert_int_equal(xtapd_with_config("{\"metrics\": \"127.0.0.1:9477\"}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"metrics\": 127.0.0.1:9477: cannot listen: Address already in use"));
	/* Refused before anything was made. */
	assert_int_equal(access("/run/xtap-test/other-state.json", F_OK), -1);
	assert_int_equal(access("/sys/fs/bpf/other", F_OK), -1);
	assert_int_equal(access("/run/xtap-test/other.sock", F_OK), -1);
}

/* A tap deleted while xtapd is down: the port comes back on start, no reconcile error (was: "port id already in use"). */
static void test_tap_deleted_while_down(void **s)
{
	char cmd[128];

	(void)s;
	env_agent_kill();
	vm_close(&vm_b);
	snprintf(cmd, sizeof(cmd), "ip link del %s", vm_b.name);
	assert_int_equal(system(cmd), 0);
	assert_true(env_agent_start() > 0);
	assert_int_equal(vm_open(&vm_b), 0);
	scrape();
	assert_int_equal((int)sample("xtap_agent_reconcile_errors_total{}"), 0);
	assert_int_equal((int)sample("xtap_port_state{port=\"vmB\",state=\"up\"}"), 1);
	assert_int_equal((int)sample("xtap_ports{state=\"up\"}"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrape_counts_traffic),
		cmocka_unit_test(test_uplink_rate_vhost),
		cmocka_unit_test(test_wrong_requests),
		cmocka_unit_test(test_stalled_scrapers_do_not_block),
		cmocka_unit_test(test_bad_addresses_refused),
		cmocka_unit_test(test_tap_deleted_while_down),
	};

	if (system("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null")) {
		const char *ci = getenv("CI");

		printf("metrics: skipped: python3-prometheus-client is not installed (make deps)\n");
		return ci && !strcmp(ci, "true") ? 1 : 77;
	}
	return cmocka_run_group_tests_name("metrics", tests, group_setup, group_teardown);
}
