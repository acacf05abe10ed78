// SPDX-License-Identifier: GPL-2.0
/*
 * xtap-vhost: serves vhost-user for one port (see vhost_dev.h). xtapd
 * starts one per port and finds it again through the status file; the
 * process owns its vhost-net instances, so the VM's data plane keeps
 * running while xtapd restarts.
 *
 *   xtap-vhost --port NAME --socket PATH --status FILE [--queues N] [--multi-queue]
 *              [--owner UID:GID] [--data-plane auto|vhost-net|userspace] [-v]
 */
#define _GNU_SOURCE             /* accept4, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "vhost_guard.h"
#include "vhost_user.h"

/* The port this process serves: every log line names it. */
static const char *served_port = "?";

/* Fds the userspace plane may add to the poll set (kick and tap per ring, with room). */
#define PLANE_POLL_MAX (4 * XTAP_VHOST_MAX_RINGS)

struct opts {
	const char *port;
	const char *socket;
	const char *status;
	unsigned int queues;
	bool multi_queue;
	long uid, gid;           /* -1 = leave unchanged (no --owner, or -1 on its side) */
	const char *data_plane;
	bool verbose;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xtap-vhost --port NAME --socket PATH --status FILE [--queues N] [--multi-queue]\n"
		   "                  [--owner UID:GID] [--data-plane auto|vhost-net|userspace] [-v]\n");
}

/* A uid or gid, or -1 = leave it unchanged (xtapd passes "%ld:%ld" with -1 for one not set). */
static int parse_id(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || v < -1 || v >= (long)UINT32_MAX)
		return -1;
	*out = v;
	return (int)(end - s);
}

/* Fills o, or exits with a line saying which option is wrong. */
static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "status", required_argument, NULL, 'S' },
		{ "queues", required_argument, NULL, 'q' },
		{ "multi-queue", no_argument, NULL, 'm' },
		{ "owner", required_argument, NULL, 'o' },
		{ "data-plane", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_un sun;
	char *end;
	long q;
	int c, n, m = -1;

	*o = (struct opts){ .queues = 1, .uid = -1, .gid = -1, .data_plane = "auto" };
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o->port = optarg; break;
		case 's': o->socket = optarg; break;
		case 'S': o->status = optarg; break;
		case 'm': o->multi_queue = true; break;
		case 'd': o->data_plane = optarg; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case 'q':
			errno = 0;
			q = strtol(optarg, &end, 10);
			if (errno || *end || q < 1 || q > 256) {
				fprintf(stderr, "xtap-vhost: --queues %s: use 1 to 256\n", optarg);
				exit(2);
			}
			o->queues = (unsigned int)q;
			break;
		case 'o':
			n = parse_id(optarg, &o->uid);
			if (n >= 0 && optarg[n] == ':')
				m = parse_id(optarg + n + 1, &o->gid);
			if (n < 0 || optarg[n] != ':' || m < 0 || optarg[n + 1 + m]) {
				fprintf(stderr, "xtap-vhost: --owner %s: use UID:GID (numbers, -1 = leave unchanged)\n",
					optarg);
				exit(2);
			}
			break;
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc || !o->port || !o->socket || !o->status) {
		usage(stderr);
		exit(2);
	}
	if (!*o->port || strlen(o->port) >= IFNAMSIZ) {
		fprintf(stderr, "xtap-vhost: --port '%s': a tap name of 1 to %d characters\n", o->port, IFNAMSIZ - 1);
		exit(2);
	}
	/* Room for the ".tmp" it is bound under first. */
	if (strlen(o->socket) + 4 >= sizeof(sun.sun_path)) {
		fprintf(stderr, "xtap-vhost: --socket %s: longer than a unix socket path may be (%zu)\n",
			o->socket, sizeof(sun.sun_path) - 5);
		exit(2);
	}
	if (o->queues > 1 && !o->multi_queue) {
		fprintf(stderr, "xtap-vhost: --queues %u needs --multi-queue (a single-queue tap has one queue)\n",
			o->queues);
		exit(2);
	}
	if (strcmp(o->data_plane, "auto") && strcmp(o->data_plane, "vhost-net") &&
	    strcmp(o->data_plane, "userspace")) {
		fprintf(stderr, "xtap-vhost: --data-plane %s: use auto, vhost-net or userspace\n", o->data_plane);
		exit(2);
	}
}

