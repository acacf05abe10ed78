/* SPDX-License-Identifier: GPL-2.0 */
/* xtapd's state and the operations behind its control socket. */
#ifndef XTAP_AGENT_H
#define XTAP_AGENT_H

#include <json-c/json.h>
#include <limits.h>

#include "datapath.h"
#include "log.h"
#include "xtap_ctl.h"
#include "model.h"
#include "vhost_proc.h"

#define XTAP_DEFAULT_STATE  "/var/lib/xtap/state.json"
#define XTAP_DEFAULT_CONFIG "/etc/xtap/xtapd.json"

struct xtap_fleet;
/* What the metrics say of the agent itself (metrics.c); the agent's thread writes it. */
struct xtap_agent_health {
	double start_time;            /* seconds since the epoch */
	double last_reconcile;        /* 0: none yet */
	unsigned long reconcile_errors, repair_errors;
	unsigned long requests_ok, requests_refused;
};

struct xtap_agent {
	struct xtap_datapath dp;
	struct xtap_agent_health health;
	struct xtap_model model;
	struct xtap_vhost_procs vhost;  /* the ports' vhost-user servers */
	char state_path[PATH_MAX];
	int stop;            /* set by teardown: the agent exits after replying */
	struct xtap_fleet *fleet;   /* run from etcd (--etcd): it owns ports and segments (fleet.h) */
	int fleet_applying;  /* a request of the fleet's, not of the local socket */
};

/* Makes the kernel match the model: segments, uplinks, taps, policy, attachments. */
int xtap_agent_reconcile(struct xtap_agent *a);

struct xtap_fds {
	int fd[2 * XTAP_HANDOFF_MAX_QUEUES];
	int n;
};

/* Handles one request {"cmd": ..., "args": {...}}; returns {"ok": ..., ...}. */
json_object *xtap_agent_call(struct xtap_agent *a, json_object *req, struct xtap_fds *fds);
/* Periodic (every XTAP_VHOST_CHECK_SECONDS): starts again the xtap-vhost of ports whose process died or never started. */
void xtap_agent_vhost_check(struct xtap_agent *a);
/* A link appeared or vanished: repair what depends on it. */
void xtap_agent_link_event(struct xtap_agent *a, int is_new, const char *name, int ifindex);

#include "state_file.h"

#endif /* XTAP_AGENT_H */
