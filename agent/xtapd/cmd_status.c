// SPDX-License-Identifier: GPL-2.0
/* The agent as a whole: status, stats, teardown. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "commands.h"
#include "conntrack.h"
#include "netdev.h"
#include "realize.h"

json_object *xtap_cmd_port_stats(struct xtap_agent *a, const struct xtap_port_conf *p)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xtap_port_stats *v = calloc(ncpu, sizeof(*v));
	__u32 id = p->spec.port_id;
	json_object *o;

	if (!v || bpf_map_lookup_elem(xtap_map_fd(&a->dp, XTAP_MAP_PORT_STATS), &id, v)) {
		free(v);
		return json_object_new_object();
	}
	o = xtap_port_stats_to_json(v, ncpu);
	free(v);
	json_object_object_add(o, "tracked_flows", json_object_new_int64(xtap_ct_port_count(&a->dp, id)));
	return o;
}

XTAP_DEFINE_CMD(cmd_stats)
{
	const char *name = xtap_arg_str(args, "port");
	size_t i;

	*res = json_object_new_object();
	for (i = 0; i < a->model.n_ports; i++) {
		const struct xtap_port_conf *p = a->model.ports[i];

		if (!name || !strcmp(name, p->name))
			json_object_object_add(*res, p->name, xtap_cmd_port_stats(a, p));
	}
	if (name && !xtap_model_port(&a->model, name)) {
		json_object_put(*res);
		*res = NULL;
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	}
	return 0;
}


XTAP_DEFINE_CMD(cmd_teardown)
{
	char path[PATH_MAX + 16];
	size_t i;

	while (a->model.n_ports) {
		struct xtap_port_conf *p = a->model.ports[0];
		struct xtap_err ignore;

		xtap_port_unrealize(a, p);
		if (!p->adopt)
			xtap_tap_delete(p->name, &ignore);
		xtap_model_del_port(&a->model, p->name);
	}
	for (i = 0; i < a->model.n_segments; i++) {
		struct xtap_segment_conf *s = &a->model.segments[i];
		struct xtap_link l;

		xtap_segment_delete(&a->dp, s->id, err);
		if (s->uplink[0] && !xtap_link_get(s->uplink, &l, err))
			xtap_detach(&a->dp, l.ifindex, XTAP_ROLE_UPLINK, err);
	}
	xtap_overlay_teardown(a);
	xtap_model_free(&a->model);
	rmdir(a->vhost.dir);
	xtap_datapath_unpin(a->dp.pin_dir);
	snprintf(path, sizeof(path), "%s/links", a->dp.pin_dir);
	rmdir(path);
	rmdir(a->dp.pin_dir);
	unlink(a->state_path);
	err->msg[0] = 0;
	a->stop = 1;
	xtap_log(XTAP_LOG_INFO, "teardown: removed every port (and its vhost-user server), segment, attachment and pinned map");
	return 0;
}

XTAP_DEFINE_CMD(cmd_status)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pin_dir", json_object_new_string(a->dp.pin_dir));
	json_object_object_add(o, "state_file", json_object_new_string(a->state_path));
	json_object_object_add(o, "ports", json_object_new_int64(a->model.n_ports));
	json_object_object_add(o, "segments", json_object_new_int64(a->model.n_segments));
	*res = o;
	return 0;
}


const struct xtap_cmd_handler xtap_status_cmds[] = {
	{ XTAP_CMD_STATUS, cmd_status }, { XTAP_CMD_STATS, cmd_stats }, { XTAP_CMD_TEARDOWN, cmd_teardown },
	{ NULL, NULL },
};
