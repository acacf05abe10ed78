// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's requests: each is checked against the command table
 * (agent/lib/ctl_commands.c), then handed to its handler (cmd_*.c), which
 * validates, changes the kernel, then the model, then persists. And the
 * start-up reconciliation and the repairs after link events.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "commands.h"
#include "fault.h"
#include "map_txn.h"
#include "netdev.h"
#include "realize.h"
#include "validate.h"

/* ---- JSON helpers ---- */

static json_object *reply_ok(json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, XTAP_REPLY_OK, json_object_new_boolean(1));
	if (result)
		json_object_object_add(o, XTAP_REPLY_RESULT, result);
	return o;
}

static json_object *reply_err(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, XTAP_REPLY_OK, json_object_new_boolean(0));
	json_object_object_add(o, XTAP_REPLY_ERROR, json_object_new_string(msg));
	return o;
}

/* Every handler group (commands.h); the command table (ctl_commands.c) names what each one serves. */
static const struct xtap_cmd_handler *const handler_groups[] = {
	xtap_port_cmds, xtap_addr_cmds, xtap_acl_cmds, xtap_rate_cmds, xtap_segment_cmds, xtap_overlay_cmds,
	xtap_status_cmds, xtap_conntrack_cmds, xtap_trace_cmds,
};

static xtap_cmd_fn *handler_of(const char *name)
{
	const struct xtap_cmd_handler *h;
	size_t g;

	for (g = 0; g < sizeof(handler_groups) / sizeof(handler_groups[0]); g++)
		for (h = handler_groups[g]; h->name; h++)
			if (!strcmp(h->name, name))
				return h->fn;
	return NULL;
}

/*
 * A request's "fault": "CLASS:N" (xtapd started with --fault-injection only,
 * docs/api.md) fails its Nth step of that class; the reply says what it saw.
 */
static int fault_arm_from(json_object *req, struct xtap_err *err)
{
	enum xtap_fault_class cls;
	unsigned long nth;
	json_object *v;

	if (!json_object_object_get_ex(req, XTAP_REQ_FAULT, &v))
		return 0;
	if (!xtap_fault_enabled())
		return xtap_fail(err, -EPERM, "request: \"" XTAP_REQ_FAULT "\" needs an xtapd started with --fault-injection (tests only)");
	if (!json_object_is_type(v, json_type_string) || xtap_fault_parse(json_object_get_string(v), &cls, &nth))
		return xtap_fail(err, -EINVAL, "request: \"" XTAP_REQ_FAULT "\" must be \"CLASS:N\", CLASS map, netlink, file, attach or any, N >= 1");
	xtap_fault_arm(cls, nth);
	return 1;
}

static json_object *fault_report_json(void)
{
	struct xtap_fault_report r;
	json_object *o = json_object_new_object();

	xtap_fault_disarm(&r);
	json_object_object_add(o, "class", json_object_new_string(xtap_fault_class_name(r.armed)));
	json_object_object_add(o, "nth", json_object_new_int64(r.nth));
	json_object_object_add(o, "calls", json_object_new_int64(r.calls));
	json_object_object_add(o, "fired", r.fired ? json_object_new_string(xtap_fault_class_name(r.fired_class)) : NULL);
	return o;
}

static json_object *agent_call(struct xtap_agent *a, json_object *req, struct xtap_fds *fds);

json_object *xtap_agent_call(struct xtap_agent *a, json_object *req, struct xtap_fds *fds)
{
	struct xtap_err err = {};
	json_object *resp;
	int armed = json_object_is_type(req, json_type_object) ? fault_arm_from(req, &err) : 0;

	if (armed < 0)
		return reply_err(err.msg);
	resp = agent_call(a, req, fds);
	if (armed)
		json_object_object_add(resp, XTAP_REQ_FAULT, fault_report_json());
	return resp;
}

