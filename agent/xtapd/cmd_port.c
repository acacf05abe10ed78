// SPDX-License-Identifier: GPL-2.0
/* Commands on ports: port.add, port.del, port.list, port.show, port.open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "commands.h"
#include "conntrack.h"
#include "fault.h"
#include "netdev.h"
#include "realize.h"
#include "validate.h"
#include "vhost_access.h"

/*
 * Prepare: everything checked, nothing made. Commit: the tap, the maps and
 * attachments, the model, the state file. Undo: what was attached and made
 * goes, the maps come back with the request's journal (api.c). The port's
 * xtap-vhost starts once it committed.
 */
XTAP_DEFINE_CMD(cmd_port_add)
{
	struct xtap_port_conf *p = calloc(1, sizeof(*p));
	int created = 0, attached = 0, in_model = 0, ret;

	if (!p)
		return -ENOMEM;
	ret = xtap_port_from_json(args, p, err);
	if (ret) {
		if (p->name[0])
			xtap_err_name_port(err, p->name);
		xtap_err_nothing_changed(err);
		goto out;
	}
	if (xtap_model_port(&a->model, p->name)) {
		ret = xtap_fail(err, -EEXIST, "port %s already exists; nothing changed", p->name);
		goto out;
	}
	if (p->spec.port_id == XTAP_PORT_ID_UNSET) {
		p->spec.port_id = xtap_model_free_port_id(&a->model);
		if (p->spec.port_id >= XTAP_MAX_PORTS) {
			ret = xtap_fail(err, -E2BIG, "all %d ports are in use; nothing changed", XTAP_MAX_PORTS);
			goto out;
		}
	}
	/* Everything is checked before the tap exists: a refused port.add leaves no trace. */
	ret = xtap_validate_port(&a->model, NULL, p, err);
	if (!ret)
		ret = xtap_overlay_port_fits(a, p, err);
	if (ret)
		goto out;

	ret = xtap_port_tap(p, &created, err);
	if (ret > 0) {
		p->spec.ifindex = ret;
		ret = xtap_port_realize(a, p, &attached, err);
	}
	if (!ret) {
		ret = xtap_model_add_port(&a->model, p);
		in_model = !ret;
	}
	if (!ret)
		ret = xtap_cmd_save(a, err);
	if (ret) {
		struct xtap_err ignore;

		if (attached)
			xtap_detach(&a->dp, p->spec.ifindex, XTAP_ROLE_VM, &ignore);
		if (created)
			xtap_tap_delete(p->name, &ignore);
		if (in_model) {
			xtap_model_del_port(&a->model, p->name);   /* frees p */
			p = NULL;
		}
		ret = ret < 0 ? ret : -EIO;
		goto out;
	}
	xtap_fault_set_committed(1);
	xtap_port_start_vhost(a, p);
	xtap_log(XTAP_LOG_INFO, "port %s added (ifindex %d, segment %u)", p->name, p->spec.ifindex,
		 p->spec.segment_id);
	*res = xtap_port_to_json(p);
	return 0;
out:
	free(p);
	return ret;
}

/*
 * The new state file first, then the maps (the request's journal takes them
 * back), then the tap, the one step no undo can take back: if it fails the
 * state file is written again as it was. What is left cannot fail: stopping
 * its xtap-vhost, unpinning its tc links, the model.
 */
XTAP_DEFINE_CMD(cmd_port_del)
{
	const char *name = xtap_arg_str(args, "name");
	struct xtap_model view;
	struct xtap_port_conf *p;
	struct xtap_err ignore;
	int ret;

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	ret = xtap_model_view_without_port(&a->model, name, &view);
	if (ret)
		return ret;
	ret = xtap_state_save(a->state_path, &view, err);
	free(view.ports);
	if (ret)
		return ret;
	if (p->spec.ifindex)
		ret = xtap_port_unwrite(a, p, err);
	if (!ret && !p->adopt) {
		ret = xtap_tap_delete(p->name, err);
		if (ret == -ENOENT)   /* gone already */
			ret = 0;
	}
	if (ret) {
		if (xtap_cmd_save(a, &ignore))
			xtap_log(XTAP_LOG_ERR, "port %s: deleting it failed and the state file could not be restored: %s",
				 name, ignore.msg);
		return ret;
	}
	xtap_fault_set_committed(1);
	xtap_vhost_proc_stop(&a->vhost, p->name);
	if (p->spec.ifindex && p->adopt)
		xtap_detach(&a->dp, p->spec.ifindex, XTAP_ROLE_VM, &ignore);
	else if (p->spec.ifindex)
		xtap_unpin_links(&a->dp, p->spec.ifindex, XTAP_ROLE_VM);
	/* Its flows must not count against (or pass for) a later port with its id. */
	xtap_ct_flush(&a->dp, p->spec.port_id);
	xtap_log(XTAP_LOG_INFO, "port %s deleted", p->name);
	xtap_model_del_port(&a->model, name);
	return 0;
}

