/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket's connections, served from xtapd's event loop: one
 * request (a JSON object) and one reply (a JSON object and "\n", with the
 * fds of a hand-off attached to its first byte) per connection. Every
 * connection has its own parser, size limit, timeouts and output buffer,
 * so no client can hold another (limits: include/xtap_ctl.h).
 */
#ifndef XTAP_CTL_SERVER_H
#define XTAP_CTL_SERVER_H

#include <json-c/json.h>

#include "agent.h"
#include "event_loop.h"

struct xtap_ctl_server;
/* A request being answered: its connection waits (no timeout) until xtap_ctl_reply. */
struct xtap_ctl_request;

/*
 * Takes a whole request (req is the handler's to put); answers it now or
 * later, with xtap_ctl_reply from the server's thread.
 */
typedef void (*xtap_ctl_handler)(void *ctx, struct xtap_ctl_request *r, json_object *req);

/* The reply, a JSON object as text (copied); fds (closed by the server once sent) go with its first byte. */
void xtap_ctl_reply(struct xtap_ctl_request *r, const char *json, struct xtap_fds *fds);

/* Listens on path (mode 0600; a stale socket file is replaced, a served one is not). */
struct xtap_ctl_server *xtap_ctl_server_open(struct xtap_loop *l, const char *path, xtap_ctl_handler fn,
					     void *ctx, struct xtap_err *err);
/* Sends what fits of the pending replies, closes every connection and the socket, removes its file. */
void xtap_ctl_server_close(struct xtap_ctl_server *s);

#endif /* XTAP_CTL_SERVER_H */
