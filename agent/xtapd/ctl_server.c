// SPDX-License-Identifier: GPL-2.0
/* The control socket: non-blocking connections with limits, in xtapd's event loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_server.h"
#include "request.h"
#include "xtap_ctl.h"

struct conn {
	struct xtap_watch w;
	int watched;                     /* in the loop; not while its request is being answered */
	struct xtap_ctl_server *srv;
	struct conn *prev, *next;        /* the server's list, oldest first */
	struct xtap_request_reader rd;   /* strict: request.h */
	size_t received;                 /* bytes of the request so far */
	double deadline;                 /* of the phase it is in */
	char *out;                       /* the reply line */
	size_t out_len, out_sent;
	struct xtap_fds fds;             /* go with the reply's first byte */
};

struct xtap_ctl_server {
	struct xtap_watch w;             /* the listening socket */
	struct xtap_loop *loop;
	xtap_ctl_handler handle;
	void *ctx;
	char path[108];
	struct conn *head, *tail;
	int n_conns;
	int spare_fd;                    /* given up to accept (and refuse) when out of fds */
	double last_refusal_log;
};

static void conn_close(struct conn *c)
{
	struct xtap_ctl_server *s = c->srv;

	if (c->watched)
		xtap_loop_del(s->loop, &c->w);
	close(c->w.fd);
	while (c->fds.n)
		close(c->fds.fd[--c->fds.n]);
	xtap_request_reader_free(&c->rd);
	free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	s->n_conns--;
	free(c);
}

/* Sends what the socket takes; closes the connection (returns 1) when all is sent or the client is gone. */
static int conn_flush(struct conn *c)
{
	char cbuf[CMSG_SPACE(sizeof(c->fds.fd))];
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	while (c->out_sent < c->out_len) {
		iov.iov_base = c->out + c->out_sent;
		iov.iov_len = c->out_len - c->out_sent;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		if (c->fds.n) {
			struct cmsghdr *cm;

			memset(cbuf, 0, sizeof(cbuf));
			mh.msg_control = cbuf;
			mh.msg_controllen = CMSG_SPACE(c->fds.n * sizeof(int));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(c->fds.n * sizeof(int));
			memcpy(CMSG_DATA(cm), c->fds.fd, c->fds.n * sizeof(int));
		}
		n = sendmsg(c->w.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			xtap_loop_mod(c->srv->loop, &c->w, EPOLLOUT);
			return 0;
		}
		if (n <= 0) {
			xtap_log(XTAP_LOG_DEBUG, "client went away before the reply");
			break;
		}
		c->out_sent += n;
		while (c->fds.n)      /* the client holds them now */
			close(c->fds.fd[--c->fds.n]);
	}
	conn_close(c);
	return 1;
}

/* Queues the reply line and starts sending it; the connection reads no more. */
static void conn_reply(struct conn *c, const char *text)
{
	size_t len = strlen(text);
	int ret;

	c->out = malloc(len + 1);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, text, len);
	c->out[len] = '\n';
	c->out_len = len + 1;
	c->deadline = xtap_now() + XTAP_CTL_REPLY_TIMEOUT_S;
	ret = c->watched ? xtap_loop_mod(c->srv->loop, &c->w, 0) : xtap_loop_add(c->srv->loop, &c->w, 0);
	c->watched = !ret;
	conn_flush(c);
}

static void conn_reply_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_reply_error(struct conn *c, const char *fmt, ...)
{
	json_object *resp = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xtap_log(XTAP_LOG_DEBUG, "client: %s", msg);
	json_object_object_add(resp, "ok", json_object_new_boolean(0));
	json_object_object_add(resp, "error", json_object_new_string(msg));
	conn_reply(c, json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
	json_object_put(resp);
}

static void conn_read(struct conn *c)
{
	char buf[16384];
	size_t room = XTAP_CTL_MAX_REQUEST + 1 - c->received;   /* one more: to see the limit passed */
	struct xtap_err err = {};
	json_object *req;
	ssize_t n;
	int ret;

	n = read(c->w.fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {   /* gone, before a whole request: nobody to answer */
		conn_close(c);
		return;
	}
	if (!c->received)
		c->deadline = xtap_now() + XTAP_CTL_REQUEST_TIMEOUT_S;
	c->received += n;
	if (c->received > XTAP_CTL_MAX_REQUEST) {
		conn_reply_error(c, "request: larger than %d bytes; nothing changed", XTAP_CTL_MAX_REQUEST);
		return;
	}
	ret = xtap_request_feed(&c->rd, buf, n, &err);
	if (ret == 1)
		return;
	if (ret < 0) {
		conn_reply_error(c, "%s", err.msg);
		return;
	}
	req = c->rd.req;   /* taken */
	c->rd.req = NULL;
	/* Out of the loop until answered: a client gone meanwhile must not wake it (EPOLLHUP) again and again. */
	xtap_loop_del(c->srv->loop, &c->w);
	c->watched = 0;
	c->deadline = 0;
	c->srv->handle(c->srv->ctx, (struct xtap_ctl_request *)c, req);
}

void xtap_ctl_reply(struct xtap_ctl_request *r, const char *json, struct xtap_fds *fds)
{
	struct conn *c = (struct conn *)r;

	if (fds)
		c->fds = *fds;
	conn_reply(c, json);
}

static void conn_event(struct xtap_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, w));

	if (c->out)
		conn_flush(c);   /* EPOLLOUT, or EPOLLHUP/ERR: the send says which */
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
}