static const struct xtap_vhost_plane *pick_plane(const char *want)
{
	const struct xtap_vhost_plane *k = &xtap_vhost_plane_kernel, *u = &xtap_vhost_plane_userspace;
	struct xtap_err err = { "" };

	if (strcmp(want, "userspace")) {
		if (!k->probe(&err))
			return k;
		if (!strcmp(want, "vhost-net")) {
			xtap_log_port(XTAP_LOG_INFO, served_port, "--data-plane vhost-net: %s", err.msg);
			return NULL;
		}
		xtap_log_port(XTAP_LOG_INFO, served_port, "vhost-net unavailable, using the userspace data plane: %s", err.msg);
	}
	if (!u->probe(&err))
		return u;
	xtap_log_port(XTAP_LOG_INFO, served_port, "userspace data plane: %s", err.msg);
	return NULL;
}

/*
 * The listening socket. It is bound under a temporary name and renamed into
 * place once it listens: whoever sees PATH (xtapd waits for it) can connect.
 * A stale socket file is replaced, a live one is not taken over.
 */
static int listen_on(const struct opts *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX }, tmp = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, probe;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o->socket);
	snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.tmp", o->socket);
	if (!lstat(o->socket, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			xtap_log_port(XTAP_LOG_ERR, served_port, "%s exists and is not a socket (remove it or pick another --socket)", o->socket);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&sun, sizeof(sun))) {
			close(probe);
			xtap_log_port(XTAP_LOG_ERR, served_port, "%s is served by another process (stop it first)", o->socket);
			return -1;
		}
		if (probe >= 0)
			close(probe);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(tmp.sun_path);
	/* Created 0600 from the start: no window where others may connect. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp))) {
		umask(old);
		xtap_log_port(XTAP_LOG_ERR, served_port, "binding %s failed: %s (does its directory exist?)", tmp.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	/* chown leaves a side that is (uid_t)-1 / (gid_t)-1 unchanged. */
	if ((o->uid != -1 || o->gid != -1) &&
	    (chown(tmp.sun_path, (uid_t)o->uid, (gid_t)o->gid) || chmod(tmp.sun_path, 0660))) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "giving %s to %ld:%ld failed: %s", o->socket, o->uid, o->gid, strerror(errno));
		goto err;
	}
	if (listen(fd, 4)) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "listen on %s failed: %s", tmp.sun_path, strerror(errno));
		goto err;
	}
	if (rename(tmp.sun_path, o->socket)) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "renaming %s to %s failed: %s", tmp.sun_path, o->socket, strerror(errno));
		goto err;
	}
	return fd;
err:
	close(fd);
	unlink(tmp.sun_path);
	return -1;
}

struct status {
	const struct opts *o;
	struct stat sock;        /* the listening socket as made: who may connect (mode, owner) */
	char *tmp;               /* the file it is written to before the rename: STATUS.tmp */
	char *last;              /* what the file holds now */
	uint64_t generation;     /* the server's generation `last` was built from */
	bool failing;            /* the last write failed (logged once until one succeeds) */
};

/*
 * Rewrites the status file (tmp + rename) when its content changed. The
 * JSON is only built again when the server's generation moved (connect,
 * disconnect, reject, ring start or stop, features): the userspace plane
 * wakes the loop for every burst of frames, and this stays off that path.
 */
