// SPDX-License-Identifier: GPL-2.0
/* sd_notify(3) for xtapd: READY, STATUS, STOPPING, WATCHDOG. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "service.h"

static double watchdog_interval;   /* seconds between pings; 0: no watchdog */
static double next_ping;

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

static double watchdog_tick(void *ctx, double now)
{
	(void)ctx;
	if (now >= next_ping) {
		sd_notify(0, "WATCHDOG=1");
		next_ping = now + watchdog_interval;
	}
	return next_ping;
}

int xtap_service_watchdog(struct xtap_loop *l)
{
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	watchdog_interval = usec / 2e6;
	next_ping = xtap_now();
	xtap_log(XTAP_LOG_INFO, "systemd watchdog: a ping every %.3f s", watchdog_interval);
	return xtap_loop_add_ticker(l, watchdog_tick, NULL);
}
