// SPDX-License-Identifier: GPL-2.0
/*
 * Tier 2: the agent's life around its two shared things, the pin directory
 * and the state file. One agent per pin directory and state file (a second
 * one, or a teardown behind another socket, is refused naming the holder's
 * pid, and the first one's VMs keep their frames); a state file that does
 * not load is refused whole, naming the place, and left byte for byte as it
 * was; FILE.prev is kept on every save and --recover-state starts from it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "agent_ctl.h"
#include "agent_env.h"
#include "pktbuild.h"

#define RUN         "/run/xtap-test"
#define CONFIG      RUN "/xtapd.json"
#define OTHER_SOCK  RUN "/other.sock"
#define OTHER_DIR   RUN "/other"
#define OTHER_STATE OTHER_DIR "/state.json"
#define OTHER_PINS  "/sys/fs/bpf/xtap-other"
#define BAD_SOCK    RUN "/bad.sock"
#define BAD_STATE   RUN "/bad/state.json"
#define BAD_PINS    "/sys/fs/bpf/xtap-bad"
#define REC_SOCK    RUN "/rec.sock"
#define REC_STATE   RUN "/rec/state.json"
#define REC_PINS    "/sys/fs/bpf/xtap-rec"
#define REC_LOG     RUN "/rec.log"

static struct vm vm_a = { .name = "vmA" }, vm_b = { .name = "vmB" };
static pid_t rec_pid;
static char out[16384];

static const char *build_dir(void)
{
	const char *b = getenv("XTAP_BUILD");

	return b ? b : "build";
}

static int exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* The whole file (NUL-terminated), or NULL; *len its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		buf = realloc(buf, cap + 4097);
		*len += fread(buf + *len, 1, 4096, f);
		cap += 4096;
		if (*len < cap)
			break;
	}
	fclose(f);
	buf[*len] = 0;
	return buf;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void split_args(char *cmd, char **argv, int *argc, int max)
{
	char *save, *tok;

	for (tok = strtok_r(cmd, " ", &save); tok && *argc < max - 1; tok = strtok_r(NULL, " ", &save))
		argv[(*argc)++] = tok;
	argv[*argc] = NULL;
}

/*
 * Runs xtapd with the arguments (split on spaces), its output in out: its
 * exit code (128 + the signal that killed it, as a shell says), or -1 when
 * it still runs after 20 s (an agent that was not refused: it is killed).
 */