static void status_update(struct status *st, const struct xtap_vhost_server *s)
{
	json_object *j;
	char feat[24], mode[8];
	const char *text;
	size_t len;
	bool ok;
	int fd, e;

	if (st->last && st->generation == s->generation)
		return;
	j = json_object_new_object();

	snprintf(feat, sizeof(feat), "0x%llx", (unsigned long long)s->dev.features);
	json_object_object_add(j, "port", json_object_new_string(st->o->port));
	json_object_object_add(j, "pid", json_object_new_int(getpid()));
	json_object_object_add(j, "socket", json_object_new_string(st->o->socket));
	json_object_object_add(j, "data_plane", json_object_new_string(s->dev.plane->name));
	/*
	 * "connected": a frontend holds the socket (from accept until it, or
	 * we, close it); it says nothing about frames moving. A VMM sends its
	 * rings after connecting, so rings_running follows a few messages
	 * later: it counts the rings the data plane runs, and every ring
	 * start and stop bumps the server's generation, so each change of it
	 * shows (the loop calls this after every wake-up).
	 */
	json_object_object_add(j, "frontend", json_object_new_string(s->conn >= 0 ? "connected" : "waiting"));
	json_object_object_add(j, "queue_pairs", json_object_new_int((int)s->dev.n_pairs));
	json_object_object_add(j, "rings_running",
			       json_object_new_int((int)xtap_vhost_server_rings_running(s)));
	json_object_object_add(j, "features", json_object_new_string(feat));
	json_object_object_add(j, "connections", json_object_new_int64((int64_t)s->connections));
	json_object_object_add(j, "rejected_messages", json_object_new_int64((int64_t)s->rejected));
	json_object_object_add(j, "stalled_disconnects", json_object_new_int64((int64_t)s->stalled));
	/* "connected" with no frames at all: QEMU without shared guest RAM (vhost_user.h). */
	json_object_object_add(j, "guest_memory", json_object_new_string(xtap_vhost_server_guest_memory(s)));
	json_object_object_add(j, "no_shared_memory", json_object_new_int64((int64_t)s->no_shared_memory));
	if (s->mem_missing)
		json_object_object_add(j, "hint", json_object_new_string(XTAP_VHOST_HINT_SHARED_MEMORY));
	/* A VMM that is refused (EACCES) never reaches us: who may connect is all we can show. */
	snprintf(mode, sizeof(mode), "%04o", (unsigned int)(st->sock.st_mode & 07777));
	json_object_object_add(j, "socket_mode", json_object_new_string(mode));
	json_object_object_add(j, "socket_uid", json_object_new_int64((int64_t)st->sock.st_uid));
	json_object_object_add(j, "socket_gid", json_object_new_int64((int64_t)st->sock.st_gid));
	if (s->last_error[0])
		json_object_object_add(j, "last_error", json_object_new_string(s->last_error));
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	if (st->last && !strcmp(st->last, text)) {
		st->generation = s->generation;
		goto out;
	}
	len = strlen(text);
	errno = 0;
	fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
	e = ok ? 0 : errno ? errno : EIO;      /* a short write leaves errno 0 */
	/* Closed whatever happened above. */
	if (fd >= 0 && close(fd) && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(st->tmp, st->o->status)) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		/* Tried again after the next wake-up (generation not taken); logged once until it works. */
		if (!st->failing)
			xtap_log_port(XTAP_LOG_ERR, served_port, "writing the status file %s failed: %s (retrying)", st->o->status,
				       strerror(e));
		st->failing = true;
		if (fd >= 0)
			unlink(st->tmp);
		goto out;
	}
	if (st->failing)
		xtap_log_port(XTAP_LOG_INFO, served_port, "status file %s written again", st->o->status);
	st->failing = false;
	free(st->last);
	st->last = strdup(text);
	st->generation = s->generation;
out:
	json_object_put(j);
	/*
	 * Something changed (a connect, a ring, a disconnect): what that
	 * allocated and freed leaves holes in the heap under live blocks,
	 * which trimming the top cannot return. Give every free page back, so
	 * the port costs what it did before (rare: only on changes).
	 */
	malloc_trim(0);
}

/* The guard caught a fault in guest memory: the frontend goes, as after a hostile message. */
static void guest_memory_fault(struct xtap_vhost_server *s, const void *addr)
{
	snprintf(s->last_error, sizeof(s->last_error),
		 "guest memory of port %s faulted at %p under the device (the frontend shrank its memory file after SET_MEM_TABLE, or its hugetlbfs pool ran out)",
		 s->dev.port, addr);
	s->rejected++;
	xtap_vhost_server_changed(s);
	xtap_vhost_server_disconnect(s, s->last_error);
}

/*
 * The work of one wake-up that touches guest memory: the plane's events
 * (rings and buffers) and the frontend's messages (starting a ring reads
 * its used index). A fault there (SIGBUS: the guest memory's file shrank)
 * jumps back here; what it interrupted is thrown away with the connection
 * (rings stopped, plane closed, memory unmapped).
 */
static void serve(struct xtap_vhost_server *s, struct xtap_vhost_guard *g, const struct pollfd *plane_pfd,
		  int np, bool conn_ready)
{
	if (sigsetjmp(g->env, 1)) {
		guest_memory_fault(s, g->addr);
		return;
	}
	xtap_vhost_guard_arm(g, &s->dev.mem);
	/* The plane first: its fds belong to the state the connection may change next. */
	if (np && s->owned && s->dev.plane->poll_events)
		s->dev.plane->poll_events(&s->dev, plane_pfd, np);
	if (conn_ready && s->conn >= 0)
		xtap_vhost_server_input(s);
	xtap_vhost_guard_disarm(g);
}

/*
 * One frontend per port. A second one is refused while the first is
 * healthy (QEMU's reconnect=1 retries every second and gets in once the
 * first has gone); a first one stuck mid-message for XTAP_VHOST_PREEMPT_MS
 * is dropped instead and the newcomer served, so a half-dead frontend
 * cannot hold the port until the stall timeout.
 */
