/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapd run from etcd (xtapd --etcd URL --host NAME; docs/fleet.md). Two
 * threads of its own talk to etcd (fleet.c): the watcher lists and watches
 * /xtap/ into `desired`, the writer keeps the host's lease and writes the
 * ports' status back. The agent thread makes the model match `desired`
 * through the same requests the control socket runs (fleet_apply.c), so
 * etcd's desired state gets the socket's validation and atomicity.
 */
#ifndef XTAP_FLEET_SERVICE_H
#define XTAP_FLEET_SERVICE_H

#include <pthread.h>
#include <stdint.h>

#include "agent.h"
#include "event_loop.h"
#include "xtap_fleet.h"

/* VMs being announced at once; more arrivals in one apply are announced without waiting (RARPs are best effort). */
#define XTAP_FLEET_ANNOUNCE_MAX 64

struct xtap_fleet {
	struct xtap_agent *a;
	char url[256];
	char host[XTAP_FLEET_HOST_MAX + 1];
	char vtep[16];                 /* this host's VTEP ("" without an underlay), published in its host key */
	pthread_t watcher, writer;
	volatile int stop;
	pthread_mutex_t lock;          /* everything down to agent side */
	pthread_cond_t cond;           /* the writer's wake-up (statuses, stop) */
	json_object *desired;          /* etcd key -> {"v": value (object or null), "rev": mod revision} */
	int64_t rev;                   /* the store revision desired is at */
	unsigned long gen;             /* bumped by every change to desired; 0: never listed */
	json_object *status_pending;   /* port name -> status text to write, or null to delete */
	int etcd_up;                   /* the watcher's last word: 1 listed or watching, 0 retrying */
	struct xtap_watch wake;        /* eventfd in the agent loop: desired changed */
	/* agent thread only */
	json_object *status_last;      /* port name -> the status last handed to the writer */
	double retry_at;               /* a request failed: apply again then (0: nothing to retry) */
	struct xtap_fleet_announce {   /* VMs that arrived, announced on their segment's uplink */
		int ifindex;
		__u16 vlan;
		__u8 mac[6];
		int sent;
		double next_at;
	} announce[XTAP_FLEET_ANNOUNCE_MAX];
	int n_announce;
};

struct xtap_fleet *xtap_fleet_start(struct xtap_agent *a, struct xtap_loop *agent_loop, const char *url,
				    const char *host, struct xtap_err *err);
/* The VTEP published is the model's at start: the underlay comes from xtapd.json or the state file. */
/* Stops both threads (an etcd call under way ends at its timeout); the host's lease then runs out. */
void xtap_fleet_stop(struct xtap_fleet *f, struct xtap_loop *agent_loop);

/* fleet.c: hands a port's status to the writer (NULL: delete its key). */
void xtap_fleet_status(struct xtap_fleet *f, const char *name, const char *value);

/* For status: {"url", "host", "connected", "revision"}. */
json_object *xtap_fleet_json(struct xtap_fleet *f);

/* fleet_apply.c, agent thread: desired changed (or a retry is due); make the model match. */
void xtap_fleet_apply(struct xtap_fleet *f);
/* A ticker (event_loop.h): failed requests again, every few seconds. */
double xtap_fleet_tick(void *ctx, double now);

#endif