/* One reply line, sent without waiting (nothing was sent before it: the socket's buffer has room). */
static void say_too_many(struct xtap_ctl_server *s, int fd)
{
	char line[128];
	double now = xtap_now();
	int len;

	len = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"" XTAP_CTL_TOO_MANY "\"}\n",
		       XTAP_CTL_MAX_CONNECTIONS);
	if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) != len)
		xtap_log(XTAP_LOG_DEBUG, "refused client went away first");
	if (now - s->last_refusal_log >= 10) {
		xtap_log(XTAP_LOG_WARN, "control socket: " XTAP_CTL_TOO_MANY " (at most one such line per 10 s)",
			 XTAP_CTL_MAX_CONNECTIONS);
		s->last_refusal_log = now;
	}
}

/* The oldest connection that has not sent a byte: it gives its place to a new one. */
static struct conn *oldest_idle(struct xtap_ctl_server *s)
{
	struct conn *c;

	for (c = s->head; c; c = c->next)
		if (!c->received && !c->out)
			return c;
	return NULL;
}

static void server_accept(struct xtap_watch *w, uint32_t events)
{
	struct xtap_ctl_server *s = (struct xtap_ctl_server *)((char *)w - offsetof(struct xtap_ctl_server, w));
	struct conn *c, *idle;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
			/* Out of fds: the spare one lets the client be told instead of left in the backlog. */
			close(s->spare_fd);
			fd = accept4(s->w.fd, NULL, NULL, SOCK_CLOEXEC);
			xtap_log(XTAP_LOG_WARN, "control socket: out of file descriptors; refusing a client");
			if (fd >= 0) {
				say_too_many(s, fd);
				close(fd);
			}
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		if (fd < 0)
			return;   /* EAGAIN: the backlog is empty; anything else: tried again on the next event */
		if (s->n_conns >= XTAP_CTL_MAX_CONNECTIONS) {
			idle = oldest_idle(s);
			if (!idle) {
				say_too_many(s, fd);
				close(fd);
				continue;
			}
			say_too_many(s, idle->w.fd);
			conn_close(idle);
		}
		c = calloc(1, sizeof(*c));
		if (!c || xtap_request_reader_init(&c->rd)) {
			free(c);
			close(fd);
			continue;
		}
		c->w.fd = fd;
		c->w.fn = conn_event;
		c->srv = s;
		c->deadline = xtap_now() + XTAP_CTL_IDLE_TIMEOUT_S;
		if (xtap_loop_add(s->loop, &c->w, EPOLLIN)) {
			xtap_request_reader_free(&c->rd);
			free(c);
			close(fd);
			continue;
		}
		c->watched = 1;
		c->prev = s->tail;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
		s->n_conns++;
	}
}

/* Closes the connections whose phase ran out of time; the nearest deadline left. */
static double server_tick(void *ctx, double now)
{
	struct xtap_ctl_server *s = ctx;
	struct conn *c, *next;
	double first = 0;

	for (c = s->head; c; c = next) {
		next = c->next;
		if (!c->deadline || c->deadline > now) {   /* 0: its request is being answered */
			if (!first || c->deadline < first)
				first = c->deadline;
			continue;
		}
		if (c->out) {
			xtap_log(XTAP_LOG_DEBUG, "client did not read its reply in %d s: closed",
				 XTAP_CTL_REPLY_TIMEOUT_S);
			conn_close(c);
		} else if (c->received) {
			conn_reply_error(c, "request: incomplete after %d s; nothing changed", XTAP_CTL_REQUEST_TIMEOUT_S);
		} else {
			conn_reply_error(c, "request: none within %d s of connecting", XTAP_CTL_IDLE_TIMEOUT_S);
		}
		next = s->head;   /* a reply may have closed any connection: start again */
		first = 0;
	}
	return first;
}

struct xtap_ctl_server *xtap_ctl_server_open(struct xtap_loop *l, const char *path, xtap_ctl_handler fn,
					     void *ctx, struct xtap_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xtap_ctl_server *s;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return xtap_fail(err, -ENAMETOOLONG, "control socket path %s is longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1), NULL;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return xtap_fail(err, -errno, "control socket: %s", strerror(errno)), NULL;
	/* A socket file left by a killed agent: nobody listens on it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		close(fd);
		return xtap_fail(err, -EADDRINUSE, "another xtapd is serving %s", path), NULL;
	}
	unlink(path);
	/* The backlog only holds clients between two turns of the loop; the kernel caps it at somaxconn. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, SOMAXCONN)) {
		xtap_fail(err, -errno, "control socket %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		unlink(path);
		return xtap_fail(err, -ENOMEM, "control socket: out of memory"), NULL;
	}
	s->w.fd = fd;
	s->w.fn = server_accept;
	s->loop = l;
	s->handle = fn;
	s->ctx = ctx;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (xtap_loop_add(l, &s->w, EPOLLIN) || xtap_loop_add_ticker(l, server_tick, s)) {
		xtap_fail(err, -errno, "control socket %s: cannot watch it", path);
		xtap_ctl_server_close(s);
		return NULL;
	}
	return s;
}

void xtap_ctl_server_close(struct xtap_ctl_server *s)
{
	if (!s)
		return;
	while (s->head) {
		struct conn *c = s->head;

		if (!c->out || !conn_flush(c))   /* sends what fits */
			conn_close(c);
	}
	xtap_loop_del(s->loop, &s->w);
	close(s->w.fd);
	unlink(s->path);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s);
}