static json_object *agent_call(struct xtap_agent *a, json_object *req, struct xtap_fds *fds)
{
	const struct xtap_ctl_cmd *c = NULL;
	struct xtap_err err = {};
	json_object *args = NULL, *res = NULL;
	const char *cmd = NULL;
	xtap_cmd_fn *fn = NULL;
	int ret;

	if (!json_object_is_type(req, json_type_object) || !(cmd = xtap_arg_str(req, XTAP_REQ_CMD)))
		return reply_err("request must be a JSON object with a \"" XTAP_REQ_CMD "\" string");
	json_object_object_foreach(req, key, val) {
		(void)val;
		if (strcmp(key, XTAP_REQ_CMD) && strcmp(key, XTAP_REQ_ARGS) && strcmp(key, XTAP_REQ_FAULT))
			return reply_err("request: unknown field (only \"" XTAP_REQ_CMD "\" and \"" XTAP_REQ_ARGS "\")");
	}
	if (!json_object_object_get_ex(req, XTAP_REQ_ARGS, &args))
		args = NULL;
	if (args && !json_object_is_type(args, json_type_object))
		return reply_err("\"" XTAP_REQ_ARGS "\" must be a JSON object");
	if (!args)
		args = json_object_new_object();
	else
		json_object_get(args);

	c = xtap_ctl_cmd_find(cmd);
	if (c)
		fn = handler_of(c->name);
	if (!c || !fn)
		ret = xtap_fail(&err, -EINVAL, "unknown command \"%s\" (docs/api.md lists them)", cmd);
	else
		ret = xtap_ctl_args_check(c, args, &err);
	if (ret)
		xtap_err_nothing_changed(&err);
	if (!ret) {
		/* The request's map changes, undone together if it fails (map_txn.h). */
		int owner = xtap_map_txn_begin();

		ret = fn(a, args, &res, fds, &err);
		xtap_map_txn_end(&a->dp, owner, ret);
		xtap_fault_set_committed(0);
	}
	json_object_put(args);

	if (ret) {
		if (!err.msg[0])
			snprintf(err.msg, sizeof(err.msg), "%s failed: %s", cmd, strerror(-ret));
		xtap_log(XTAP_LOG_DEBUG, "%s: %s", cmd, err.msg);
		json_object_put(res);
		return reply_err(err.msg);
	}
	return reply_ok(res);
}

/* ---- start-up and repairs ---- */

/* Removes ports the maps still hold but the model does not (a port deleted while we were down). */
static void drop_stale_ports(struct xtap_agent *a)
{
	int fd = xtap_map_fd(&a->dp, XTAP_MAP_PORTS);
	__u32 key, next, *cur = NULL, stale[XTAP_MAX_PORTS];
	size_t n = 0, i, j;
	struct xtap_err err;

	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		for (j = 0; j < a->model.n_ports; j++)
			if (a->model.ports[j]->spec.ifindex == next)
				break;
		if (j == a->model.n_ports && n < XTAP_MAX_PORTS)
			stale[n++] = next;
		key = next;
		cur = &key;
	}
	for (i = 0; i < n; i++) {
		xtap_log(XTAP_LOG_INFO, "removing stale port on ifindex %u", stale[i]);
		xtap_port_delete(&a->dp, stale[i], &err);
	}
}

