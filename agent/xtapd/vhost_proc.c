// SPDX-License-Identifier: GPL-2.0
/*
 * Starting, finding and stopping the per-port xtap-vhost processes. A
 * process being started or stopped is a child entry with a pidfd in the
 * event loop (it becomes readable when the process exits, whoever its
 * parent) and a deadline; a serving one is found through its status file.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "vhost_proc.h"

#define START_TIMEOUT_S 3
/* sun_path (108) - NUL - "/" - the longest port name (IFNAMSIZ - 1) - ".sock.tmp" */
#define XTAP_VHOST_DIR_MAX (108 - 1 - 1 - (IFNAMSIZ - 1) - 9)
#define STOP_TIMEOUT_S  1

/* What spawning a port's xtap-vhost needs: kept while its previous process stops. */
struct spawn_args {
	char name[IFNAMSIZ];
	unsigned int queues;
	long owner_uid, owner_gid;
};

struct xtap_vhost_child {
	struct xtap_watch w;           /* the pidfd */
	struct xtap_vhost_procs *v;
	struct xtap_vhost_child *next;
	char port[IFNAMSIZ];
	pid_t pid;
	int stopping;                  /* else starting */
	double deadline;               /* starting: must serve by then; stopping: SIGKILL then; 0: none */
	int start_next;                /* stopping, and the port wants a new process once it is gone */
	struct spawn_args next_args;
};

static void port_path(const struct xtap_vhost_procs *v, const char *port, const char *ext,
		      char *out, size_t len)
{
	snprintf(out, len, "%s/%s.%s", v->dir, port, ext);
}

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static double child_tick(void *ctx, double now);

void xtap_vhost_procs_init(struct xtap_vhost_procs *v, const char *control_socket, struct xtap_loop *loop)
{
	char buf[PATH_MAX];
	ssize_t n;

	snprintf(buf, sizeof(buf), "%s", control_socket);
	v->exe[0] = 0;
	v->loop = loop;
	v->children = NULL;
	xtap_loop_add_ticker(loop, child_tick, v);
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
 * The port's xtap-vhost, in its own session, stdin /dev/null, no fd of
 * xtapd's but stdout and stderr (its log lines go where xtapd's go), signals
 * as a new process has them. posix_spawn returns once exec succeeded or
 * failed (with its errno): the pid, or -errno.
 */
static pid_t spawn(const struct xtap_vhost_procs *v, const struct spawn_args *p)
{
	char sock[PATH_MAX], status[PATH_MAX], queues[16], owner[48];
	const char *argv[16];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	int argc = 0, e;
	pid_t pid;

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

	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGPIPE);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGCHLD);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	e = posix_spawn(&pid, v->exe, &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return e ? -e : pid;
}

static struct xtap_vhost_child *child_of(struct xtap_vhost_procs *v, const char *port)
{
	struct xtap_vhost_child *c;

	for (c = v->children; c; c = c->next)
		if (!strcmp(c->port, port))
			return c;
	return NULL;
}

