// SPDX-License-Identifier: GPL-2.0
/* The Prometheus endpoint: non-blocking HTTP connections with limits, in xtapd's event loop. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "metrics_server.h"

struct conn {
	struct xtap_watch w;
	int watched;                 /* in the loop; not while the agent makes its reply */
	struct xtap_metrics_server *srv;
	struct conn *prev, *next;
	char in[XTAP_METRICS_MAX_REQUEST + 1];
	size_t received;
	double deadline;             /* of the phase it is in; 0 while the agent makes the reply */
	char *out;
	size_t out_len, out_sent;
};

struct xtap_metrics_server {
	struct xtap_watch w;
	struct xtap_loop *loop;
	xtap_metrics_handler handle;
	void *ctx;
	struct conn *head;
	int n_conns;
};

static void conn_close(struct conn *c)
{
	struct xtap_metrics_server *s = c->srv;

	if (c->watched)
		xtap_loop_del(s->loop, &c->w);
	close(c->w.fd);
	free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c);
}

static void conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->out_sent < c->out_len) {
		n = send(c->w.fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			xtap_loop_mod(c->srv->loop, &c->w, EPOLLOUT);
			return;
		}
		if (n <= 0)
			break;   /* the scraper went away */
		c->out_sent += n;
	}
	conn_close(c);
}

/* The whole response (HTTP/1.0: the connection closes after it) and its first send. */
static void conn_respond(struct conn *c, const char *status, const char *type, const char *body)
{
	size_t blen = strlen(body);
	int hlen;

	c->out = malloc(blen + 256);
	if (!c->out) {
		conn_close(c);
		return;
	}
	hlen = snprintf(c->out, 256, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", status, type, blen);
	memcpy(c->out + hlen, body, blen);
	c->out_len = hlen + blen;
	c->deadline = xtap_now() + XTAP_METRICS_REPLY_TIMEOUT_S;
	c->watched = !(c->watched ? xtap_loop_mod(c->srv->loop, &c->w, 0) : xtap_loop_add(c->srv->loop, &c->w, 0));
	conn_flush(c);
}

void xtap_metrics_reply(struct xtap_metrics_request *r, const char *text)
{
	struct conn *c = (struct conn *)r;

	if (text)
		conn_respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text);
	else
		conn_respond(c, "503 Service Unavailable", "text/plain", "xtapd: out of memory\n");
}

/* The request line once the headers are whole: GET /metrics (a query string is ignored). */
static void conn_request(struct conn *c)
{
	char method[16], target[256];

	if (sscanf(c->in, "%15s %255s", method, target) != 2 || strncmp(target, "/", 1)) {
		conn_respond(c, "400 Bad Request", "text/plain", "xtapd: not an HTTP request\n");
		return;
	}
	if (strcmp(method, "GET")) {
		conn_respond(c, "405 Method Not Allowed", "text/plain", "xtapd: only GET /metrics\n");
		return;
	}
	target[strcspn(target, "?")] = 0;
	if (strcmp(target, "/metrics")) {
		conn_respond(c, "404 Not Found", "text/plain", "xtapd: the metrics are at /metrics\n");
		return;
	}
	xtap_loop_del(c->srv->loop, &c->w);
	c->watched = 0;
	c->deadline = 0;
	c->srv->handle(c->srv->ctx, (struct xtap_metrics_request *)c);
}

static void conn_read(struct conn *c)
{
	ssize_t n = read(c->w.fd, c->in + c->received, XTAP_METRICS_MAX_REQUEST - c->received);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->received += n;
	c->in[c->received] = 0;
	if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n"))
		conn_request(c);
	else if (c->received == XTAP_METRICS_MAX_REQUEST)
		conn_respond(c, "431 Request Header Fields Too Large", "text/plain", "xtapd: request too large\n");
}

static void conn_event(struct xtap_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, w));

	if (c->out)
		conn_flush(c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(c);
}

