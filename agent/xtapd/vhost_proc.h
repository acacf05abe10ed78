/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapd's side of vhost-user: one xtap-vhost process per port serves the
 * port's vhost-user socket (agent/xtap_vhost.c). xtapd starts it, finds it
 * again after a restart through its status file, and stops it with the
 * port. The process is detached (double fork + setsid): the VM's data
 * plane, kernel vhost-net included, does not depend on xtapd running.
 */
#ifndef XTAP_VHOST_PROC_H
#define XTAP_VHOST_PROC_H

#include <json-c/json.h>
#include <limits.h>

#include "err.h"
#include "model.h"

struct xtap_vhost_procs {
	char dir[96];            /* <dir of the control socket>/vhost: NAME.sock, NAME.json (at most 82 bytes: see vhost_proc.c) */
	char exe[PATH_MAX];      /* the xtap-vhost binary; "" = vhost-user off */
};

/* Finds xtap-vhost next to the running xtapd; without it vhost-user is off (logged). */
void xtap_vhost_procs_init(struct xtap_vhost_procs *v, const char *control_socket);

/* Starts the port's xtap-vhost unless one already serves it; returns once its socket listens. */
int xtap_vhost_proc_ensure(const struct xtap_vhost_procs *v, const struct xtap_port_conf *p,
			   struct xtap_err *err);
/* Is the port's xtap-vhost serving (always true with vhost-user off)? */
int xtap_vhost_proc_running(const struct xtap_vhost_procs *v, const char *port);
/* SIGTERM (SIGKILL after 1 s) to the port's xtap-vhost; removes its socket and status file. */
void xtap_vhost_proc_stop(const struct xtap_vhost_procs *v, const char *port);
/* Stops the xtap-vhost of ports the model no longer has (deleted while xtapd was down). */
void xtap_vhost_procs_stop_others(const struct xtap_vhost_procs *v, const struct xtap_model *m);
/* The status the process publishes, or {"state": "not running"}; NULL when vhost-user is off. */
json_object *xtap_vhost_proc_status(const struct xtap_vhost_procs *v, const char *port);

#endif /* XTAP_VHOST_PROC_H */