int xtap_agent_reconcile(struct xtap_agent *a)
{
	struct xtap_err err = {};
	size_t i;
	int ret, created, failures = 0;

	for (i = 0; i < a->model.n_segments; i++) {
		err.msg[0] = 0;
		if (xtap_segment_realize(a, &a->model.segments[i], NULL, &err)) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			failures++;
		}
	}
	err.msg[0] = 0;
	if (xtap_overlay_realize(a, &err)) {
		xtap_log(XTAP_LOG_WARN, "overlay: %s", err.msg);
		failures++;
	}
	for (i = 0; i < a->model.n_ports; i++) {
		struct xtap_port_conf *p = a->model.ports[i];

		err.msg[0] = 0;
		if (p->spec.port_id == XTAP_PORT_ID_UNSET) {
			p->spec.port_id = xtap_model_free_port_id(&a->model);
			xtap_model_port_changed(p);
		}
		ret = xtap_port_tap(p, &created, &err);
		if (ret < 0) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			failures++;
		}
		p->spec.ifindex = ret < 0 ? 0 : ret;
	}
	/*
	 * A tap deleted while xtapd was down left its entry (and port id) under
	 * its old ifindex: it goes before the port is written on its new tap.
	 */
	drop_stale_ports(a);
	for (i = 0; i < a->model.n_ports; i++) {
		struct xtap_port_conf *p = a->model.ports[i];

		err.msg[0] = 0;
		if (!p->spec.ifindex)
			continue;
		if (xtap_port_realize(a, p, NULL, &err)) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			failures++;
		} else {
			xtap_port_start_vhost(a, p);
		}
	}
	xtap_vhost_procs_stop_others(&a->vhost, &a->model);
	if (xtap_state_save(a->state_path, &a->model, &err))
		xtap_log(XTAP_LOG_WARN, "%s", err.msg);
	a->health.last_reconcile = xtap_wall_now();
	a->health.reconcile_errors += failures;
	return failures ? -EAGAIN : 0;
}

void xtap_agent_vhost_check(struct xtap_agent *a)
{
	struct xtap_err err = {};
	size_t i;

	for (i = 0; i < a->model.n_ports; i++) {
		struct xtap_port_conf *p = a->model.ports[i];

		if (!p->spec.ifindex || xtap_vhost_proc_running(&a->vhost, p->name))
			continue;
		xtap_log(XTAP_LOG_WARN, "port %s: its xtap-vhost is gone (see its last log lines); starting it again",
			 p->name);
		if (xtap_vhost_proc_ensure(&a->vhost, p, &err))
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
	}
	/* Where xtapd is PID 1 or a subreaper, the xtap-vhost processes it stopped come back to it. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

void xtap_agent_link_event(struct xtap_agent *a, int is_new, const char *name, int ifindex)
{
	struct xtap_port_conf *p = xtap_model_port(&a->model, name);
	struct xtap_err err = {};
	size_t i;
	int created, ret;

	if (p && !is_new && (int)p->spec.ifindex == ifindex) {
		xtap_log(XTAP_LOG_WARN, "port %s: tap deleted behind xtapd's back", name);
		xtap_port_unrealize(a, p);
		p->spec.ifindex = 0;
		if (p->adopt)
			return;   /* repaired when it comes back */
	}
	if (p && !p->spec.ifindex && (is_new || !p->adopt)) {
		ret = xtap_port_tap(p, &created, &err);
		if (ret > 0) {
			p->spec.ifindex = ret;
			if (xtap_port_realize(a, p, NULL, &err)) {
				xtap_log(XTAP_LOG_WARN, "repair failed: %s", err.msg);
				a->health.repair_errors++;
				p->spec.ifindex = 0;
			} else {
				xtap_port_start_vhost(a, p);
				xtap_log(XTAP_LOG_INFO, "port %s: tap %s, repaired", name,
					 created ? "recreated" : "back");
			}
		}
		return;
	}
	for (i = 0; i < a->model.n_segments; i++) {
		struct xtap_segment_conf *s = &a->model.segments[i];

		if (strcmp(s->uplink, name))
			continue;
		if (!is_new) {
			xtap_log(XTAP_LOG_WARN, "segment %u: uplink %s is gone", s->id, name);
			continue;
		}
		err.msg[0] = 0;
		if (xtap_segment_realize(a, s, NULL, &err)) {
			xtap_log(XTAP_LOG_WARN, "segment %u: %s", s->id, err.msg);
			a->health.repair_errors++;
		}
	}
	/* The underlay back (perhaps under a new ifindex): its programs, neighbours and map entry again. */
	if (!strcmp(a->model.overlay.underlay, name)) {
		if (!is_new) {
			xtap_log(XTAP_LOG_WARN, "overlay: underlay %s is gone", name);
			return;
		}
		err.msg[0] = 0;
		if (xtap_overlay_realize(a, &err))
			xtap_log(XTAP_LOG_WARN, "overlay: %s", err.msg);
	}
}