static void accept_frontend(struct xtap_vhost_server *s, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	uint64_t now = xtap_vhost_now_ms();

	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			xtap_log_port(XTAP_LOG_ERR, served_port, "accept: %s", strerror(errno));
		return;
	}
	if (s->conn >= 0 && xtap_vhost_server_stalled_for(s, now) < XTAP_VHOST_PREEMPT_MS) {
		xtap_log_port(XTAP_LOG_INFO, served_port, "a second frontend connected while one is attached: refused (one VMM per port)");
		close(fd);
		return;
	}
	if (s->conn >= 0)
		xtap_vhost_server_drop_stalled(s, now, "a new frontend connected and takes its place");
	xtap_vhost_server_attach(s, fd);
}

int main(int argc, char **argv)
{
	static struct xtap_vhost_server s;  /* large: not on the stack */
	static struct xtap_vhost_guard guard;
	struct pollfd pfd[3 + PLANE_POLL_MAX];
	const struct xtap_vhost_plane *plane;
	struct signalfd_siginfo si;
	struct xtap_err err = { "" };
	struct status st = { 0 };
	struct opts o;
	int lfd, sfd, n, np, plane_at, ret = 0;
	sigset_t mask;

	parse_opts(argc, argv, &o);
	/*
	 * Memory per port (docs/vhost.md): what a connection allocates (the
	 * userspace plane's state, 17 KiB) comes from mmap and goes back whole
	 * when it closes, and the heap's free top is returned at once, so a
	 * port that had a frontend costs what an idle one does.
	 */
	mallopt(M_MMAP_THRESHOLD, 8 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024);
	mallopt(M_TOP_PAD, 0);
	st.o = &o;
	if (asprintf(&st.tmp, "%s.tmp", o.status) < 0) {
		xtap_log_port(XTAP_LOG_ERR, o.port, "out of memory");
		return 1;
	}
	served_port = o.port;
	xtap_log_init("xtap-vhost", o.verbose ? XTAP_LOG_DEBUG : XTAP_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	if (xtap_vhost_guard_install(&err)) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "%s", err.msg);
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "signalfd: %s", strerror(errno));
		return 1;
	}
	plane = pick_plane(o.data_plane);
	if (!plane)
		return 1;
	if (o.queues > XTAP_VHOST_MAX_PAIRS)
		xtap_log_port(XTAP_LOG_INFO, served_port, "port %s has %u queue pairs; vhost-user serves the first %d",
			       o.port, o.queues, XTAP_VHOST_MAX_PAIRS);
	xtap_vhost_server_init(&s, o.port, o.queues < XTAP_VHOST_MAX_PAIRS ? o.queues : XTAP_VHOST_MAX_PAIRS,
			       o.multi_queue, plane);
	lfd = listen_on(&o);
	if (lfd < 0)
		return 1;
	if (stat(o.socket, &st.sock)) {
		xtap_log_port(XTAP_LOG_ERR, served_port, "stat %s: %s", o.socket, strerror(errno));
		return 1;
	}
	xtap_log_port(XTAP_LOG_INFO, served_port, "serving %s with the %s data plane, %u queue pair(s), features 0x%llx",
		       o.socket, plane->name, s.dev.n_pairs,
		       (unsigned long long)xtap_vhost_server_offered(&s));
	status_update(&st, &s);

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = s.conn, .events = POLLIN };  /* -1 is ignored */
		plane_at = 3;
		np = 0;
		if (s.owned && plane->poll_fds)
			np = plane->poll_fds(&s.dev, pfd + plane_at, PLANE_POLL_MAX);
		if (np < 0)
			np = 0;
		/* The only deadline: the stall timeout of the frontend's unfinished message. */
		n = poll(pfd, (nfds_t)(plane_at + np), xtap_vhost_server_timeout(&s, xtap_vhost_now_ms()));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			xtap_log_port(XTAP_LOG_ERR, served_port, "poll: %s", strerror(errno));
			ret = 1;
			break;
		}
		if (pfd[0].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			xtap_log_port(XTAP_LOG_INFO, served_port, "signal %u: stopping", si.ssi_signo);
			break;
		}
		serve(&s, &guard, pfd + plane_at, np, pfd[2].revents);
		xtap_vhost_server_expire(&s, xtap_vhost_now_ms());
		if (pfd[1].revents)
			accept_frontend(&s, lfd);
		status_update(&st, &s);
	}
	xtap_vhost_server_disconnect(&s, "xtap-vhost is stopping");
	close(lfd);
	unlink(o.socket);
	unlink(o.status);
	free(st.last);
	free(st.tmp);
	return ret;
}
