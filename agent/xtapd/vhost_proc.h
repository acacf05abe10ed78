/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapd's side of vhost-user: one xtap-vhost process per port serves the
 * port's vhost-user socket (agent/vhost/xtap_vhost.c). xtapd starts it, finds it
 * again after a restart through its status file, and stops it with the
 * port. The process is detached (its own session): the VM's data plane,
 * kernel vhost-net included, does not depend on xtapd running. Nothing
 * here waits: starts and stops finish in xtapd's event loop.
 */
#ifndef XTAP_VHOST_PROC_H
#define XTAP_VHOST_PROC_H

#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>

#include "err.h"
#include "event_loop.h"
#include "model.h"

/* How often xtapd starts again the xtap-vhost of ports whose process died or never started. */
#define XTAP_VHOST_CHECK_SECONDS 5

struct xtap_vhost_child;

struct xtap_vhost_procs {
	char dir[96];            /* <dir of the control socket>/vhost: NAME.sock, NAME.json (at most 82 bytes: see vhost_proc.c) */
	char exe[PATH_MAX];      /* the xtap-vhost binary; "" = vhost-user off */
	struct xtap_loop *loop;
	struct xtap_vhost_child *children;  /* starting or stopping: watched through their pidfds */
};

/* Finds xtap-vhost next to the running xtapd; without it vhost-user is off (logged). */
void xtap_vhost_procs_init(struct xtap_vhost_procs *v, const char *control_socket, struct xtap_loop *loop);
/* At xtapd's exit: waits for the processes being stopped (SIGKILL at their deadline), lets the others run. */
void xtap_vhost_procs_finish(struct xtap_vhost_procs *v);

/*
 * Starts the port's xtap-vhost unless one already serves it, or is starting;
 * returns without waiting for it (the loop watches it: "starting" until its
 * socket is there, killed when it is not within 3 s). While the port's
 * previous process is still stopping, it starts once that one is gone.
 */
int xtap_vhost_proc_ensure(struct xtap_vhost_procs *v, const struct xtap_port_conf *p,
			   struct xtap_err *err);
/* Is the port's xtap-vhost serving or about to (always true with vhost-user off)? */
int xtap_vhost_proc_running(struct xtap_vhost_procs *v, const char *port);
/*
 * SIGTERM to the port's xtap-vhost, SIGKILL from the loop if it is still
 * there 1 s later; removes its socket and status file now.
 */
void xtap_vhost_proc_stop(struct xtap_vhost_procs *v, const char *port);
/* Stops the xtap-vhost of ports the model no longer has (deleted while xtapd was down). */
void xtap_vhost_procs_stop_others(struct xtap_vhost_procs *v, const struct xtap_model *m);
/*
 * The status the process publishes with "state": "running", or {"state":
 * "starting" | "stopping" | "not running"}; NULL when vhost-user is off.
 */
json_object *xtap_vhost_proc_status(struct xtap_vhost_procs *v, const char *port);

#endif /* XTAP_VHOST_PROC_H */
