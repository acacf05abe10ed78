// SPDX-License-Identifier: GPL-2.0
/* Commands on segments and what they learnt: segment.add, segment.del, segment.list, fdb. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "attach.h"
#include "commands.h"
#include "fault.h"
#include "netdev.h"
#include "realize.h"
#include "validate.h"

/*
 * Commit: the uplink's programs, the maps, the model, the state file. Undo:
 * programs this request attached are detached (another segment's stay), the
 * maps come back with the request's journal (api.c).
 */
XTAP_DEFINE_CMD(cmd_segment_add)
{
	struct xtap_segment_conf s;
	int attached = 0, in_model = 0, ret;
	size_t i;

	ret = xtap_segment_from_json(args, &s, err);
	if (ret)
		return ret;
	if (xtap_model_segment(&a->model, s.id))
		return xtap_fail(err, -EEXIST, "segment %u already exists", s.id);
	for (i = 0; s.uplink[0] && i < a->model.n_segments; i++)
		if (!strcmp(a->model.segments[i].uplink, s.uplink) && a->model.segments[i].vlan == s.vlan)
			return xtap_fail(err, -EEXIST, "segment %u: uplink %s VLAN %u already carries segment %u (pick another VLAN)",
					 s.id, s.uplink, s.vlan, a->model.segments[i].id);
	for (i = 0; s.vni && i < a->model.n_segments; i++)
		if (a->model.segments[i].vni == s.vni)
			return xtap_fail(err, -EEXIST, "segment %u: VNI %u is segment %u's already", s.id, s.vni,
					 a->model.segments[i].id);
	ret = xtap_segment_realize(a, &s, &attached, err);
	if (!ret) {
		ret = xtap_model_add_segment(&a->model, &s);
		in_model = !ret;
	}
	if (!ret)
		ret = xtap_cmd_save(a, err);
	if (ret) {
		if (in_model)
			xtap_model_del_segment(&a->model, s.id);
		if (attached)
			xtap_detach(&a->dp, attached, XTAP_ROLE_UPLINK, NULL);
		return ret;
	}
	xtap_log(XTAP_LOG_INFO, "segment %u added%s%s", s.id, s.uplink[0] ? ", uplink " : "", s.uplink);
	*res = xtap_segment_to_json(&s);
	return 0;
}

/*
 * The maps (the request's journal takes them back), then the state file;
 * once that is written, what cannot fail: the model, and detaching the
 * uplink when no other segment uses it.
 */
XTAP_DEFINE_CMD(cmd_segment_del)
{
	struct xtap_segment_conf *s, saved;
	struct xtap_model view;
	size_t i;
	__u64 id64;
	__u32 id;
	int ret;

	ret = xtap_json_get_u64(args, "id", 1, 0, UINT32_MAX, &id64, err);
	if (ret) {
		xtap_err_nothing_changed(err);
		return ret;
	}
	id = id64;
	s = xtap_model_segment(&a->model, id);
	if (!s)
		return xtap_fail(err, -ENOENT, "segment %u does not exist", id);
	for (i = 0; i < a->model.n_ports; i++)
		if (a->model.ports[i]->spec.segment_id == id)
			return xtap_fail(err, -EBUSY, "segment %u still has port %s: delete its ports first", id,
				    a->model.ports[i]->name);
	for (i = 0; i < a->model.overlay.n_vteps; i++)
		if (a->model.overlay.vteps[i].segment == id)
			return xtap_fail(err, -EBUSY, "segment %u still has remote VTEPs: delete them first (xtapctl overlay show)",
					 id);
	saved = *s;
	ret = xtap_segment_delete(&a->dp, id, err);
	if (ret)
		return ret;
	ret = xtap_model_view_without_segment(&a->model, id, &view);
	if (ret)
		return ret;
	ret = xtap_state_save(a->state_path, &view, err);
	free(view.segments);
	if (ret)
		return ret;
	xtap_fault_set_committed(1);
	xtap_model_del_segment(&a->model, id);
	/* The overlay's underlay keeps the uplink programs it shares. */
	if (saved.uplink[0] && !xtap_segment_in_use_uplink(a, saved.uplink, id) &&
	    strcmp(saved.uplink, a->model.overlay.underlay)) {
		struct xtap_link l;
		struct xtap_err ignore;

		if (!xtap_link_get(saved.uplink, &l, &ignore))
			xtap_detach(&a->dp, l.ifindex, XTAP_ROLE_UPLINK, &ignore);
	}
	return 0;
}

XTAP_DEFINE_CMD(cmd_segment_list)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < a->model.n_segments; i++)
		json_object_array_add(arr, xtap_segment_to_json(&a->model.segments[i]));
	*res = arr;
	return 0;
}


XTAP_DEFINE_CMD(cmd_fdb)
{
	int fd = xtap_map_fd(&a->dp, XTAP_MAP_FDB);
	struct xtap_fdb_key k, *cur = NULL, next;
	struct xtap_fdb_entry e;
	json_object *arr = json_object_new_array();
	char mac[24];
	size_t i;

	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		json_object *o;
		const char *owner = "host";

		k = next;
		cur = &k;
		if (bpf_map_lookup_elem(fd, &k, &e))
			continue;
		for (i = 0; i < a->model.n_ports && e.ifindex != XTAP_FDB_HOST; i++)
			if (a->model.ports[i]->spec.ifindex == e.ifindex)
				owner = a->model.ports[i]->name;
		o = json_object_new_object();
		json_object_object_add(o, "segment", json_object_new_int64(k.segment_id));
		xtap_format_mac(k.mac, mac, sizeof(mac));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "port", json_object_new_string(owner));
		json_object_object_add(o, "ifindex", json_object_new_int(e.ifindex));
		json_object_array_add(arr, o);
	}
	*res = arr;
	return 0;
}


const struct xtap_cmd_handler xtap_segment_cmds[] = {
	{ XTAP_CMD_SEGMENT_ADD, cmd_segment_add },   { XTAP_CMD_SEGMENT_DEL, cmd_segment_del },
	{ XTAP_CMD_SEGMENT_LIST, cmd_segment_list }, { XTAP_CMD_FDB, cmd_fdb },
	{ NULL, NULL },
};