static int __attribute__((format(printf, 1, 2))) xtapd_run(const char *fmt, ...)
{
	char cmd[1024], bin[256], *argv[32];
	int pipefd[2], argc = 0, status = 0, exited = 0, eof = 0;
	struct timespec start, now;
	size_t got = 0;
	ssize_t n;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(bin, sizeof(bin), "%s/xtapd", build_dir());
	argv[argc++] = bin;
	split_args(cmd, argv, &argc, 32);
	if (pipe2(pipefd, O_CLOEXEC))
		return -2;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(bin, argv);
		_exit(127);
	}
	close(pipefd[1]);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };

		/* Its output until it closes it (it exits), then its exit status. */
		if (!eof && poll(&p, 1, 100) == 1) {
			n = read(pipefd[0], out + got, sizeof(out) - got - 1);
			got += n > 0 ? n : 0;
			eof = n <= 0 || got + 1 >= sizeof(out);
		} else if (eof) {
			usleep(10000);
		}
		exited = waitpid(pid, &status, WNOHANG) == pid;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (!exited && now.tv_sec - start.tv_sec < 20);
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	while (got + 1 < sizeof(out) && (n = read(pipefd[0], out + got, sizeof(out) - got - 1)) > 0)
		got += n;
	out[got] = 0;
	close(pipefd[0]);
	if (!exited)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int socket_answers(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* An agent of the recovery test, in the background (log in REC_LOG), once its socket answers. */
static pid_t rec_agent_start(const char *extra)
{
	char bin[256];
	int i, log;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/xtapd", build_dir());
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		log = open(REC_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		dup2(log, 1);
		dup2(log, 2);
		execl(bin, "xtapd", "-s", REC_SOCK, "--state", REC_STATE, "--pin-dir", REC_PINS, "-c", CONFIG,
		      extra, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 1200; i++) {
		if (socket_answers(REC_SOCK))
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void rec_agent_stop(void)
{
	if (rec_pid > 0) {
		kill(rec_pid, SIGTERM);
		waitpid(rec_pid, NULL, 0);
	}
	rec_pid = 0;
}

#define assert_output_has(text) do { \
	if (!strstr(out, (text))) \
		fail_msg("expected \"%s\" in:\n%s", (text), out); \
} while (0)

/* A frame from A reaches B: the first agent's datapath still works. */
static void assert_a_reaches_b(void)
{
	uint8_t buf[2048];
	struct pkt p;

	pkt_init(&p);
	pkt_eth(&p, vm_b.mac, vm_a.mac, ETH_P_IP);
	pkt_ipv4(&p, vm_a.ip4, vm_b.ip4, IPPROTO_UDP);
	pkt_udp(&p, 40000, 5000, 64);
	pkt_finish(&p);
	assert_int_equal(vm_write(&vm_a, NULL, p.data, p.len), 0);
	assert_int_equal(vm_read(&vm_b, buf, sizeof(buf), NULL, 2000), (int)p.len);
	assert_memory_equal(buf, p.data, p.len);
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
	if (ctl_vm_add(&vm_a, 1, "02:00:00:00:02:0a", "10.2.0.10") || ctl_vm_add(&vm_b, 1, "02:00:00:00:02:0b", "10.2.0.11"))
		return -1;
	if (mkdir(RUN "/bad", 0700) || mkdir(RUN "/rec", 0700))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rec_agent_stop();
	vm_close(&vm_a);
	vm_close(&vm_b);
	env_teardown();
	return 0;
}

/* ---- one agent per pin directory and state file ---- */

/*
 * A second xtapd with the first agent's `shared` path (its other paths its
 * own) is refused naming the first agent's pid and `option`, makes nothing
 * of its own (`made`: what it would have made), and leaves the first agent's
 * state file and forwarding as they were.
 */
static void second_agent_refused(const char *state, const char *pins, const char *shared, const char *option,
				 const char *made)
{
	size_t len_before, len_after;
	char *before = slurp(ENV_STATE, &len_before), *after, want[256];
	int rc;

	assert_non_null(before);
	rc = xtapd_run("-s %s --state %s --pin-dir %s -c %s", OTHER_SOCK, state, pins, CONFIG);
	if (rc != 1)
		fail_msg("a second xtapd on %s: exit %d (want 1):\n%s", shared, rc, out);
	snprintf(want, sizeof(want), "%s is used by xtapd pid %d (stop it first, or use %s)", shared,
		 (int)env_agent_pid(), option);
	assert_output_has(want);
	assert_false(exists(OTHER_SOCK));
	assert_false(exists(made));
	after = slurp(ENV_STATE, &len_after);
	assert_int_equal(len_after, len_before);
	assert_memory_equal(after, before, len_before);
	assert_a_reaches_b();
	free(before);
	free(after);
}

static void test_second_agent_on_the_pin_dir_is_refused(void **s)
{
	(void)s;
	/* Its own state file's directory is not made. */
	second_agent_refused(OTHER_STATE, ENV_PINS, ENV_PINS, "--pin-dir", OTHER_DIR);
}

static void test_second_agent_on_the_state_file_is_refused(void **s)
{
	(void)s;
	/* The pin directory it made to lock goes again. */
	second_agent_refused(ENV_STATE, OTHER_PINS, ENV_STATE, "--state", OTHER_PINS);
}

static void test_teardown_behind_another_socket_is_refused(void **s)
{
	char want[128], maps[128];
	int rc;

	(void)s;
	rc = ctl(out, sizeof(out), "-s %s --pin-dir %s teardown", OTHER_SOCK, ENV_PINS);
	if (rc != 1)
		fail_msg("teardown of %s through %s: exit %d (want 1):\n%s", ENV_PINS, OTHER_SOCK, rc, out);
	snprintf(want, sizeof(want), "%s is used by xtapd pid %d", ENV_PINS, (int)env_agent_pid());
	assert_output_has(want);
	assert_output_has("nothing changed");
	snprintf(maps, sizeof(maps), "%s/xtap_ports", ENV_PINS);
	assert_true(exists(maps));
	assert_a_reaches_b();
}

static void test_teardown_with_no_agent_anywhere_says_so(void **s)
{
	int rc;

	(void)s;
	/* Nobody holds this pin directory: the usual "not running" (exit 3), not a refusal. */
	rc = ctl(out, sizeof(out), "-s %s --pin-dir %s teardown", OTHER_SOCK, "/sys/fs/bpf");
	if (rc != 3)
		fail_msg("teardown with no agent: exit %d (want 3):\n%s", rc, out);
	assert_output_has("xtapd is not running");
}

static void test_killed_agent_leaves_no_lock(void **s)
{
	(void)s;
	env_agent_kill();
	/* The kernel drops a dead process's flocks: a new agent takes over at once. */
	assert_true(env_agent_start() > 0);
	assert_a_reaches_b();
	must_ctl("port show vmA");
}

/* ---- the state file: refused whole, left as it was ---- */

#define SEG1 "{\"id\":1}"
#define PORT(name, seg, mac) "{\"name\":\"" name "\",\"segment\":" seg ",\"mac\":\"" mac "\"}"
#define MAC1 "02:00:00:00:0b:01"
#define MAC2 "02:00:00:00:0b:02"
#define GOOD "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "1", MAC1) "," PORT("bad1", "1", MAC2) "]}"

static const struct bad_state {
	const char *what, *text, *where, *problem;
} bad_states[] = {
	/* wrong types */
	{ "segments a string", "{\"segments\":\"1\",\"ports\":[]}", "segments:", "expected an array, not string" },
	{ "ports an object", "{\"segments\":[],\"ports\":{\"name\":\"bad0\"}}", "ports:", "expected an array, not object" },
	{ "ports a number", "{\"segments\":[],\"ports\":7}", "ports:", "expected an array, not int" },
	{ "the top level an array", "[" SEG1 "]", "the top level", "must be an object" },
	{ "a segment a number", "{\"segments\":[1]}", "segments[0]:", "expected a JSON object" },
	{ "a segment id a string", "{\"segments\":[{\"id\":\"1\"}]}", "segments[0]:", "\"id\"" },
	{ "a port's segment a string", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "\"1\"", MAC1) "]}",
	  "ports[0] (bad0):", "\"segment\"" },
	{ "acl rules a string",
	  "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,\"mac\":\"" MAC1 "\","
	  "\"acl\":{\"from-vm\":{\"rules\":\"allow\"}}}]}",
	  "ports[0] (bad0): acl from-vm rules:", "expected an array" },
	{ "a rule's priority out of range",
	  "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,\"mac\":\"" MAC1 "\","
	  "\"acl\":{\"to-vm\":{\"rules\":[{\"action\":\"deny\"},{\"action\":\"deny\",\"priority\":70000}]}}}]}",
	  "ports[0] (bad0): acl to-vm rules[1]:", "\"priority\"" },
	{ "an unknown top-level key", "{\"segments\":[],\"portz\":[]}", "unknown key \"portz\"", "at the top level" },
	{ "a NUL in a port name", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad\\u0000x", "1", MAC1) "]}",
	  "ports[0] (bad):", "must not contain a NUL" },
	/* inconsistencies */
	{ "a port in a segment not listed", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "1", MAC1) ","
	  PORT("bad1", "7", MAC2) "]}", "ports[1].segment:", "segment 7 of port bad1 is not in segments" },
	{ "two ports with one name", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "1", MAC1) ","
	  PORT("bad0", "1", MAC2) "]}", "ports[1].name:", "port bad0 is also ports[0]" },
	{ "two ports with one id", "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,\"mac\":\""
	  MAC1 "\",\"port_id\":3},{\"name\":\"bad1\",\"segment\":1,\"mac\":\"" MAC2 "\",\"port_id\":3}]}",
	  "ports[1].port_id:", "port bad1 has id 3, like port bad0 (ports[0])" },
	{ "a port named like an uplink", "{\"segments\":[{\"id\":1,\"uplink\":\"bad1\"}],\"ports\":["
	  PORT("bad1", "1", MAC1) "]}", "ports[0].name:", "bad1 is the uplink of segment 1" },
	{ "two ports with one MAC in a segment", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "1", MAC1) ","
	  PORT("bad1", "1", MAC1) "]}", "ports[1].mac:", "port bad1 has " MAC1 ", like port bad0 (ports[0]) in segment 1" },
	{ "two ports holding overlapping addresses in a segment", "{\"segments\":[" SEG1 "],\"ports\":["
	  "{\"name\":\"bad0\",\"segment\":1,\"mac\":\"" MAC1 "\",\"addrs\":[\"10.9.0.0/24\"]},"
	  "{\"name\":\"bad1\",\"segment\":1,\"mac\":\"" MAC2 "\",\"addrs\":[\"10.9.0.5/32\"]}]}",
	  "port bad0: address 10.9.0.0/24", "overlaps 10.9.0.5/32 of port bad1 in segment 1" },
	{ "an owner id of 4294967295", "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,"
	  "\"mac\":\"" MAC1 "\",\"owner_uid\":4294967295}]}", "port bad0: owner", "ids are 0-4294967294" },
	{ "two segments with one id", "{\"segments\":[" SEG1 "," SEG1 "]}", "segments[1].id:", "segment 1 is also segments[0]" },
	{ "two segments on one uplink and VLAN",
	  "{\"segments\":[{\"id\":1,\"uplink\":\"eth9\",\"vlan\":5},{\"id\":2,\"uplink\":\"eth9\",\"vlan\":5}]}",
	  "segments[1].uplink:", "eth9 VLAN 5 already carries segment 1" },
	{ "one rule id in both directions",
	  "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,\"mac\":\"" MAC1 "\","
	  "\"acl\":{\"from-vm\":{\"rules\":[{\"id\":5,\"action\":\"deny\"}]},\"to-vm\":{\"rules\":[{\"id\":5,\"action\":\"deny\"}]}}}]}",
	  "ports[0] (bad0): acl to-vm rules[0].id:", "5 is also acl from-vm rules[0]'s" },
	{ "the last rule id taken",
	  "{\"segments\":[" SEG1 "],\"ports\":[{\"name\":\"bad0\",\"segment\":1,\"mac\":\"" MAC1 "\","
	  "\"acl\":{\"from-vm\":{\"rules\":[{\"id\":4294967295,\"action\":\"deny\"}]}}}]}",
	  "ports[0] (bad0): acl from-vm rules[0].id:", "4294967295 is the last id" },
	/* not a whole JSON text */
	{ "an empty file", "", "the file is empty", "" },
	{ "a truncated file", "{\"segments\":[" SEG1 "],\"ports\":[" PORT("bad0", "1", MAC1), "the JSON text ends early",
	  "truncated" },
	{ "not JSON", "segments: 1\n", "not valid JSON at line 1, column 1", "" },
	{ "trailing garbage", GOOD "\n}\n", "trailing data after the JSON text, at line 2, column 1", "" },
	{ "a single-quoted string", "{\"segments\":[{\"id\":1,\"uplink\":'eth0'}]}", "not valid JSON at line 1, column 31",
	  "" },
	{ "invalid UTF-8", "{\"segments\":[{\"id\":1,\"uplink\":\"\xff\"}]}", "not valid JSON at line 1", "utf-8" },
};

