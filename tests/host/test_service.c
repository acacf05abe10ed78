// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: xtapd as a systemd Type=notify service, with this test playing
 * systemd: a datagram socket as NOTIFY_SOCKET and WATCHDOG_USEC set. READY
 * comes once the bootstrap port's tap exists with the programs attached,
 * watchdog pings arrive at half the interval and stop while the agent's
 * thread is stuck, SIGTERM sends STOPPING, and
 * with stderr as the "journal" (JOURNAL_STREAM) lines carry priorities.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <dirent.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent_ctl.h"
#include "agent_env.h"

#define WATCHDOG_USEC 500000
static char notify_path[108];
static int notify_fd = -1;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The next notification within timeout_ms into buf; its length, or -1. */
static int next_message(char *buf, size_t cap, int timeout_ms)
{
	struct pollfd p = { .fd = notify_fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recv(notify_fd, buf, cap - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* Waits for a message holding what (WATCHDOG pings in between are skipped); 0 or -1. */
static int wait_for(const char *what, char *buf, size_t cap, int timeout_ms)
{
	double end = now_ms() + timeout_ms;

	while (now_ms() < end)
		if (next_message(buf, cap, (int)(end - now_ms()) + 1) > 0 && strstr(buf, what))
			return 0;
	return -1;
}

static int group_setup(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char usec[32];

	(void)state;
	/* A path, not an abstract name: the socket must be reachable from the sandbox's network namespace. */
	snprintf(notify_path, sizeof(notify_path), "/tmp/xtap-test-notify.%d", getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", notify_path);
	unlink(notify_path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0 || bind(notify_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("notify socket");
		return -1;
	}
	snprintf(usec, sizeof(usec), "%d", WATCHDOG_USEC);
	setenv("NOTIFY_SOCKET", notify_path, 1);
	setenv("WATCHDOG_USEC", usec, 1);
	env_agent_config = "{\"bootstrap\": {\"segments\": [{\"id\": 1}], \"ports\": "
			   "[{\"name\": \"svc1\", \"segment\": 1, \"mac\": \"02:00:00:00:03:01\"}]}}";
	/* Started by hand: env_setup would wait for the socket, and READY must be caught as it comes. */
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	env_teardown();
	if (notify_fd >= 0)
		close(notify_fd);
	unlink(notify_path);
	return 0;
}

/* At READY, read at once: the bootstrap port's tap is there with XDP and tc attached. */
static void test_ready_after_reconcile(void **s)
{
	char msg[1024], out[4096];
	FILE *p;
	size_t n;

	(void)s;
	assert_int_equal(env_setup_sandbox(), 0);
	assert_true(env_agent_spawn() > 0);
	assert_int_equal(wait_for("READY=1", msg, sizeof(msg), 60000), 0);
	p = popen("ip -d link show svc1 2>&1", "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	pclose(p);
	print_message("READY message: %s\n", msg);
	assert_non_null(strstr(out, "prog/xdp"));
	assert_non_null(strstr(msg, "STATUS=1 ports, 1 segments"));
	assert_true(env_agent_wait_ready() > 0);
}

static void test_watchdog_pings(void **s)
{
	double end = now_ms() + 2000;
	char msg[256];
	int pings = 0;

	(void)s;
	while (now_ms() < end)
		if (next_message(msg, sizeof(msg), (int)(end - now_ms()) + 1) > 0 && strstr(msg, "WATCHDOG=1"))
			pings++;
	print_message("watchdog pings in 2 s at WATCHDOG_USEC=%d: %d\n", WATCHDOG_USEC, pings);
	/* Every 250 ms: 8 expected; wide margins for a loaded machine, but never fewer than one per interval. */
	assert_true(pings >= 4);
	assert_true(pings <= 12);
}

/* xtapd's thread other than the main one: the agent's. */
static pid_t agent_thread(pid_t pid)
{
	char path[64];
	struct dirent *e;
	pid_t tid = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) > 0 && atoi(e->d_name) != pid)
			tid = atoi(e->d_name);
	if (d)
		closedir(d);
	return tid;
}

/* The agent's thread stopped (ptrace, that thread alone): status still answers, the pings stop, then resume. */
static void test_stuck_agent_thread_stops_pings(void **s)
{
	pid_t tid = agent_thread(env_agent_pid());
	double end;
	char msg[256];
	int st, pings = 0;

	(void)s;
	assert_true(tid > 0);
	assert_int_equal(ptrace(PTRACE_SEIZE, tid, 0, 0), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, tid, 0, 0), 0);
	assert_int_equal(waitpid(tid, &st, __WALL), tid);
	/* A ping already due may still come within the interval (250 ms): from 0.6 s on, none. */
	end = now_ms() + 600;
	while (now_ms() < end)
		next_message(msg, sizeof(msg), (int)(end - now_ms()) + 1);
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "status"), 0);
	end = now_ms() + 1500;
	while (now_ms() < end)
		if (next_message(msg, sizeof(msg), (int)(end - now_ms()) + 1) > 0 && strstr(msg, "WATCHDOG=1"))
			pings++;
	assert_int_equal(ptrace(PTRACE_DETACH, tid, 0, 0), 0);
	print_message("pings in 1.5 s with the agent's thread stopped: %d\n", pings);
	assert_int_equal(pings, 0);
	assert_int_equal(wait_for("WATCHDOG=1", msg, sizeof(msg), 5000), 0);
	assert_int_equal(system("grep -q \"the agent's thread has not turned\" " ENV_LOG), 0);
}

static void test_stopping_on_sigterm(void **s)
{
	pid_t pid = env_agent_pid();
	char msg[256];
	int st;

	(void)s;
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(wait_for("STOPPING=1", msg, sizeof(msg), 10000), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* The datapath stays: the tap keeps its programs. */
	assert_int_equal(system("ip -d link show svc1 | grep -q prog/xdp"), 0);
}

/* With JOURNAL_STREAM naming its stderr, each line starts with its sd-daemon priority. */
static void test_journal_priorities(void **s)
{
	char js[64], buf[65536];
	struct stat st;
	FILE *f;
	size_t n;

	(void)s;
	f = fopen(ENV_LOG, "w");   /* the agent's stderr, emptied */
	assert_non_null(f);
	fclose(f);
	assert_int_equal(stat(ENV_LOG, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	assert_true(env_agent_start() > 0);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(ctl(ctl_out, sizeof(ctl_out), "acl del svc1 from-vm 77"), 1);   /* logged at debug only */
	f = fopen(ENV_LOG, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	print_message("log under the journal: %.*s", (int)(strchr(buf, '\n') ? strchr(buf, '\n') - buf + 1 : 0), buf);
	assert_non_null(strstr(buf, "<6>xtapd: info: ready: 1 ports"));
	assert_null(strstr(buf, "\nxtapd: "));   /* no line without its priority */
	/* And without it, none. */
	env_agent_kill();
	f = fopen(ENV_LOG, "w");
	fclose(f);
	assert_true(env_agent_start() > 0);
	f = fopen(ENV_LOG, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	assert_non_null(strstr(buf, "xtapd: info: ready: 1 ports"));
	assert_null(strstr(buf, "<6>"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_after_reconcile),
		cmocka_unit_test(test_watchdog_pings),
		cmocka_unit_test(test_stuck_agent_thread_stops_pings),
		cmocka_unit_test(test_stopping_on_sigterm),
		cmocka_unit_test(test_journal_priorities),
	};

	return cmocka_run_group_tests_name("service", tests, group_setup, group_teardown);
}
