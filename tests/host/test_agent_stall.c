// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: no client stalls xtapd. Faulty clients (half a request, a byte a
 * second, 1000 idle connections, one that never reads its reply, an
 * oversize request, more connections than the cap) and 100 port adds from
 * a second client, while `status` is timed on a raw connection: each test
 * prints p50/p99/max. The goal is 50 ms; the assertions leave room for a
 * loaded 2-CPU machine (STATUS_P50_MS, STATUS_MAX_MS), far below the
 * seconds a blocking agent takes. STALL_TEST=PATTERN runs some tests only;
 * XTAP_BUILD=DIR times another build's xtapd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "xtap_ctl.h"

#define STATUS_P50_MS  50
#define STATUS_MAX_MS  1000
#define N_IDLE         1000
#define N_PORTS        100

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A connection to xtapd, non-blocking (a stalled agent must not stall the test); -1 (errno) when refused. */
static int agent_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ENV_SOCK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (now_ms() >= end || poll(&p, 1, (int)(end - now_ms()) + 1) < 0)
			return -1;
	}
	return 0;
}

/* Reads up to EOF (or a newline when stop_at_newline) within timeout_ms; the bytes read, -1 on timeout. */
static ssize_t recv_reply(int fd, char *buf, size_t cap, int timeout_ms, int stop_at_newline)
{
	double end = now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n > 0) {
			got += n;
			buf[got] = 0;
			if ((stop_at_newline && memchr(buf, '\n', got)) || got + 1 == cap)
				return got;
			continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			buf[got] = 0;
			return got;
		}
		if (now_ms() >= end || poll(&p, 1, (int)(end - now_ms()) + 1) < 0) {
			buf[got] = 0;
			return -1;
		}
	}
}

/*
 * One request on a fresh connection: the reply line (JSON) in buf; 0, or -1
 * (no answer within timeout_ms). A full backlog is waited out, as a
 * blocking client would.
 */
static int request(const char *req, char *buf, size_t cap, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	int fd, ret = -1;

	while ((fd = agent_connect()) < 0 && errno == EAGAIN && now_ms() < end)
		usleep(1000);

	if (fd >= 0 && !send_all(fd, req, strlen(req), timeout_ms) &&
	    recv_reply(fd, buf, cap, timeout_ms, 1) > 0)
		ret = 0;
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- status latency ---- */

struct latency {
	double ms[4096];
	int n, failed;
};

/* Times one `status` (connect, request, whole reply); a refusal or no answer within 30 s counts as failed. */
static void status_sample(struct latency *l)
{
	char buf[4096];
	double t0 = now_ms();

	if (request("{\"cmd\":\"status\"}", buf, sizeof(buf), 30000) || !strstr(buf, "\"ok\":true")) {
		l->failed++;
		return;
	}
	if (l->n < (int)(sizeof(l->ms) / sizeof(l->ms[0])))
		l->ms[l->n++] = now_ms() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Prints p50/p99/max of the samples and asserts them against the margins. */
static void latency_check(struct latency *l, const char *what)
{
	double p50, p99, max;

	if (!l->n)
		print_message("status latency %s: no answer within 30 s (%d tries)\n", what, l->failed);
	assert_true(l->n > 0);
	qsort(l->ms, l->n, sizeof(l->ms[0]), cmp_double);
	p50 = l->ms[l->n / 2];
	p99 = l->ms[(l->n * 99) / 100];
	max = l->ms[l->n - 1];
	print_message("status latency %s: %d samples, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d without answer\n",
		      what, l->n, p50, p99, max, l->failed);
	assert_int_equal(l->failed, 0);
	assert_true(p50 < STATUS_P50_MS);
	assert_true(max < STATUS_MAX_MS);
}

/* Samples status every 10 ms for ms milliseconds. */
static void status_for(struct latency *l, int ms)
{
	double end = now_ms() + ms;

	while (now_ms() < end) {
		status_sample(l);
		usleep(10000);
	}
}

/* The JSON reply's "error", or "" (the reply must be one JSON object). */
static const char *reply_error(const char *reply)
{
	static char msg[512];
	json_object *o = json_tokener_parse(reply), *v;

	msg[0] = 0;
	if (o && json_object_object_get_ex(o, "error", &v))
		snprintf(msg, sizeof(msg), "%s", json_object_get_string(v));
	json_object_put(o);
	return msg;
}

/* ---- the faulty clients ---- */

/* Half a request, then silence: answered with an error after the request timeout, holding nobody meanwhile. */
static void test_half_request(void **s)
{
	struct latency l = { .n = 0 };
	const char half[] = "{\"cmd\": \"sta";
	char buf[1024];
	double t0;
	int fd;

	(void)s;
	fd = agent_connect();
	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, half, strlen(half), 1000), 0);
	t0 = now_ms();
	status_for(&l, 2000);
	latency_check(&l, "with a half request pending");
	assert_true(recv_reply(fd, buf, sizeof(buf), (XTAP_CTL_REQUEST_TIMEOUT_S + 5) * 1000, 0) > 0);
	print_message("the half request was answered after %.1f s: %s", (now_ms() - t0) / 1000, buf);
	assert_non_null(strstr(reply_error(buf), "request: incomplete after"));
	close(fd);
}