json_object *xtap_cmd_port_status(struct xtap_agent *a, const struct xtap_port_conf *p)
{
	json_object *o = json_object_new_object(), *vhost, *v;
	struct xtap_attach_state st;
	struct xtap_link l;
	struct xtap_err err = {};

	json_object_object_add(o, "ifindex", json_object_new_int(p->spec.ifindex));
	if (!p->spec.ifindex || xtap_link_get_index(p->spec.ifindex, &l, &err)) {
		json_object_object_add(o, "state", json_object_new_string("tap missing"));
		return o;
	}
	xtap_attach_query(&a->dp, p->spec.ifindex, XTAP_ROLE_VM, &st);
	json_object_object_add(o, "state", json_object_new_string(
		!strcmp(st.xdp, "none") || (strcmp(st.tc, "tcx") && strcmp(st.tc, "clsact")) ?
		"not attached" : l.up ? "up" : "down"));
	json_object_object_add(o, "link_up", json_object_new_boolean(l.up));
	json_object_object_add(o, "carrier", json_object_new_boolean(l.running));
	json_object_object_add(o, "xdp", json_object_new_string(st.xdp));
	json_object_object_add(o, "tc", json_object_new_string(st.tc));
	vhost = xtap_vhost_proc_status(&a->vhost, p->name);
	/* Frames move through vhost-user's plane while a frontend is connected, else through whoever holds the tap. */
	json_object_object_add(o, "data_plane", json_object_new_string(
		vhost && json_object_object_get_ex(vhost, "frontend", &v) &&
		!strcmp(json_object_get_string(v), "connected") &&
		json_object_object_get_ex(vhost, "data_plane", &v) ? json_object_get_string(v) : "tap"));
	/* A tap someone holds (carrier) is attached by name or hand-off: no vhost-user frontend is missing. */
	if (vhost && !l.running)
		xtap_vhost_access_hint(vhost);
	if (vhost)
		json_object_object_add(o, "vhost_user", vhost);
	return o;
}

XTAP_DEFINE_CMD(cmd_port_list)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < a->model.n_ports; i++) {
		json_object *o = xtap_port_to_json(a->model.ports[i]);

		json_object_object_add(o, "status", xtap_cmd_port_status(a, a->model.ports[i]));
		json_object_array_add(arr, o);
	}
	*res = arr;
	return 0;
}

XTAP_DEFINE_CMD(cmd_port_show)
{
	struct xtap_port_conf *p;
	const char *name = xtap_arg_str(args, "name");

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	*res = xtap_port_to_json(p);
	json_object_object_add(*res, "status", xtap_cmd_port_status(a, p));
	json_object_object_add(*res, "stats", xtap_cmd_port_stats(a, p));
	return 0;
}

/*
 * The hand-off (fds for a VMM that may not open the tap; libvirt opens it by name instead, README
 * "With libvirt"): the port's tap queues, and as
 * many /dev/vhost-net instances when the kernel has vhost-net, for the VMM
 * to use with -netdev tap,fds=...,vhostfds=.... The VMM programs vhost-net
 * itself; frames still pass the tap, so the port's policy applies.
 */
XTAP_DEFINE_CMD(cmd_port_open)
{
	const char *name = xtap_arg_str(args, "name");
	struct xtap_port_conf *p;
	unsigned int queues, i, vhost = 0;
	__u64 asked;
	int ret;

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	ret = xtap_json_get_u64(args, "queues", 0, 1, XTAP_HANDOFF_MAX_QUEUES, &asked, err);
	if (ret < 0) {
		xtap_err_nothing_changed(err);
		return ret;
	}
	queues = ret ? p->queues : asked;
	if (queues < 1 || queues > p->queues || queues > XTAP_HANDOFF_MAX_QUEUES)
		return xtap_fail(err, -EINVAL, "port %s: ask for 1-%u queues (it has %u)", name,
				 p->queues < XTAP_HANDOFF_MAX_QUEUES ? p->queues : XTAP_HANDOFF_MAX_QUEUES,
				 p->queues);
	ret = xtap_tap_open_queues(p->name, queues, p->queues > 1, fds->fd, err);
	if (ret)
		return ret;
	fds->n = queues;
	for (i = 0; i < queues; i++) {
		int fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			if (errno == ENOENT || errno == ENODEV)
				break;
			ret = xtap_fail(err, -errno, "opening /dev/vhost-net: %s", strerror(errno));
			while (fds->n)
				close(fds->fd[--fds->n]);
			return ret;
		}
		fds->fd[fds->n++] = fd;
		vhost++;
	}
	/* All or none: a VMM takes one vhost fd per queue. */
	if (vhost && vhost < queues) {
		while (fds->n > (int)queues)
			close(fds->fd[--fds->n]);
		vhost = 0;
	}
	*res = json_object_new_object();
	json_object_object_add(*res, "tap_fds", json_object_new_int(queues));
	json_object_object_add(*res, "vhost_fds", json_object_new_int(vhost));
	json_object_object_add(*res, "data_plane", json_object_new_string(vhost ? "vhost-net" : "tap"));
	return 0;
}


const struct xtap_cmd_handler xtap_port_cmds[] = {
	{ XTAP_CMD_PORT_ADD, cmd_port_add },   { XTAP_CMD_PORT_DEL, cmd_port_del },
	{ XTAP_CMD_PORT_LIST, cmd_port_list }, { XTAP_CMD_PORT_SHOW, cmd_port_show },
	{ XTAP_CMD_PORT_OPEN, cmd_port_open }, { NULL, NULL },
};
