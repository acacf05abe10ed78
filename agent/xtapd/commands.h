/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xtapd's command handlers, grouped by concern (cmd_port.c, cmd_addr.c,
 * cmd_acl.c, cmd_rate.c, cmd_segment.c, cmd_status.c, cmd_conntrack.c, cmd_trace.c). api.c finds the
 * handler of a request's "cmd" here after checking its "args" against the
 * command table (agent/lib/ctl_commands.c): a handler gets arguments of
 * the declared types.
 */
#ifndef XTAP_COMMANDS_H
#define XTAP_COMMANDS_H

#include "agent.h"
#include "ctl_commands.h"

/* Sets *res (the reply's result, may stay NULL) and fds (port.open) or fails with err. */
typedef int xtap_cmd_fn(struct xtap_agent *a, json_object *args, json_object **res,
			struct xtap_fds *fds, struct xtap_err *err);

/* Defines a handler (each sees every parameter of xtap_cmd_fn, and uses the ones it needs). */
#define XTAP_CMD_UNUSED __attribute__((unused))
#define XTAP_DEFINE_CMD(fn)                                                                     \
	static int fn(struct xtap_agent *a XTAP_CMD_UNUSED, json_object *args XTAP_CMD_UNUSED,    \
		      json_object **res XTAP_CMD_UNUSED, struct xtap_fds *fds XTAP_CMD_UNUSED,    \
		      struct xtap_err *err XTAP_CMD_UNUSED)

struct xtap_cmd_handler {
	const char *name;   /* XTAP_CMD_* */
	xtap_cmd_fn *fn;
};

/* Each group ends with a NULL name. */
extern const struct xtap_cmd_handler xtap_port_cmds[];
extern const struct xtap_cmd_handler xtap_addr_cmds[];
extern const struct xtap_cmd_handler xtap_acl_cmds[];
extern const struct xtap_cmd_handler xtap_rate_cmds[];
extern const struct xtap_cmd_handler xtap_segment_cmds[];
extern const struct xtap_cmd_handler xtap_overlay_cmds[];
extern const struct xtap_cmd_handler xtap_status_cmds[];
extern const struct xtap_cmd_handler xtap_conntrack_cmds[];
extern const struct xtap_cmd_handler xtap_trace_cmds[];

/* cmd_args.c: the string at key, or NULL. */
const char *xtap_arg_str(json_object *args, const char *key);
/* The port named by args[key]; fails naming the field or the missing port. */
int xtap_arg_port(struct xtap_agent *a, json_object *args, const char *key, struct xtap_port_conf **p,
		  struct xtap_err *err);
/* args["dir"]: from-vm or to-vm. */
int xtap_arg_dir(json_object *args, int *dir, struct xtap_err *err);
/* Writes the state file. */
int xtap_cmd_save(struct xtap_agent *a, struct xtap_err *err);
/*
 * Applies a changed copy of a port's configuration: the kernel first (an
 * atomic switch), then the model, then the state file; all or nothing.
 */
int xtap_cmd_port_update(struct xtap_agent *a, struct xtap_port_conf *cur, struct xtap_port_conf *next,
			 struct xtap_err *err);

/* cmd_overlay.c: teardown's part: the VTEPs' neighbours deleted, the underlay's programs detached. */
void xtap_overlay_teardown(struct xtap_agent *a);
/* cmd_overlay.c: a port of an overlay segment fits the underlay (MTU <= underlay MTU - 50). */
int xtap_overlay_port_fits(struct xtap_agent *a, const struct xtap_port_conf *p, struct xtap_err *err);

/* cmd_port.c: a port's state, data plane and xtap-vhost status (port.list and port.show add it). */
json_object *xtap_cmd_port_status(struct xtap_agent *a, const struct xtap_port_conf *p);
/* cmd_status.c: a port's counters, summed over CPUs (port.show adds them). */
json_object *xtap_cmd_port_stats(struct xtap_agent *a, const struct xtap_port_conf *p);

#endif