static void test_bad_state_files_are_refused_untouched(void **s)
{
	size_t i, len;
	char *after;
	int rc;

	(void)s;
	for (i = 0; i < sizeof(bad_states) / sizeof(bad_states[0]); i++) {
		const struct bad_state *b = &bad_states[i];

		write_text(BAD_STATE, b->text, strlen(b->text));
		rc = xtapd_run("-s %s --state %s --pin-dir %s -c %s", BAD_SOCK, BAD_STATE, BAD_PINS, CONFIG);
		if (rc != 1)
			fail_msg("%s: exit %d (want 1):\n%s", b->what, rc, out);
		if (!strstr(out, BAD_STATE ": ") || !strstr(out, b->where) || !strstr(out, b->problem))
			fail_msg("%s: want \"%s: ...%s...%s\" in:\n%s", b->what, BAD_STATE, b->where, b->problem, out);
		/* No .prev yet: the advice is to fix the file. */
		if (!strstr(out, "nothing changed; fix the file"))
			fail_msg("%s: no advice in:\n%s", b->what, out);
		after = slurp(BAD_STATE, &len);
		if (!after || len != strlen(b->text) || memcmp(after, b->text, len))
			fail_msg("%s: the file changed", b->what);
		free(after);
		if (exists(BAD_STATE ".tmp") || exists(BAD_STATE ".prev") || exists(BAD_STATE ".bad") ||
		    exists(BAD_PINS) || exists(BAD_SOCK))
			fail_msg("%s: the refused agent left something behind", b->what);
	}
}

