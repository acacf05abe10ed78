/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Prometheus endpoint: HTTP/1.0-style GET /metrics on a TCP address,
 * served from the control socket's event loop like the control socket
 * (ctl_server.c): each connection has its own buffers, size limit and
 * timeouts, and one reply; the text comes later from the agent's thread
 * (metrics.h), so a scraper that never reads holds only its own connection.
 */
#ifndef XTAP_METRICS_SERVER_H
#define XTAP_METRICS_SERVER_H

#include <sys/socket.h>

#include "err.h"
#include "event_loop.h"

/* What a scrape connection may take (docs/operations.md). */
#define XTAP_METRICS_MAX_REQUEST     8192   /* request line and headers */
#define XTAP_METRICS_MAX_CONNECTIONS 64
#define XTAP_METRICS_REQUEST_TIMEOUT_S 5    /* from connecting to the end of the headers */
#define XTAP_METRICS_REPLY_TIMEOUT_S  10    /* to send the reply */

struct xtap_metrics_server;
struct xtap_metrics_request;

/* A GET /metrics to answer: later, with xtap_metrics_reply, from the server's thread. */
typedef void (*xtap_metrics_handler)(void *ctx, struct xtap_metrics_request *r);
/* The exposition text (copied); NULL: 503, the agent could not make it. */
void xtap_metrics_reply(struct xtap_metrics_request *r, const char *text);

/*
 * Parses "ADDR:PORT" (IPv4, or [IPv6]) into sa; a non-loopback address is
 * refused unless allow_remote. 0 or -errno with err naming the value and the fix.
 */
int xtap_metrics_parse_addr(const char *spec, int allow_remote, struct sockaddr_storage *sa,
			    socklen_t *len, struct xtap_err *err);
struct xtap_metrics_server *xtap_metrics_server_open(struct xtap_loop *l, const struct sockaddr_storage *sa,
						     socklen_t len, xtap_metrics_handler fn, void *ctx,
						     struct xtap_err *err);
/* Closes every connection (a request being answered stays until its reply, then closes). */
void xtap_metrics_server_close(struct xtap_metrics_server *s);

#endif /* XTAP_METRICS_SERVER_H */
