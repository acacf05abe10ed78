/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Prometheus text exposition (format 0.0.4) of the agent's state and the
 * datapath's counters, read when asked. Runs in the agent's thread: it reads
 * the model (metrics_server.h serves the text from the other thread).
 * docs/operations.md lists the metrics.
 */
#ifndef XTAP_METRICS_H
#define XTAP_METRICS_H

#include "agent.h"

/* The whole exposition (malloc'ed), or NULL without memory. */
char *xtap_metrics_render(struct xtap_agent *a);

#endif /* XTAP_METRICS_H */
