/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapd under systemd (Type=notify, tools/xtapd.service): READY once the
 * desired state is reconciled and the control socket serves, STATUS lines,
 * STOPPING on SIGTERM, and WATCHDOG pings from the control socket's loop at
 * half of WATCHDOG_USEC while the agent's loop turns too. Without
 * NOTIFY_SOCKET (run by hand) each is a no-op.
 */
#ifndef XTAP_SERVICE_H
#define XTAP_SERVICE_H

#include "event_loop.h"

void xtap_service_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xtap_service_stopping(void);
/*
 * When systemd asked for a watchdog: a heartbeat ticker in the agent's loop
 * and the ping's in the control socket's loop (pings only while the
 * heartbeat is fresh). 0 or -errno.
 */
int xtap_service_watchdog(struct xtap_loop *io_loop, struct xtap_loop *agent_loop);

#endif /* XTAP_SERVICE_H */