/*
 * One byte a second, from a process of its own (it keeps its pace whatever
 * xtapd does): the request timeout counts from the first byte, not from the
 * last. The child exits with the number of bytes it sent; the reply comes
 * through a pipe.
 */
static void test_byte_a_second(void **s)
{
	struct latency l = { .n = 0 };
	const char req[] = "{\"cmd\": \"status\"}";
	char buf[1024] = "";
	int fd, pipefd[2], status;
	double t0 = now_ms();
	ssize_t n;
	pid_t pid;

	(void)s;
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		size_t i;

		fd = agent_connect();
		for (i = 0; fd >= 0 && i < sizeof(req) - 1; i++) {
			if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
				break;   /* xtapd closed it: its reply is there to read */
			usleep(1000000);
		}
		n = fd >= 0 ? recv_reply(fd, buf, sizeof(buf), 5000, 0) : -1;
		if (n > 0 && write(pipefd[1], buf, n) != n)
			_exit(255);
		_exit(i);
	}
	close(pipefd[1]);
	status_for(&l, (XTAP_CTL_REQUEST_TIMEOUT_S + 1) * 1000);
	latency_check(&l, "with a client sending one byte a second");
	n = read(pipefd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	print_message("the byte-a-second client was answered after %.1f s (%d of %zu bytes sent): %s",
		      (now_ms() - t0) / 1000, WEXITSTATUS(status), sizeof(req) - 1, buf);
	assert_non_null(strstr(reply_error(buf), "request: incomplete after"));
	assert_true(WEXITSTATUS(status) < (int)sizeof(req) - 1);
}

static void raise_fd_limit(void)
{
	struct rlimit r;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &r), 0);
	if (r.rlim_cur < N_IDLE + 256) {
		r.rlim_cur = r.rlim_max;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &r), 0);
	}
	assert_true(r.rlim_cur >= N_IDLE + 256);
}

/*
 * 1000 connections that send nothing: past the cap each new one takes the
 * place of the oldest idle one, which is told why, and status gets through.
 */
static void test_idle_connections(void **s)
{
	static int fds[N_IDLE];
	struct latency l = { .n = 0 };
	int i, open_fds = 0, told = 0, tries;
	char buf[256], line[128];

	(void)s;
	raise_fd_limit();
	for (i = 0; i < N_IDLE; i++) {
		/* A full backlog says EAGAIN: a blocking agent's; try again for a while, then move on. */
		for (tries = 0; (fds[i] = agent_connect()) < 0 && tries < 100; tries++)
			usleep(1000);
		open_fds += fds[i] >= 0;
	}
	print_message("%d of %d idle connections made\n", open_fds, N_IDLE);
	status_for(&l, 2000);
	latency_check(&l, "with 1000 idle connections");
	snprintf(line, sizeof(line), XTAP_CTL_TOO_MANY, XTAP_CTL_MAX_CONNECTIONS);
	for (i = 0; i < N_IDLE; i++) {
		if (fds[i] < 0)
			continue;
		if (recv_reply(fds[i], buf, sizeof(buf), 0, 1) > 0 && !strcmp(reply_error(buf), line))
			told++;
		close(fds[i]);
	}
	print_message("%d idle connections were closed with \"%s\"\n", told, line);
	assert_int_equal(open_fds, N_IDLE);
	/* All but the newest (at most) 256 gave their place, each to a newer one or to a status sample. */
	assert_true(told >= N_IDLE - XTAP_CTL_MAX_CONNECTIONS);
}