static void child_forget(struct xtap_vhost_child *c)
{
	struct xtap_vhost_child **pp;

	for (pp = &c->v->children; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	xtap_loop_del(c->v->loop, &c->w);
	close(c->w.fd);
	free(c);
}

/* A started process serves once its status file names it and its socket is there. */
static int child_serving(struct xtap_vhost_child *c)
{
	char sock[PATH_MAX];
	struct stat st;

	port_path(c->v, c->port, "sock", sock, sizeof(sock));
	return running_pid(c->v, c->port) == c->pid && !stat(sock, &st) && S_ISSOCK(st.st_mode);
}

static int start(struct xtap_vhost_procs *v, const struct spawn_args *p, struct xtap_err *err);

/* The pidfd is readable: the process is gone. Reaps it when it is ours (the others belong to init). */
static void child_exited(struct xtap_watch *w, uint32_t events)
{
	struct xtap_vhost_child *c = (struct xtap_vhost_child *)w;
	struct xtap_vhost_procs *v = c->v;
	struct spawn_args next = c->next_args;
	siginfo_t si = { 0 };
	int start_next = c->stopping && c->start_next;
	struct xtap_err err = {};

	(void)events;
	/* Fails when it is not ours, or was reaped already (xtap_agent_vhost_check): no status then. */
	if (waitid(P_PIDFD, c->w.fd, &si, WEXITED | WNOHANG) || !si.si_pid)
		si.si_code = 0;
	if (!c->stopping && si.si_code == CLD_EXITED)
		xtap_log(XTAP_LOG_WARN, "port %s: xtap-vhost %d exited with status %d at start (its log lines "
			 "above say why); xtapd tries again every %d s", c->port, c->pid, si.si_status,
			 XTAP_VHOST_CHECK_SECONDS);
	else if (!c->stopping)
		xtap_log(XTAP_LOG_WARN, "port %s: xtap-vhost %d is gone at start (%s%s); xtapd tries again every %d s",
			 c->port, c->pid, si.si_code ? "signal " : "its log lines above say why",
			 si.si_code ? strsignal(si.si_status) : "", XTAP_VHOST_CHECK_SECONDS);
	child_forget(c);
	if (start_next && start(v, &next, &err))
		xtap_log(XTAP_LOG_WARN, "%s; xtapd tries again every %d s", err.msg, XTAP_VHOST_CHECK_SECONDS);
}

static struct xtap_vhost_child *child_watch(struct xtap_vhost_procs *v, const char *port, pid_t pid,
					    int pidfd, int stopping, double timeout_s)
{
	struct xtap_vhost_child *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->w.fd = pidfd;
	c->w.fn = child_exited;
	c->v = v;
	snprintf(c->port, sizeof(c->port), "%s", port);
	c->pid = pid;
	c->stopping = stopping;
	c->deadline = xtap_now() + timeout_s;
	if (xtap_loop_add(v->loop, &c->w, EPOLLIN)) {
		free(c);
		return NULL;
	}
	c->next = v->children;
	v->children = c;
	return c;
}

/* The deadlines: a start that did not serve in time is killed; a stop not done by then is a SIGKILL. */
static double child_tick(void *ctx, double now)
{
	struct xtap_vhost_procs *v = ctx;
	struct xtap_vhost_child *c, *next;
	double first = 0;

	for (c = v->children; c; c = next) {
		next = c->next;
		if (c->deadline && c->deadline <= now) {
			c->deadline = 0;
			if (!c->stopping && child_serving(c)) {
				child_forget(c);
				continue;
			}
			if (c->stopping)
				xtap_log(XTAP_LOG_WARN, "port %s: xtap-vhost %d ignored SIGTERM for %d s; killing it",
					 c->port, c->pid, STOP_TIMEOUT_S);
			else
				xtap_log(XTAP_LOG_WARN, "port %s: xtap-vhost %d did not serve its socket within %d s; "
					 "killed it", c->port, c->pid, START_TIMEOUT_S);
			c->stopping = 1;   /* its exit is then no surprise */
			pidfd_kill(c->w.fd, SIGKILL);
		}
		if (c->deadline && (!first || c->deadline < first))
			first = c->deadline;
	}
	return first;
}

/* Spawns the port's xtap-vhost and watches it until it serves. */
static int start(struct xtap_vhost_procs *v, const struct spawn_args *p, struct xtap_err *err)
{
	char status[PATH_MAX];
	int pidfd;
	pid_t pid;

	if (mkdir(v->dir, 0755) && errno != EEXIST)
		return xtap_fail(err, -errno, "creating %s: %s", v->dir, strerror(errno));
	port_path(v, p->name, "json", status, sizeof(status));
	unlink(status);
	pid = spawn(v, p);
	if (pid < 0)
		return xtap_fail(err, pid, "port %s: running %s: %s", p->name, v->exe, strerror(-pid));
	/* Our child, not reaped yet: the pid cannot have been reused. */
	pidfd = pidfd_open(pid);
	if (pidfd < 0 || !child_watch(v, p->name, pid, pidfd, 0, START_TIMEOUT_S)) {
		int e = pidfd < 0 ? errno : ENOMEM;

		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (pidfd >= 0)
			close(pidfd);
		return xtap_fail(err, -e, "port %s: watching its xtap-vhost: %s", p->name, strerror(e));
	}
	xtap_log(XTAP_LOG_DEBUG, "port %s: xtap-vhost %d started", p->name, pid);
	return 0;
}

int xtap_vhost_proc_running(struct xtap_vhost_procs *v, const char *port)
{
	struct xtap_vhost_child *c;

	if (!v->exe[0])
		return 1;
	c = child_of(v, port);
	if (c)
		return !c->stopping || c->start_next;
	return running_pid(v, port) > 0;
}

int xtap_vhost_proc_ensure(struct xtap_vhost_procs *v, const struct xtap_port_conf *p,
			   struct xtap_err *err)
{
	struct spawn_args args = { .queues = p->queues, .owner_uid = p->owner_uid, .owner_gid = p->owner_gid };
	struct xtap_vhost_child *c;

	if (!v->exe[0])
		return 0;
	snprintf(args.name, sizeof(args.name), "%s", p->name);
	c = child_of(v, p->name);
	if (c && c->stopping) {
		/* Its old process still holds the socket: the new one starts when it is gone. */
		c->start_next = 1;
		c->next_args = args;
		return 0;
	}
	if (c || running_pid(v, p->name))
		return 0;
	return start(v, &args, err);
}

void xtap_vhost_proc_stop(struct xtap_vhost_procs *v, const char *port)
{
	struct xtap_vhost_child *c;
	char path[PATH_MAX];
	pid_t pid;
	int pidfd;

	if (!v->exe[0])
		return;
	c = child_of(v, port);
	if (!c && (pid = running_pid(v, port)) > 0 && (pidfd = pidfd_open(pid)) >= 0) {
		/* Not our child after a restart of xtapd: checked again now that the pidfd pins it. */
		if (running_pid(v, port) != pid || !(c = child_watch(v, port, pid, pidfd, 1, STOP_TIMEOUT_S)))
			close(pidfd);
	}
	if (c) {
		if (!c->stopping || c->deadline == 0)
			c->deadline = xtap_now() + STOP_TIMEOUT_S;
		c->stopping = 1;
		c->start_next = 0;
		pidfd_kill(c->w.fd, SIGTERM);
	}
	port_path(v, port, "sock", path, sizeof(path));
	unlink(path);
	port_path(v, port, "json", path, sizeof(path));
	unlink(path);
}

void xtap_vhost_procs_finish(struct xtap_vhost_procs *v)
{
	struct xtap_vhost_child *c, *next;
	struct pollfd pfd;
	double left;

	for (c = v->children; c; c = next) {
		next = c->next;
		if (c->stopping) {
			pfd = (struct pollfd){ .fd = c->w.fd, .events = POLLIN };
			left = c->deadline ? c->deadline - xtap_now() : 0;
			if (poll(&pfd, 1, left > 0 ? (int)(left * 1000) + 1 : 0) == 0)
				pidfd_kill(c->w.fd, SIGKILL);
			waitid(P_PIDFD, c->w.fd, &(siginfo_t){ 0 }, WEXITED | WNOHANG);
		}
		child_forget(c);
	}
}

void xtap_vhost_procs_stop_others(struct xtap_vhost_procs *v, const struct xtap_model *m)
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

json_object *xtap_vhost_proc_status(struct xtap_vhost_procs *v, const char *port)
{
	struct xtap_vhost_child *c;
	const char *state = "not running";
	char path[PATH_MAX];
	json_object *st = NULL;

	if (!v->exe[0])
		return NULL;
	c = child_of(v, port);
	if (c && !c->stopping && child_serving(c)) {
		child_forget(c);   /* started: from now on found through its status file */
		c = NULL;
	} else if (c) {
		state = !c->stopping || c->start_next ? "starting" : "stopping";
	}
	port_path(v, port, "json", path, sizeof(path));
	if (!c && running_pid(v, port))
		st = json_object_from_file(path);
	if (st) {
		json_object_object_add(st, "state", json_object_new_string("running"));
		return st;
	}
	st = json_object_new_object();
	json_object_object_add(st, "state", json_object_new_string(state));
	if (!strcmp(state, "starting")) {
		port_path(v, port, "sock", path, sizeof(path));
		json_object_object_add(st, "socket", json_object_new_string(path));
	}
	return st;
}
