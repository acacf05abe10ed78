// SPDX-License-Identifier: GPL-2.0
/* The agent's thread: requests in, replies out, and the status snapshot, under one mutex. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent_worker.h"

struct job {
	struct job *next;
	json_object *req;
	xtap_worker_render_fn render;  /* instead of a request: text made from the agent's state */
	xtap_worker_reply_fn reply;    /* NULL: the worker's */
	char *resp;                    /* the reply as text */
	struct xtap_fds fds;
	void *tag;
};

struct queue {
	struct job *head, *tail;
};

struct xtap_agent_worker {
	struct xtap_agent *a;
	struct xtap_loop *agent_loop, *io_loop;
	xtap_worker_reply_fn reply;
	void *ctx;
	pthread_t thread;
	struct xtap_watch todo_w;      /* eventfd (semaphore: one count per job) in agent_loop */
	struct xtap_watch done_w;      /* eventfd in io_loop */
	pthread_mutex_t lock;          /* everything below */
	struct queue todo, done;
	char *status;                  /* the status reply, as text */
	int stop;                      /* asked to stop */
	int finished;                  /* the agent thread left its loop */
};

static void push(struct queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *pop(struct queue *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void wake(int fd)
{
	eventfd_write(fd, 1);
}

/* In the agent's thread, after anything it did: what `status` would answer now. */
static void snapshot(struct xtap_agent_worker *w)
{
	json_object *req = json_object_new_object(), *resp;
	struct xtap_fds fds = { .n = 0 };
	char *text;

	json_object_object_add(req, "cmd", json_object_new_string("status"));
	resp = xtap_agent_call(w->a, req, &fds);
	text = strdup(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
	json_object_put(resp);
	json_object_put(req);
	if (!text)
		return;
	pthread_mutex_lock(&w->lock);
	free(w->status);
	w->status = text;
	pthread_mutex_unlock(&w->lock);
}

/* Agent thread: one request per event, so link repairs and xtap-vhost events come in between. */
static void on_todo(struct xtap_watch *watch, uint32_t events)
{
	struct xtap_agent_worker *w = (struct xtap_agent_worker *)((char *)watch -
								   offsetof(struct xtap_agent_worker, todo_w));
	json_object *resp;
	eventfd_t one;
	struct job *j;

	(void)events;
	if (eventfd_read(watch->fd, &one))
		return;
	pthread_mutex_lock(&w->lock);
	j = pop(&w->todo);
	pthread_mutex_unlock(&w->lock);
	if (!j)
		return;   /* the wake-up of stop */
	j->fds.n = 0;
	if (j->render) {
		j->resp = j->render(w->a);
	} else {
		json_object *ok;

		resp = xtap_agent_call(w->a, j->req, &j->fds);
		if (json_object_object_get_ex(resp, XTAP_REPLY_OK, &ok) && json_object_get_boolean(ok))
			w->a->health.requests_ok++;
		else
			w->a->health.requests_refused++;
		j->resp = strdup(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
		json_object_put(resp);
		json_object_put(j->req);
		j->req = NULL;
	}
	pthread_mutex_lock(&w->lock);
	push(&w->done, j);
	pthread_mutex_unlock(&w->lock);
	wake(w->done_w.fd);
}

static void deliver(struct xtap_agent_worker *w)
{
	struct queue done;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	done = w->done;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->lock);
	while ((j = pop(&done))) {
		if (j->reply)
			j->reply(w->ctx, j->tag, j->resp, NULL);
		else
			w->reply(w->ctx, j->tag, j->resp ? j->resp : "{\"ok\":false,\"error\":\"xtapd is out of memory\"}",
				 &j->fds);
		free(j->resp);
		free(j);
	}
}

/* Control socket's thread: replies are ready. */
static void on_done(struct xtap_watch *watch, uint32_t events)
{
	eventfd_t n;

	(void)events;
	eventfd_read(watch->fd, &n);
	deliver((struct xtap_agent_worker *)((char *)watch - offsetof(struct xtap_agent_worker, done_w)));
}

static void *agent_thread(void *arg)
{
	struct xtap_agent_worker *w = arg;
	int stop = 0;

	while (!stop && !w->a->stop) {
		if (xtap_loop_run_once(w->agent_loop)) {
			xtap_log(XTAP_LOG_ERR, "agent event loop: %s", strerror(errno));
			break;
		}
		if (w->a->stop)
			break;   /* teardown: nothing left to report */
		snapshot(w);
		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
	}
	pthread_mutex_lock(&w->lock);
	w->finished = 1;
	pthread_mutex_unlock(&w->lock);
	wake(w->done_w.fd);
	return NULL;
}

struct xtap_agent_worker *xtap_agent_worker_start(struct xtap_agent *a, struct xtap_loop *agent_loop,
						  struct xtap_loop *io_loop, xtap_worker_reply_fn reply,
						  void *ctx, struct xtap_err *err)
{
	struct xtap_agent_worker *w = calloc(1, sizeof(*w));
	int e;

	if (!w)
		return xtap_fail(err, -ENOMEM, "agent thread: out of memory"), NULL;
	w->a = a;
	w->agent_loop = agent_loop;
	w->io_loop = io_loop;
	w->reply = reply;
	w->ctx = ctx;
	pthread_mutex_init(&w->lock, NULL);
	w->todo_w = (struct xtap_watch){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE), .fn = on_todo };
	w->done_w = (struct xtap_watch){ .fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), .fn = on_done };
	snapshot(w);
	if (w->todo_w.fd < 0 || w->done_w.fd < 0 || !w->status ||
	    xtap_loop_add(agent_loop, &w->todo_w, EPOLLIN) || xtap_loop_add(io_loop, &w->done_w, EPOLLIN)) {
		xtap_fail(err, -errno, "agent thread: %s", strerror(errno));
		goto fail;
	}
	e = pthread_create(&w->thread, NULL, agent_thread, w);
	if (e) {
		xtap_fail(err, -e, "agent thread: %s", strerror(e));
		goto fail;
	}
	return w;
fail:
	if (w->todo_w.fd >= 0)
		close(w->todo_w.fd);
	if (w->done_w.fd >= 0)
		close(w->done_w.fd);
	free(w->status);
	free(w);
	return NULL;
}

static void queue_job(struct xtap_agent_worker *w, struct job *j)
{
	pthread_mutex_lock(&w->lock);
	push(&w->todo, j);
	pthread_mutex_unlock(&w->lock);
	wake(w->todo_w.fd);
}

int xtap_agent_worker_submit(struct xtap_agent_worker *w, json_object *req, void *tag)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j) {
		json_object_put(req);
		return -ENOMEM;
	}
	j->req = req;
	j->tag = tag;
	queue_job(w, j);
	return 0;
}