/*
 * Past the cap, with every place held by a request under way, a new client
 * is answered the refusal line at once, and xtapctl prints it.
 */
static void test_past_the_cap(void **s)
{
	static int fds[XTAP_CTL_MAX_CONNECTIONS];
	char buf[256], line[128];
	double t0;
	int i, fd, rc;

	(void)s;
	raise_fd_limit();
	for (i = 0; i < XTAP_CTL_MAX_CONNECTIONS; i++) {
		fds[i] = agent_connect();
		assert_true(fds[i] >= 0);
		assert_int_equal(send_all(fds[i], "{", 1, 1000), 0);
	}
	/* The last of them is accepted and has its byte read once a status gets an answer. */
	usleep(100000);
	snprintf(line, sizeof(line), XTAP_CTL_TOO_MANY, XTAP_CTL_MAX_CONNECTIONS);
	t0 = now_ms();
	fd = agent_connect();
	assert_true(fd >= 0);
	assert_true(recv_reply(fd, buf, sizeof(buf), 2000, 1) > 0);
	print_message("client %d answered in %.1f ms: %s", XTAP_CTL_MAX_CONNECTIONS + 1, now_ms() - t0, buf);
	assert_string_equal(reply_error(buf), line);
	close(fd);
	rc = ctl(ctl_out, sizeof(ctl_out), "status");
	assert_int_equal(rc, 1);
	assert_non_null(strstr(ctl_out, line));
	for (i = 0; i < XTAP_CTL_MAX_CONNECTIONS; i++)
		close(fds[i]);
	/* Their places are free again once xtapd has seen them go. */
	for (i = 0; i < 100 && ctl(ctl_out, sizeof(ctl_out), "status"); i++)
		usleep(20000);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "status"), 0);
}

/* A request over the size limit: refused with an error naming the limit, the connection closed. */
static void test_oversize_request(void **s)
{
	size_t len = XTAP_CTL_MAX_REQUEST + 4096;
	char *req = malloc(len + 1), buf[1024], want[128];
	int fd;

	(void)s;
	assert_non_null(req);
	memset(req, 'a', len);
	memcpy(req, "{\"cmd\":\"status\",\"args\":{\"x\":\"", 29);
	req[len] = 0;
	fd = agent_connect();
	assert_true(fd >= 0);
	send_all(fd, req, len, 2000);   /* xtapd stops reading at the limit: this may fail with EPIPE */
	assert_true(recv_reply(fd, buf, sizeof(buf), 2000, 0) > 0);
	snprintf(want, sizeof(want), "request: larger than %d bytes", XTAP_CTL_MAX_REQUEST);
	print_message("oversize request: %s", buf);
	assert_non_null(strstr(reply_error(buf), want));
	close(fd);
	free(req);
}

/* port.list's reply length (the 100 ports test_port_adds made), read on a raw connection. */
static size_t port_list_len(void)
{
	char *buf = malloc(16 << 20);
	size_t len;

	assert_non_null(buf);
	assert_int_equal(request("{\"cmd\":\"port.list\"}", buf, 16 << 20, 30000), 0);
	len = strlen(buf);
	free(buf);
	return len;
}

/*
 * A client that asks for a reply larger than the socket holds and never
 * reads it: its reply waits in xtapd's output buffer, status does not.
 * ACL rules on the ports make port.list that large.
 */
