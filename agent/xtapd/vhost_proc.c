// SPDX-License-Identifier: GPL-2.0
/* Starting, finding and stopping the per-port xtap-vhost processes. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "vhost_proc.h"

#define START_TIMEOUT_MS 3000
/* sun_path (108) - NUL - "/" - the longest port name (IFNAMSIZ - 1) - ".sock.tmp" */
#define XTAP_VHOST_DIR_MAX (108 - 1 - 1 - (IFNAMSIZ - 1) - 9)
#define STOP_TIMEOUT_MS  1000

static void port_path(const struct xtap_vhost_procs *v, const char *port, const char *ext,
		      char *out, size_t len)
{
	snprintf(out, len, "%s/%s.%s", v->dir, port, ext);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void xtap_vhost_procs_init(struct xtap_vhost_procs *v, const char *control_socket)
{
	char buf[PATH_MAX];
	ssize_t n;

	snprintf(buf, sizeof(buf), "%s", control_socket);
	v->exe[0] = 0;
	/* xtap-vhost binds DIR/PORT.sock.tmp: with the longest port name it must fit a unix socket path. */
	if (snprintf(v->dir, sizeof(v->dir), "%s/vhost", dirname(buf)) > XTAP_VHOST_DIR_MAX) {
		xtap_log(XTAP_LOG_WARN, "vhost-user is off: %s is longer than %d bytes, too long for the ports' "
			 "unix sockets (give xtapd a shorter --socket path)", v->dir, XTAP_VHOST_DIR_MAX);
		v->dir[0] = 0;
		return;
	}
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		snprintf(v->exe, sizeof(v->exe), "%s/xtap-vhost", dirname(buf));
	}
	if (!v->exe[0] || access(v->exe, X_OK)) {
		xtap_log(XTAP_LOG_WARN, "no xtap-vhost next to xtapd (%s): ports get no vhost-user socket "
			 "(install it with xtapd: make install)", v->exe);
		v->exe[0] = 0;
	}
}

/* /proc/PID/FILE into buf (NUL-terminated); its length, or 0 when it cannot be read or is empty. */
static size_t read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return n;
}

/*
 * The pid serving the port, or 0. A pid alone may have been reused: the
 * process must be an xtap-vhost for this very port (a zombie has no cmdline).
 */
static pid_t running_pid(const struct xtap_vhost_procs *v, const char *port)
{
	char path[PATH_MAX], cmd[4096];
	json_object *st, *o;
	size_t n, i;
	pid_t pid = 0;
	int found = 0;

	port_path(v, port, "json", path, sizeof(path));
	st = json_object_from_file(path);
	if (st && json_object_object_get_ex(st, "pid", &o))
		pid = json_object_get_int(o);
	json_object_put(st);
	if (pid <= 0)
		return 0;
	n = read_proc(pid, "cmdline", cmd, sizeof(cmd));
	/* argv0 ends in xtap-vhost, and some argument pair is "--port" PORT. */
	if (!strstr(cmd, "xtap-vhost"))
		return 0;
	for (i = 0; i < n; i += strlen(cmd + i) + 1)
		if (!strcmp(cmd + i, "--port") && i + 7 < n && !strcmp(cmd + i + 7, port))
			found = 1;
	return found ? pid : 0;
}

/*
 * Double fork: the middle child exits at once, so the grandchild belongs to
 * init, not to xtapd, and outlives it. The pipe tells xtapd the grandchild's
 * pid, then (closed by exec on success) whether exec failed.
 */