/* ---- FILE.prev and --recover-state ---- */

static json_object *rec_segments(void)
{
	if (ctl(out, sizeof(out), "-s %s -j segment list", REC_SOCK))
		fail_msg("segment list: %s", out);
	return json_tokener_parse(out);
}

static void test_prev_is_kept_and_recovery_starts_from_it(void **s)
{
	static const char broken[] = "{\"segments\":[{\"id\":5,\"uplink\":\"\",\"vl";
	size_t len5, len56, len_prev, len;
	char *with5, *with56, *prev, *text;
	json_object *segs;
	int rc;

	(void)s;
	rec_pid = rec_agent_start(NULL);
	assert_true(rec_pid > 0);
	if (ctl(out, sizeof(out), "-s %s segment add 5", REC_SOCK))
		fail_msg("segment add 5: %s", out);
	with5 = slurp(REC_STATE, &len5);
	if (ctl(out, sizeof(out), "-s %s segment add 6", REC_SOCK))
		fail_msg("segment add 6: %s", out);
	with56 = slurp(REC_STATE, &len56);
	prev = slurp(REC_STATE ".prev", &len_prev);
	/* The save that added 6 kept the version before it, byte for byte. */
	assert_non_null(prev);
	assert_int_equal(len_prev, len5);
	assert_memory_equal(prev, with5, len5);
	assert_non_null(strstr(with56, "\"id\":6"));
	/* A save that fails (FILE.tmp cannot be created) leaves FILE and FILE.prev as they were. */
	assert_int_equal(mkdir(REC_STATE ".tmp", 0700), 0);
	if (ctl(out, sizeof(out), "-s %s segment add 7", REC_SOCK) != 1)
		fail_msg("segment add 7 with an unwritable state: %s", out);
	assert_output_has("saving state to " REC_STATE " failed (writing the new version)");
	assert_int_equal(rmdir(REC_STATE ".tmp"), 0);
	text = slurp(REC_STATE, &len);
	assert_int_equal(len, len56);
	assert_memory_equal(text, with56, len);
	free(text);
	text = slurp(REC_STATE ".prev", &len);
	assert_int_equal(len, len5);
	assert_memory_equal(text, with5, len);
	free(text);
	rec_agent_stop();

	/* A file that does not load: refused, the advice names FILE.prev and its age, the file stays. */
	write_text(REC_STATE, broken, sizeof(broken) - 1);
	rc = xtapd_run("-s %s --state %s --pin-dir %s -c %s", REC_SOCK, REC_STATE, REC_PINS, CONFIG);
	if (rc != 1)
		fail_msg("a truncated state file: exit %d (want 1):\n%s", rc, out);
	assert_output_has(REC_STATE ": the JSON text ends early");
	assert_output_has("the previous version is " REC_STATE ".prev (saved ");
	assert_output_has("xtapd --recover-state");
	text = slurp(REC_STATE, &len);
	assert_int_equal(len, sizeof(broken) - 1);
	assert_memory_equal(text, broken, len);
	free(text);

	/* --recover-state: the agent starts from FILE.prev, the bad file is kept as FILE.bad. */
	rec_pid = rec_agent_start("--recover-state");
	assert_true(rec_pid > 0);
	segs = rec_segments();
	assert_non_null(segs);
	assert_int_equal(json_object_array_length(segs), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(json_object_array_get_idx(segs, 0), "id")), 5);
	json_object_put(segs);
	text = slurp(REC_STATE ".bad", &len);
	assert_non_null(text);
	assert_int_equal(len, sizeof(broken) - 1);
	assert_memory_equal(text, broken, len);
	free(text);
	rec_agent_stop();

	/* A file that loads has nothing to recover: refused, untouched. */
	text = slurp(REC_STATE, &len5);
	rc = xtapd_run("-s %s --state %s --pin-dir %s -c %s --recover-state", REC_SOCK, REC_STATE, REC_PINS, CONFIG);
	if (rc != 1)
		fail_msg("--recover-state with a good file: exit %d (want 1):\n%s", rc, out);
	assert_output_has("there is nothing to recover");
	free(prev);
	prev = slurp(REC_STATE, &len);
	assert_int_equal(len, len5);
	assert_memory_equal(prev, text, len);
	free(text);
	free(prev);
	free(with5);
	free(with56);
}

