/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's thread. Requests change taps, programs and maps through
 * syscalls that wait for the kernel (a tcx attach waits for an RCU grace
 * period: tens of ms on a loaded host), so they run here, one after the
 * other, with link repairs and the xtap-vhost processes in this thread's
 * own event loop, while the control socket's thread keeps serving. The two
 * share only the request and reply queues, and the status snapshot: the
 * `status` reply as of the last thing the agent finished, which answers a
 * `status` at once (it is what a status ordered before the request in
 * progress would say).
 */
#ifndef XTAP_AGENT_WORKER_H
#define XTAP_AGENT_WORKER_H

#include <json-c/json.h>

#include "agent.h"
#include "event_loop.h"

struct xtap_agent_worker;

/*
 * Called in the control socket's thread with each reply (JSON text, made
 * in the agent's thread: a large reply costs the socket's thread a copy
 * only); tag is submit's, fds are the callee's.
 */
typedef void (*xtap_worker_reply_fn)(void *ctx, void *tag, const char *json, struct xtap_fds *fds);

/*
 * Runs agent_loop (the agent's watches: link monitor, xtap-vhost pidfds,
 * periodic checks) on a new thread; replies are delivered from io_loop.
 */
struct xtap_agent_worker *xtap_agent_worker_start(struct xtap_agent *a, struct xtap_loop *agent_loop,
						  struct xtap_loop *io_loop, xtap_worker_reply_fn reply,
						  void *ctx, struct xtap_err *err);
/* Queues a request (taken); its reply comes through the reply callback. 0 or -errno. */
int xtap_agent_worker_submit(struct xtap_agent_worker *w, json_object *req, void *tag);
/*
 * Queues render, run in the agent's thread between requests (the metrics:
 * counters read now, not a snapshot); its text (malloc'ed, or NULL) comes to
 * reply in the control socket's thread, NULL too when the worker stops
 * first. 0 or -errno.
 */
typedef char *(*xtap_worker_render_fn)(struct xtap_agent *a);
int xtap_agent_worker_render(struct xtap_agent_worker *w, xtap_worker_render_fn render,
			     xtap_worker_reply_fn reply, void *tag);
/* A copy of the status snapshot (JSON text; free it), or NULL without memory. */
char *xtap_agent_worker_status(struct xtap_agent_worker *w);
/* The agent stopped by itself (teardown); its last replies are delivered. */
int xtap_agent_worker_done(struct xtap_agent_worker *w);
/* Stops it after the request in progress, joins it, delivers the replies left; requests not started get an error. */
void xtap_agent_worker_stop(struct xtap_agent_worker *w);

#endif /* XTAP_AGENT_WORKER_H */