int xtap_agent_worker_render(struct xtap_agent_worker *w, xtap_worker_render_fn render,
			     xtap_worker_reply_fn reply, void *tag)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->render = render;
	j->reply = reply;
	j->tag = tag;
	queue_job(w, j);
	return 0;
}

char *xtap_agent_worker_status(struct xtap_agent_worker *w)
{
	char *text;

	pthread_mutex_lock(&w->lock);
	text = strdup(w->status);
	pthread_mutex_unlock(&w->lock);
	return text;
}

int xtap_agent_worker_done(struct xtap_agent_worker *w)
{
	int done;

	pthread_mutex_lock(&w->lock);
	done = w->finished && !w->done.head;
	pthread_mutex_unlock(&w->lock);
	return done;
}

void xtap_agent_worker_stop(struct xtap_agent_worker *w)
{
	struct job *j;

	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_mutex_unlock(&w->lock);
	wake(w->todo_w.fd);
	pthread_join(w->thread, NULL);
	deliver(w);
	while ((j = pop(&w->todo))) {
		json_object_put(j->req);
		if (j->reply)
			j->reply(w->ctx, j->tag, NULL, NULL);
		else
			w->reply(w->ctx, j->tag, "{\"ok\":false,\"error\":\"xtapd is stopping: request not run "
				 "(nothing changed)\"}", NULL);
		free(j);
	}
	xtap_loop_del(w->agent_loop, &w->todo_w);
	xtap_loop_del(w->io_loop, &w->done_w);
	close(w->todo_w.fd);
	close(w->done_w.fd);
	pthread_mutex_destroy(&w->lock);
	free(w->status);
	free(w);
}