static void test_client_never_reads(void **s)
{
	struct latency l = { .n = 0 };
	int fd, sndbuf = 0, port, rule, dir;
	socklen_t sl = sizeof(sndbuf);
	char req[256], small[1024], *buf;
	size_t reply_len;
	ssize_t got;

	(void)s;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);   /* what xtapd's end of a connection holds too */
	close(fd);
	for (port = 0; port < N_PORTS && (reply_len = port_list_len()) < (size_t)sndbuf * 3 / 2; port++)
		for (dir = 0; dir < 2; dir++)
			for (rule = 0; rule < 256; rule++) {
				snprintf(req, sizeof(req), "{\"cmd\":\"acl.add\",\"args\":{\"port\":\"p%d\","
					 "\"dir\":\"%s\",\"action\":\"allow\",\"cidr\":\"10.%d.%d.0/24\","
					 "\"proto\":\"tcp\",\"ports\":\"%d\"}}", port, dir ? "to-vm" : "from-vm",
					 dir, rule, 1000 + rule);
				assert_int_equal(request(req, small, sizeof(small), 10000), 0);
				assert_non_null(strstr(small, "\"ok\":true"));
			}
	print_message("port.list reply: %zu bytes (ACL rules on %d ports); a unix socket holds about %d\n",
		      reply_len, port, sndbuf);
	assert_true(reply_len > (size_t)sndbuf);
	fd = agent_connect();
	assert_true(fd >= 0);
	assert_int_equal(send_all(fd, "{\"cmd\":\"port.list\"}", 19, 1000), 0);
	status_for(&l, 1000);
	latency_check(&l, "with a client not reading its reply");
	/* Nothing was lost meanwhile: read now, the whole reply comes. */
	buf = malloc(reply_len * 2);
	assert_non_null(buf);
	got = recv_reply(fd, buf, reply_len * 2, 5000, 1);
	print_message("the reply read 1 s late: %zd bytes\n", got);
	assert_true(got > 0 && buf[got - 1] == '\n');
	assert_non_null(strstr(buf, "\"ok\":true"));
	free(buf);
	close(fd);
}

/* ---- 100 port adds (and deletes) from a second client ---- */

/*
 * The second client: adds (or deletes) ports p0..p99 one request after the
 * other. Exits PORT_CLIENT_FAILED when one was refused, else with how many
 * port adds returned before their xtap-vhost's socket was there.
 */
#define PORT_CLIENT_FAILED 255
static pid_t port_client(int add)
{
	pid_t pid = fork();
	char req[512], buf[4096], sock[128];
	int i, early = 0;

	if (pid)
		return pid;
	for (i = 0; i < N_PORTS; i++) {
		if (add)
			snprintf(req, sizeof(req), "{\"cmd\":\"port.add\",\"args\":{\"name\":\"p%d\",\"segment\":7,"
				 "\"mac\":\"02:00:00:07:00:%02x\",\"addrs\":[\"10.7.0.%d/32\"]}}", i, i, i + 1);
		else
			snprintf(req, sizeof(req), "{\"cmd\":\"port.del\",\"args\":{\"name\":\"p%d\"}}", i);
		if (request(req, buf, sizeof(buf), 30000) || !strstr(buf, "\"ok\":true")) {
			fprintf(stderr, "%s: %s\n", req, buf);
			_exit(PORT_CLIENT_FAILED);
		}
		snprintf(sock, sizeof(sock), ENV_VHOST_DIR "/p%d.sock", i);
		early += add && access(sock, F_OK);
	}
	_exit(early);
}