static pid_t spawn(const struct xtap_vhost_procs *v, const struct xtap_port_conf *p, int *exec_errno)
{
	char sock[PATH_MAX], status[PATH_MAX], queues[16], owner[48];
	const char *argv[16];
	int argc = 0, devnull, pfd[2], e;
	pid_t child, pid = 0;

	*exec_errno = 0;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (child > 0) {
		close(pfd[1]);
		waitpid(child, NULL, 0);
		if (read(pfd[0], &pid, sizeof(pid)) != sizeof(pid))
			pid = -ECHILD;
		else if (read(pfd[0], exec_errno, sizeof(*exec_errno)) != sizeof(*exec_errno))
			*exec_errno = 0;
		close(pfd[0]);
		return pid;
	}
	close(pfd[0]);
	pid = fork();
	if (pid != 0) {
		if (pid < 0)
			pid = -errno;
		if (write(pfd[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		_exit(0);
	}
	setsid();
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	if (pfd[1] != 3) {
		dup2(pfd[1], 3);   /* O_CLOEXEC is not kept by dup2: set again below */
		pfd[1] = 3;
	}
	fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
	close_range(4, ~0U, 0);
	port_path(v, p->name, "sock", sock, sizeof(sock));
	port_path(v, p->name, "json", status, sizeof(status));
	snprintf(queues, sizeof(queues), "%u", p->queues);
	argv[argc++] = v->exe;
	argv[argc++] = "--port";
	argv[argc++] = p->name;
	argv[argc++] = "--socket";
	argv[argc++] = sock;
	argv[argc++] = "--status";
	argv[argc++] = status;
	argv[argc++] = "--queues";
	argv[argc++] = queues;
	if (p->queues > 1)
		argv[argc++] = "--multi-queue";
	if (p->owner_uid >= 0 || p->owner_gid >= 0) {
		snprintf(owner, sizeof(owner), "%ld:%ld", p->owner_uid, p->owner_gid);
		argv[argc++] = "--owner";
		argv[argc++] = owner;
	}
	if (xtap_log_enabled(XTAP_LOG_DEBUG))
		argv[argc++] = "-v";
	argv[argc] = NULL;
	execv(v->exe, (char *const *)argv);
	e = errno;
	if (write(pfd[1], &e, sizeof(e)) != sizeof(e))
		_exit(127);
	_exit(127);
}

/* The process exists and is not a zombie. */
static int alive(pid_t pid)
{
	char buf[512], *state;

	if (!read_proc(pid, "stat", buf, sizeof(buf)))
		return 0;
	state = strrchr(buf, ')');
	return state && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

int xtap_vhost_proc_running(const struct xtap_vhost_procs *v, const char *port)
{
	return !v->exe[0] || running_pid(v, port) > 0;
}

int xtap_vhost_proc_ensure(const struct xtap_vhost_procs *v, const struct xtap_port_conf *p,
			   struct xtap_err *err)
{
	char sock[PATH_MAX], status[PATH_MAX];
	struct stat st;
	int waited, exec_errno;
	pid_t pid;

	if (!v->exe[0] || running_pid(v, p->name))
		return 0;
	if (mkdir(v->dir, 0755) && errno != EEXIST)
		return xtap_fail(err, -errno, "creating %s: %s", v->dir, strerror(errno));
	port_path(v, p->name, "sock", sock, sizeof(sock));
	port_path(v, p->name, "json", status, sizeof(status));
	unlink(status);
	pid = spawn(v, p, &exec_errno);
	if (pid < 0)
		return xtap_fail(err, pid, "port %s: starting xtap-vhost: %s", p->name, strerror(-pid));
	if (exec_errno)
		return xtap_fail(err, -exec_errno, "port %s: running %s: %s", p->name, v->exe,
				 strerror(exec_errno));
	for (waited = 0; waited < START_TIMEOUT_MS; waited += 5) {
		if (running_pid(v, p->name) == pid && !stat(sock, &st) && S_ISSOCK(st.st_mode))
			return 0;
		if (!alive(pid))
			return xtap_fail(err, -EIO, "port %s: xtap-vhost exited at start (its log lines above say why)",
					 p->name);
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	return xtap_fail(err, -ETIMEDOUT, "port %s: xtap-vhost did not serve %s within %d ms; killed it",
			 p->name, sock, START_TIMEOUT_MS);
}

void xtap_vhost_proc_stop(const struct xtap_vhost_procs *v, const char *port)
{
	char path[PATH_MAX];
	pid_t pid;
	int waited;

	if (!v->exe[0])
		return;
	pid = running_pid(v, port);
	if (pid) {
		kill(pid, SIGTERM);
		for (waited = 0; waited < STOP_TIMEOUT_MS && running_pid(v, port) == pid; waited += 5)
			sleep_ms(5);
		if (running_pid(v, port) == pid) {
			xtap_log(XTAP_LOG_WARN, "port %s: xtap-vhost %d ignored SIGTERM; killing it", port, pid);
			kill(pid, SIGKILL);
		}
	}
	port_path(v, port, "sock", path, sizeof(path));
	unlink(path);
	port_path(v, port, "json", path, sizeof(path));
	unlink(path);
}

void xtap_vhost_procs_stop_others(const struct xtap_vhost_procs *v, const struct xtap_model *m)
{
	struct dirent *de;
	DIR *d;

	if (!v->exe[0] || !(d = opendir(v->dir)))
		return;
	while ((de = readdir(d))) {
		char port[NAME_MAX + 1];
		size_t len = strlen(de->d_name);

		if (len < 6 || len - 5 >= sizeof(port) || strcmp(de->d_name + len - 5, ".json"))
			continue;
		memcpy(port, de->d_name, len - 5);
		port[len - 5] = 0;
		if (!xtap_model_port(m, port)) {
			xtap_log(XTAP_LOG_INFO, "stopping xtap-vhost of port %s, which is gone", port);
			xtap_vhost_proc_stop(v, port);
		}
	}
	closedir(d);
}

json_object *xtap_vhost_proc_status(const struct xtap_vhost_procs *v, const char *port)
{
	char path[PATH_MAX];
	json_object *st;

	if (!v->exe[0])
		return NULL;
	port_path(v, port, "json", path, sizeof(path));
	st = running_pid(v, port) ? json_object_from_file(path) : NULL;
	if (!st) {
		st = json_object_new_object();
		json_object_object_add(st, "state", json_object_new_string("not running"));
	}
	return st;
}
