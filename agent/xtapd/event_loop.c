// SPDX-License-Identifier: GPL-2.0
/* epoll, one event per wake-up, and tickers that say when they are due next. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "event_loop.h"

double xtap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

double xtap_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int xtap_loop_init(struct xtap_loop *l)
{
	l->n_tickers = 0;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void xtap_loop_close(struct xtap_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static int ctl(struct xtap_loop *l, int op, struct xtap_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, op, w->fd, &ev) ? -errno : 0;
}

int xtap_loop_add(struct xtap_loop *l, struct xtap_watch *w, uint32_t events)
{
	return ctl(l, EPOLL_CTL_ADD, w, events);
}

int xtap_loop_mod(struct xtap_loop *l, struct xtap_watch *w, uint32_t events)
{
	return ctl(l, EPOLL_CTL_MOD, w, events);
}

void xtap_loop_del(struct xtap_loop *l, struct xtap_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

int xtap_loop_add_ticker(struct xtap_loop *l, xtap_ticker_fn fn, void *ctx)
{
	if (l->n_tickers == XTAP_LOOP_MAX_TICKERS)
		return -ENOSPC;
	l->tickers[l->n_tickers].fn = fn;
	l->tickers[l->n_tickers].ctx = ctx;
	l->n_tickers++;
	return 0;
}

/* Runs the tickers; the nearest deadline, or 0. */
static double tick(struct xtap_loop *l)
{
	double now = xtap_now(), next = 0, d;
	int i;

	for (i = 0; i < l->n_tickers; i++) {
		d = l->tickers[i].fn(l->tickers[i].ctx, now);
		if (d > 0 && (next == 0 || d < next))
			next = d;
	}
	return next;
}

int xtap_loop_run_once(struct xtap_loop *l)
{
	struct epoll_event ev;
	double next = tick(l);
	int timeout = -1, n;

	if (next > 0) {
		double ms = (next - xtap_now()) * 1000;

		timeout = ms <= 0 ? 0 : (int)ms + 1;   /* rounded up: never wakes just before */
	}
	n = epoll_wait(l->epfd, &ev, 1, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 1) {
		struct xtap_watch *w = ev.data.ptr;

		w->fn(w, ev.events);
	}
	return 0;
}
