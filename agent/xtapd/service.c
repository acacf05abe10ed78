// SPDX-License-Identifier: GPL-2.0
/*
 * sd_notify(3) for xtapd: READY, STATUS, STOPPING, WATCHDOG. The watchdog
 * vouches for both threads: the agent's loop beats every half interval, and
 * the control socket's loop pings systemd every interval only while the
 * last beat is fresh. A request stuck in the agent's thread stops the pings
 * and systemd restarts xtapd (the datapath stays).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "service.h"

static double interval;           /* seconds between pings: half of WATCHDOG_USEC; 0: no watchdog */
static double next_ping, next_beat;
static _Atomic double agent_beat; /* when the agent's loop last turned */
static unsigned long missed;

void xtap_service_ready(const char *fmt, ...)
{
	char status[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void xtap_service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping; the datapath keeps running");
}

/* Agent thread. */
static double beat_tick(void *ctx, double now)
{
	(void)ctx;
	if (now >= next_beat) {
		atomic_store(&agent_beat, now);
		next_beat = now + interval / 2;
	}
	return next_beat;
}

/* Control socket's thread. */
static double ping_tick(void *ctx, double now)
{
	(void)ctx;
	if (now < next_ping)
		return next_ping;
	if (now - atomic_load(&agent_beat) < interval) {
		sd_notify(0, "WATCHDOG=1");
		missed = 0;
	} else if (!missed++) {
		xtap_log(XTAP_LOG_ERR, "the agent's thread has not turned for %.1f s: no watchdog ping "
			 "(systemd restarts xtapd if it stays stuck)", now - atomic_load(&agent_beat));
	}
	next_ping = now + interval;
	return next_ping;
}

int xtap_service_watchdog(struct xtap_loop *io_loop, struct xtap_loop *agent_loop)
{
	uint64_t usec;
	int ret;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	interval = usec / 2e6;
	next_ping = next_beat = xtap_now();
	atomic_store(&agent_beat, next_beat);
	ret = xtap_loop_add_ticker(agent_loop, beat_tick, NULL);
	if (!ret)
		ret = xtap_loop_add_ticker(io_loop, ping_tick, NULL);
	if (!ret)
		xtap_log(XTAP_LOG_INFO, "systemd watchdog: a ping every %.3f s while both threads turn", interval);
	return ret;
}
