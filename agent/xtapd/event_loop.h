/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An event loop (epoll), one per thread of xtapd (xtapd.c): fds are
 * watches (the control socket and its connections, signals, the link
 * monitor, the xtap-vhost processes' pidfds, the agent's queues); deadlines
 * (connection timeouts, SIGKILL after SIGTERM, the periodic xtap-vhost
 * check) are tickers. A handler must not wait on anything but its own
 * syscall.
 */
#ifndef XTAP_EVENT_LOOP_H
#define XTAP_EVENT_LOOP_H

#include <stdint.h>

struct xtap_watch;
typedef void (*xtap_watch_fn)(struct xtap_watch *w, uint32_t events);

/* Embedded in its owner (container_of); fd and fn are the owner's to set. */
struct xtap_watch {
	int fd;
	xtap_watch_fn fn;
};

/*
 * Called after every event and when its deadline passes: does what is due
 * at `now` (CLOCK_MONOTONIC seconds) and returns its next deadline
 * (0: none).
 */
typedef double (*xtap_ticker_fn)(void *ctx, double now);

#define XTAP_LOOP_MAX_TICKERS 4

struct xtap_loop {
	int epfd;
	struct {
		xtap_ticker_fn fn;
		void *ctx;
	} tickers[XTAP_LOOP_MAX_TICKERS];
	int n_tickers;
};

double xtap_now(void);
/* CLOCK_REALTIME seconds: timestamps for people and Prometheus. */
double xtap_wall_now(void);
int xtap_loop_init(struct xtap_loop *l);
void xtap_loop_close(struct xtap_loop *l);
/* epoll_ctl ADD / MOD / DEL of w->fd; 0 or -errno. */
int xtap_loop_add(struct xtap_loop *l, struct xtap_watch *w, uint32_t events);
int xtap_loop_mod(struct xtap_loop *l, struct xtap_watch *w, uint32_t events);
void xtap_loop_del(struct xtap_loop *l, struct xtap_watch *w);
int xtap_loop_add_ticker(struct xtap_loop *l, xtap_ticker_fn fn, void *ctx);
/*
 * Waits for one event (or the nearest deadline) and handles it, then runs
 * the tickers. One event per wake-up: a handler may free any watch, the
 * next wait sees only live ones. 0, or -errno when epoll failed.
 */
int xtap_loop_run_once(struct xtap_loop *l);

#endif /* XTAP_EVENT_LOOP_H */