/* Rule ids run out cleanly: the last one handed out leaves a state file that still loads. */
static void test_rule_ids_run_out_cleanly(void **s)
{
	static const char state[] = "{\"segments\":[{\"id\":9}],\"ports\":[{\"name\":\"vmZ\",\"segment\":9,"
				    "\"mac\":\"02:00:00:00:0b:09\",\"next_rule_id\":4294967294}]}";

	(void)s;
	rec_agent_stop();
	write_text(REC_STATE, state, sizeof(state) - 1);
	rec_pid = rec_agent_start(NULL);
	assert_true(rec_pid > 0);
	if (ctl(out, sizeof(out), "-s %s acl add vmZ from-vm deny --proto tcp", REC_SOCK))
		fail_msg("acl add with id 4294967294 left: %s", out);
	assert_non_null(strstr(out, "4294967294"));
	if (ctl(out, sizeof(out), "-s %s acl add vmZ from-vm deny --proto udp", REC_SOCK) != 1)
		fail_msg("acl add with no id left: %s", out);
	assert_output_has("all 4294967294 rule ids have been used");
	rec_agent_stop();
	/* What it saved loads. */
	rec_pid = rec_agent_start(NULL);
	assert_true(rec_pid > 0);
	if (ctl(out, sizeof(out), "-s %s teardown", REC_SOCK))
		fail_msg("teardown: %s", out);
	waitpid(rec_pid, NULL, 0);
	rec_pid = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_agent_on_the_pin_dir_is_refused),
		cmocka_unit_test(test_second_agent_on_the_state_file_is_refused),
		cmocka_unit_test(test_teardown_behind_another_socket_is_refused),
		cmocka_unit_test(test_teardown_with_no_agent_anywhere_says_so),
		cmocka_unit_test(test_killed_agent_leaves_no_lock),
		cmocka_unit_test(test_bad_state_files_are_refused_untouched),
		cmocka_unit_test(test_prev_is_kept_and_recovery_starts_from_it),
		cmocka_unit_test(test_rule_ids_run_out_cleanly),
	};

	return cmocka_run_group_tests_name("lifecycle", tests, group_setup, group_teardown);
}