/* Samples status until the child is done; its exit code. */
static int status_while(pid_t child, struct latency *l)
{
	int status;

	while (waitpid(child, &status, WNOHANG) == 0) {
		status_sample(l);
		usleep(5000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *vhost_state(const char *port)
{
	static char state[32];
	json_object *o = ctl_json("port show %s", port), *v;

	state[0] = 0;
	if (json_object_object_get_ex(o, "status", &v) && json_object_object_get_ex(v, "vhost_user", &v) &&
	    json_object_object_get_ex(v, "state", &v))
		snprintf(state, sizeof(state), "%s", json_object_get_string(v));
	json_object_put(o);
	return state;
}

static void test_port_adds(void **s)
{
	struct latency l = { .n = 0 };
	char buf[4096];
	double t0;
	int i, starting, early;

	(void)s;
	must_ctl("segment add 7");
	t0 = now_ms();
	early = status_while(port_client(1), &l);
	assert_int_not_equal(early, PORT_CLIENT_FAILED);
	print_message("%d ports added in %.0f ms; %d adds returned before the port's vhost-user socket was there\n",
		      N_PORTS, now_ms() - t0, early);
	latency_check(&l, "during 100 port adds from another client");
	/* xtapd does not wait for xtap-vhost: had it waited, no add would have returned before the socket. */
	assert_true(early > 0);

	/* port.add returns before the port's xtap-vhost serves; port show says "starting" meanwhile. */
	assert_int_equal(request("{\"cmd\":\"port.add\",\"args\":{\"name\":\"pz\",\"segment\":7,"
				 "\"mac\":\"02:00:00:07:01:00\"}}", buf, sizeof(buf), 5000), 0);
	assert_non_null(strstr(buf, "\"ok\":true"));
	assert_int_equal(request("{\"cmd\":\"port.show\",\"args\":{\"name\":\"pz\"}}", buf, sizeof(buf), 5000), 0);
	starting = strstr(buf, "\"state\":\"starting\"") != NULL;
	print_message("port show right after port add: vhost_user %s\n",
		      starting ? "starting" : strstr(buf, "\"state\":\"running\"") ? "running" : buf);
	assert_true(starting || strstr(buf, "\"state\":\"running\""));
	/* ...and "running" once it serves, every one of them. */
	for (i = 0; i < N_PORTS; i++) {
		char name[16];
		int tries;

		snprintf(name, sizeof(name), "p%d", i);
		for (tries = 0; tries < 100 && strcmp(vhost_state(name), "running"); tries++)
			usleep(50000);
		if (strcmp(vhost_state(name), "running"))
			fail_msg("port %s: vhost_user %s, not running", name, vhost_state(name));
	}
	must_ctl("port del pz");
}

/* The stall tests that need a big reply run while the 100 ports exist; then they go, timed the same way. */
static void test_port_dels(void **s)
{
	struct latency l = { .n = 0 };
	double t0 = now_ms();

	(void)s;
	assert_int_equal(status_while(port_client(0), &l), 0);
	print_message("%d ports deleted in %.0f ms\n", N_PORTS, now_ms() - t0);
	latency_check(&l, "during 100 port deletes (xtap-vhost stops) from another client");
	must_ctl("segment del 7");
}

/* xtapctl as a user who may not use the socket is told so, not that xtapd is down. */
static void test_non_root_told_permission_denied(void **s)
{
	int pipefd[2], status;
	char out[1024] = "", bin[300];
	ssize_t n;
	pid_t pid;

	(void)s;
	snprintf(bin, sizeof(bin), "%s/xtapctl", getenv("XTAP_BUILD") ? getenv("XTAP_BUILD") : "build");
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 2);
		dup2(pipefd[1], 1);
		if (setgid(65534) || setuid(65534))
			_exit(99);
		execl(bin, "xtapctl", "-s", ENV_SOCK, "status", (char *)NULL);
		_exit(98);
	}
	close(pipefd[1]);
	n = read(pipefd[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	print_message("xtapctl status as uid 65534: exit %d: %s", WEXITSTATUS(status), out);
	assert_int_equal(WEXITSTATUS(status), 4);
	assert_non_null(strstr(out, "permission denied on " ENV_SOCK));
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return env_setup();
}

static int group_teardown(void **state)
{
	(void)state;
	env_teardown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_half_request),
		cmocka_unit_test(test_byte_a_second),
		cmocka_unit_test(test_idle_connections),
		cmocka_unit_test(test_past_the_cap),
		cmocka_unit_test(test_oversize_request),
		cmocka_unit_test(test_port_adds),
		cmocka_unit_test(test_client_never_reads),
		cmocka_unit_test(test_port_dels),
		cmocka_unit_test(test_non_root_told_permission_denied),
	};

	/* One test, or a pattern (cmocka's), e.g. to time an older xtapd under one stall. */
	if (getenv("STALL_TEST"))
		cmocka_set_test_filter(getenv("STALL_TEST"));
	return cmocka_run_group_tests_name("stall", tests, group_setup, group_teardown);
}