static void server_accept(struct xtap_watch *w, uint32_t events)
{
	struct xtap_metrics_server *s = (struct xtap_metrics_server *)((char *)w -
									offsetof(struct xtap_metrics_server, w));
	struct conn *c;
	int fd;

	(void)events;
	while ((fd = accept4(s->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		/* Prometheus scrapes with one connection at a time: past the cap, the newcomer goes. */
		if (s->n_conns >= XTAP_METRICS_MAX_CONNECTIONS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->w = (struct xtap_watch){ .fd = fd, .fn = conn_event };
		c->srv = s;
		c->deadline = xtap_now() + XTAP_METRICS_REQUEST_TIMEOUT_S;
		if (xtap_loop_add(s->loop, &c->w, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->watched = 1;
		c->next = s->head;
		if (s->head)
			s->head->prev = c;
		s->head = c;
		s->n_conns++;
	}
}

static double server_tick(void *ctx, double now)
{
	struct xtap_metrics_server *s = ctx;
	struct conn *c, *next;
	double first = 0;

	for (c = s->head; c; c = next) {
		next = c->next;
		if (c->deadline && c->deadline <= now) {
			xtap_log(XTAP_LOG_DEBUG, "metrics: a scraper %s in time: closed",
				 c->out ? "did not read its reply" : "sent no whole request");
			conn_close(c);
		} else if (c->deadline && (!first || c->deadline < first)) {
			first = c->deadline;
		}
	}
	return first;
}

static int is_loopback(const struct sockaddr_storage *sa)
{
	const struct sockaddr_in6 *s6 = (const void *)sa;

	if (sa->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && s6->sin6_addr.s6_addr[12] == 127);
}

int xtap_metrics_parse_addr(const char *spec, int allow_remote, struct sockaddr_storage *sa,
			    socklen_t *len, struct xtap_err *err)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in *s4 = (void *)sa;
	struct sockaddr_in6 *s6 = (void *)sa;
	unsigned long port;
	char *end;
	size_t hl;

	memset(sa, 0, sizeof(*sa));
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return xtap_fail(err, -EINVAL, "metrics address \"%s\": use ADDR:PORT, e.g. 127.0.0.1:9477 or [::1]:9477",
				 spec);
	hl = colon - spec;
	memcpy(host, spec, hl);
	host[hl] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || !port || port > 65535)
		return xtap_fail(err, -EINVAL, "metrics address \"%s\": the port must be 1-65535", spec);
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return xtap_fail(err, -EINVAL, "metrics address \"%s\": %s is not an IPv6 address", spec, host + 1);
		*len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return xtap_fail(err, -EINVAL, "metrics address \"%s\": %s is not an IPv4 address (IPv6: [ADDR]:PORT)",
					 spec, host);
		*len = sizeof(*s4);
	}
	if (!allow_remote && !is_loopback(sa))
		return xtap_fail(err, -EPERM, "metrics address \"%s\" is not a loopback address: other hosts could read "
				 "the ports' counters; set \"metrics_allow_remote\": true to serve it anyway", spec);
	return 0;
}

struct xtap_metrics_server *xtap_metrics_server_open(struct xtap_loop *l, const struct sockaddr_storage *sa,
						     socklen_t len, xtap_metrics_handler fn, void *ctx,
						     struct xtap_err *err)
{
	struct xtap_metrics_server *s = calloc(1, sizeof(*s));
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (!s || fd < 0) {
		xtap_fail(err, -errno, "%s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, len) || listen(fd, 64)) {
		xtap_fail(err, -errno, "cannot listen: %s (another process on that port? change \"metrics\" in the config)",
			  strerror(errno));
		goto fail;
	}
	s->w = (struct xtap_watch){ .fd = fd, .fn = server_accept };
	s->loop = l;
	s->handle = fn;
	s->ctx = ctx;
	if (xtap_loop_add(l, &s->w, EPOLLIN) || xtap_loop_add_ticker(l, server_tick, s)) {
		xtap_fail(err, -EMFILE, "cannot watch the listening socket");
		xtap_loop_del(l, &s->w);
		goto fail;
	}
	return s;
fail:
	if (fd >= 0)
		close(fd);
	free(s);
	return NULL;
}

void xtap_metrics_server_close(struct xtap_metrics_server *s)
{
	struct conn *c, *next;

	if (!s)
		return;
	for (c = s->head; c; c = next) {
		next = c->next;
		conn_close(c);
	}
	xtap_loop_del(s->loop, &s->w);
	close(s->w.fd);
	free(s);
}
