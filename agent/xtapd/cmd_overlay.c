// SPDX-License-Identifier: GPL-2.0
/*
 * Commands on the overlay: overlay.underlay.set, overlay.vtep.add/del,
 * overlay.mac.add/del, overlay.show. Each checks everything first, then
 * changes the kernel (neighbours, maps), the model, the state file; a
 * failure undoes its neighbours here and its maps through the request's
 * journal (api.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "commands.h"
#include "fault.h"
#include "netdev.h"
#include "policy.h"
#include "realize.h"

/* The underlay's ifindex, 0 when there is none or it is gone; -errno when it cannot be asked. */
static int underlay_ifindex(const struct xtap_agent *a, struct xtap_err *err)
{
	struct xtap_link l;
	int ret;

	if (!a->model.overlay.underlay[0])
		return 0;
	ret = xtap_link_get(a->model.overlay.underlay, &l, err);
	if (ret == -ENOENT)
		return 0;
	return ret ? ret : l.ifindex;
}

/*
 * The neighbour of a VTEP no other segment lists: added with its first
 * segment, deleted with its last. 1: changed, 0: nothing to do, or -errno.
 */
static int vtep_neigh(const struct xtap_agent *a, __u32 segment, __be32 ip, int add, struct xtap_err *err)
{
	int ifindex = underlay_ifindex(a, err);

	if (ifindex <= 0 || xtap_overlay_vtep_in_use(&a->model, ip, segment))
		return ifindex < 0 ? ifindex : 0;
	return xtap_neigh_managed(ifindex, ip, add, err) ?: 1;
}

static int segment_vteps_write(struct xtap_agent *a, __u32 segment, struct xtap_err *err)
{
	__be32 list[XTAP_MAX_SEGMENT_VTEPS];
	__u32 n = xtap_overlay_segment_vteps(&a->model, segment, list);

	return xtap_seg_vteps_write(&a->dp, segment, list, n, err);
}

/* What the MTU of ports in overlay segments must not exceed on an underlay of mtu. */
static int overlay_ports_fit(const struct xtap_agent *a, const char *ifname, unsigned int mtu,
			     struct xtap_err *err)
{
	size_t i;

	for (i = 0; i < a->model.n_ports; i++) {
		const struct xtap_port_conf *p = a->model.ports[i];
		const struct xtap_segment_conf *s = xtap_model_segment(&a->model, p->spec.segment_id);

		if (s && s->vni && (unsigned int)p->spec.mtu + XTAP_VXLAN_OVERHEAD > mtu)
			return xtap_fail(err, -EINVAL,
					 "underlay %s: MTU %u leaves %d for VMs, but port %s of segment %u has MTU %u "
					 "(raise the underlay's MTU to %u); nothing changed",
					 ifname, mtu, (int)mtu - XTAP_VXLAN_OVERHEAD, p->name, s->id, p->spec.mtu,
					 p->spec.mtu + XTAP_VXLAN_OVERHEAD);
	}
	return 0;
}

void xtap_overlay_teardown(struct xtap_agent *a)
{
	struct xtap_err ignore;
	int ifindex = underlay_ifindex(a, &ignore);
	size_t i;

	if (ifindex <= 0)
		return;
	for (i = 0; i < a->model.overlay.n_vteps; i++)
		xtap_neigh_managed(ifindex, a->model.overlay.vteps[i].ip, 0, &ignore);
	xtap_detach(&a->dp, ifindex, XTAP_ROLE_UPLINK, &ignore);
}

int xtap_overlay_port_fits(struct xtap_agent *a, const struct xtap_port_conf *p, struct xtap_err *err)
{
	const struct xtap_segment_conf *s = xtap_model_segment(&a->model, p->spec.segment_id);
	struct xtap_link l;
	int ret;

	if (!s || !s->vni || !a->model.overlay.underlay[0])
		return 0;
	ret = xtap_link_get(a->model.overlay.underlay, &l, err);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if ((unsigned int)p->spec.mtu + XTAP_VXLAN_OVERHEAD > l.mtu)
		return xtap_fail(err, -EINVAL,
				 "port %s: MTU %u does not fit the overlay: segment %u's frames cross underlay %s "
				 "(MTU %u) with %d bytes of VXLAN headers, so its ports' MTU is at most %d "
				 "(--mtu %d, or raise %s's MTU); nothing changed",
				 p->name, p->spec.mtu, s->id, l.name, l.mtu, XTAP_VXLAN_OVERHEAD,
				 (int)l.mtu - XTAP_VXLAN_OVERHEAD, (int)l.mtu - XTAP_VXLAN_OVERHEAD, l.name);
	return 0;
}

/*
 * Commit: the underlay's programs, its VTEPs' neighbours, the underlay map,
 * the model, the state file; then, committed, the old underlay's
 * neighbours and programs go. Undo: neighbours and programs this request
 * added, the model's old underlay.
 */
XTAP_DEFINE_CMD(cmd_underlay_set)
{
	struct xtap_overlay_conf *o = &a->model.overlay;
	struct xtap_attach_state st = { .had_programs = 1 };
	char old_name[IFNAMSIZ], name[IFNAMSIZ];
	__be32 old_vtep = o->vtep, vtep;
	int old_ifindex, ret;
	size_t i, added = 0;
	struct xtap_link l;

	ret = xtap_overlay_underlay_from_json(args, name, &vtep, err);
	if (ret)
		return ret;
	old_ifindex = underlay_ifindex(a, err);
	if (old_ifindex < 0)
		return old_ifindex;
	ret = xtap_link_get(name, &l, err);
	if (ret == -ENOENT)
		return xtap_fail(err, -ENOENT, "underlay %s does not exist; nothing changed", name);
	if (ret)
		return ret;
	ret = xtap_ipv4_forwarding(name);
	if (ret != 1)
		return xtap_fail(err, -EINVAL,
				 "underlay %s: IPv4 forwarding is off (sysctl -w net.ipv4.conf.%s.forwarding=1): "
				 "the datapath asks the FIB for the outer MACs, which needs it; nothing changed",
				 name, name);
	ret = overlay_ports_fit(a, name, l.mtu, err);
	if (ret)
		return ret;
	for (i = 0; i < o->n_vteps; i++)
		if (o->vteps[i].ip == vtep)
			return xtap_fail(err, -EINVAL, "VTEP %s is a remote VTEP of segment %u; nothing changed",
					 xtap_arg_str(args, "vtep"), o->vteps[i].segment);
	strcpy(old_name, o->underlay);
	ret = xtap_attach(&a->dp, l.ifindex, name, XTAP_ROLE_UPLINK, &st, err);
	for (i = 0; !ret && i < o->n_vteps; i++, added++)
		ret = xtap_neigh_managed(l.ifindex, o->vteps[i].ip, 1, err);
	if (!ret)
		ret = xtap_underlay_write(&a->dp, l.ifindex, vtep,
					  old_ifindex && xtap_segment_in_use_uplink(a, old_name, UINT32_MAX), err);
	if (!ret) {
		strcpy(o->underlay, name);
		o->vtep = vtep;
		ret = xtap_cmd_save(a, err);
		if (ret) {
			strcpy(o->underlay, old_name);
			o->vtep = old_vtep;
		}
	}
	if (ret) {
		struct xtap_err ignore;

		for (i = 0; l.ifindex != old_ifindex && i < added; i++)
			xtap_neigh_managed(l.ifindex, o->vteps[i].ip, 0, &ignore);
		if (!st.had_programs)
			xtap_detach(&a->dp, l.ifindex, XTAP_ROLE_UPLINK, NULL);
		return ret;
	}
	xtap_fault_set_committed(1);
	if (old_ifindex && old_ifindex != l.ifindex) {
		struct xtap_err ignore;

		for (i = 0; i < o->n_vteps; i++)
			xtap_neigh_managed(old_ifindex, o->vteps[i].ip, 0, &ignore);
		if (!xtap_segment_in_use_uplink(a, old_name, UINT32_MAX))
			xtap_detach(&a->dp, old_ifindex, XTAP_ROLE_UPLINK, &ignore);
	}
	xtap_log(XTAP_LOG_INFO, "underlay %s, VTEP %s", name, xtap_arg_str(args, "vtep"));
	return 0;
}

/* Commit: the VTEP's neighbour, the segment's VTEP list, the model, the state file. */
XTAP_DEFINE_CMD(cmd_vtep_add)
{
	struct xtap_vtep_conf v;
	struct xtap_err ignore;
	int neigh = 0, ret;

	ret = xtap_overlay_vtep_from_json(args, &a->model, &v, err);
	if (ret)
		return ret;
	ret = neigh = vtep_neigh(a, v.segment, v.ip, 1, err);
	if (ret >= 0)
		ret = xtap_overlay_add_vtep(&a->model, &v) ? xtap_fail(err, -ENOMEM, "out of memory") : 0;
	if (!ret) {
		ret = segment_vteps_write(a, v.segment, err);
		if (!ret)
			ret = xtap_cmd_save(a, err);
		if (ret)
			xtap_overlay_del_vtep(&a->model, v.segment, v.ip);
	}
	if (ret && neigh > 0)
		vtep_neigh(a, v.segment, v.ip, 0, &ignore);
	return ret < 0 ? ret : 0;
}

/* The segment and VTEP a request names, checked to exist. */
static int vtep_arg(struct xtap_agent *a, json_object *args, __u32 *segment, __be32 *ip, struct xtap_err *err)
{
	const char *s = xtap_arg_str(args, "ip");
	__u64 u;
	int ret;

	ret = xtap_json_get_u64(args, "segment", 1, 0, UINT32_MAX, &u, err);
	if (ret)
		return ret;
	*segment = u;
	if (!s || xtap_parse_vtep(s, ip))
		return xtap_fail(err, -EINVAL, "ip \"%s\": not an IPv4 unicast address; nothing changed", s ? s : "");
	if (!xtap_overlay_vtep(&a->model, *segment, *ip))
		return xtap_fail(err, -ENOENT, "segment %u has no VTEP %s (xtapctl overlay show lists them)",
				 *segment, s);
	return 0;
}

/*
 * Commit: the segment's VTEP list, the model, the state file; then,
 * committed, the neighbour when no segment lists the VTEP any more.
 */
XTAP_DEFINE_CMD(cmd_vtep_del)
{
	struct xtap_overlay_conf *o = &a->model.overlay;
	struct xtap_vtep_conf *saved;
	struct xtap_err ignore;
	size_t i, n = o->n_vteps;
	__u32 segment;
	__be32 ip;
	int ret;

	ret = vtep_arg(a, args, &segment, &ip, err);
	if (ret)
		return ret;
	for (i = 0; i < o->n_macs; i++)
		if (o->macs[i].segment == segment && o->macs[i].vtep == ip) {
			char mac[24];

			xtap_format_mac(o->macs[i].mac, mac, sizeof(mac));
			return xtap_fail(err, -EBUSY, "segment %u: MAC %s is behind VTEP %s: delete or move it first "
					 "(xtapctl overlay mac del %u %s)", segment, mac, xtap_arg_str(args, "ip"),
					 segment, mac);
		}
	/* The list's order is kept, so an undo puts the whole list back. */
	saved = malloc(n * sizeof(*saved));
	if (!saved)
		return xtap_fail(err, -ENOMEM, "out of memory");
	memcpy(saved, o->vteps, n * sizeof(*saved));
	xtap_overlay_del_vtep(&a->model, segment, ip);
	ret = segment_vteps_write(a, segment, err);
	if (!ret)
		ret = xtap_cmd_save(a, err);
	if (ret) {
		memcpy(o->vteps, saved, n * sizeof(*saved));
		o->n_vteps = n;
	}
	free(saved);
	if (ret)
		return ret;
	xtap_fault_set_committed(1);
	vtep_neigh(a, segment, ip, 0, &ignore);
	return 0;
}

/* Commit: the remote MAC's entry, the model (added, or moved to another VTEP), the state file. */
XTAP_DEFINE_CMD(cmd_rmac_add)
{
	struct xtap_rmac_conf r, *cur, old = {};
	int ret;

	ret = xtap_overlay_rmac_from_json(args, &a->model, &r, err);
	if (ret)
		return ret;
	cur = xtap_overlay_rmac(&a->model, r.segment, r.mac);
	ret = xtap_remote_mac_write(&a->dp, r.segment, r.mac, r.vtep, err);
	if (ret)
		return ret;
	if (cur) {
		old = *cur;
		cur->vtep = r.vtep;
	} else if (xtap_overlay_add_rmac(&a->model, &r)) {
		return xtap_fail(err, -ENOMEM, "out of memory");
	}
	ret = xtap_cmd_save(a, err);
	if (ret) {
		if (cur)
			*xtap_overlay_rmac(&a->model, r.segment, r.mac) = old;
		else
			xtap_overlay_del_rmac(&a->model, r.segment, r.mac);
	}
	return ret;
}

/* Commit: the entry out of the map, the model, the state file. */
XTAP_DEFINE_CMD(cmd_rmac_del)
{
	struct xtap_rmac_conf *cur, saved;
	const char *s = xtap_arg_str(args, "mac");
	__u8 mac[6];
	__u64 u;
	int ret;

	ret = xtap_json_get_u64(args, "segment", 1, 0, UINT32_MAX, &u, err);
	if (ret)
		return ret;
	if (!s || xtap_parse_mac(s, mac))
		return xtap_fail(err, -EINVAL, "mac \"%s\": not a MAC like 02:00:00:00:00:01; nothing changed",
				 s ? s : "");
	cur = xtap_overlay_rmac(&a->model, u, mac);
	if (!cur)
		return xtap_fail(err, -ENOENT, "segment %llu has no remote MAC %s (xtapctl overlay show lists them)",
				 (unsigned long long)u, s);
	saved = *cur;
	ret = xtap_remote_mac_write(&a->dp, saved.segment, mac, 0, err);
	if (ret)
		return ret;
	xtap_overlay_del_rmac(&a->model, saved.segment, mac);
	ret = xtap_cmd_save(a, err);
	if (ret && xtap_overlay_add_rmac(&a->model, &saved))
		xtap_log(XTAP_LOG_ERR, "out of memory putting remote MAC %s back into the model", s);
	return ret;
}

static json_object *overlay_counters(struct xtap_agent *a)
{
	static const char *const names[XTAP_OVL_COUNTERS] = {
		[XTAP_OVL_ENCAP] = "encap",
		[XTAP_OVL_REPLICATED] = "replicated",
		[XTAP_OVL_ENCAP_NO_ROUTE] = "encap_no_route",
		[XTAP_OVL_DECAP] = "decap",
		[XTAP_OVL_DECAP_DROPPED] = "decap_dropped",
		[XTAP_OVL_DECAP_NO_PORT] = "decap_no_port",
	};
	int ncpu = libbpf_num_possible_cpus(), c, i;
	struct xtap_overlay_stats *per_cpu = calloc(ncpu > 0 ? ncpu : 1, sizeof(*per_cpu)), sum = {};
	json_object *o = json_object_new_object();
	__u32 zero = 0;

	if (per_cpu && ncpu > 0 && !bpf_map_lookup_elem(xtap_map_fd(&a->dp, XTAP_MAP_OVL_STATS), &zero, per_cpu))
		for (c = 0; c < ncpu; c++)
			for (i = 0; i < XTAP_OVL_COUNTERS; i++) {
				sum.c[i].packets += per_cpu[c].c[i].packets;
				sum.c[i].bytes += per_cpu[c].c[i].bytes;
			}
	free(per_cpu);
	for (i = 0; i < XTAP_OVL_COUNTERS; i++)
		json_object_object_add(o, names[i], xtap_counter_to_json(&sum.c[i]));
	return o;
}

XTAP_DEFINE_CMD(cmd_overlay_show)
{
	const struct xtap_overlay_conf *o = &a->model.overlay;
	json_object *all = xtap_overlay_to_json(o), *segs = json_object_new_array();
	size_t i, j;

	if (o->underlay[0]) {
		json_object *u = json_object_object_get(all, "underlay");
		struct xtap_link l;
		struct xtap_err ignore;

		if (!xtap_link_get(o->underlay, &l, &ignore)) {
			json_object_object_add(u, "ifindex", json_object_new_int(l.ifindex));
			json_object_object_add(u, "mtu", json_object_new_int(l.mtu));
			json_object_object_add(u, "vm_mtu_max", json_object_new_int(l.mtu - XTAP_VXLAN_OVERHEAD));
		}
	}
	for (i = 0; i < a->model.n_segments; i++) {
		const struct xtap_segment_conf *s = &a->model.segments[i];
		json_object *seg, *vteps;
		char ip[INET_ADDRSTRLEN];

		if (!s->vni)
			continue;
		seg = json_object_new_object();
		vteps = json_object_new_array();
		json_object_object_add(seg, "segment", json_object_new_int64(s->id));
		json_object_object_add(seg, "vni", json_object_new_int64(s->vni));
		for (j = 0; j < o->n_vteps; j++)
			if (o->vteps[j].segment == s->id) {
				xtap_format_ip4(o->vteps[j].ip, ip, sizeof(ip));
				json_object_array_add(vteps, json_object_new_string(ip));
			}
		json_object_object_add(seg, "vteps", vteps);
		json_object_array_add(segs, seg);
	}
	json_object_object_del(all, "vteps");
	json_object_object_add(all, "segments", segs);
	json_object_object_add(all, "counters", overlay_counters(a));
	*res = all;
	return 0;
}

const struct xtap_cmd_handler xtap_overlay_cmds[] = {
	{ XTAP_CMD_UNDERLAY_SET, cmd_underlay_set }, { XTAP_CMD_VTEP_ADD, cmd_vtep_add },
	{ XTAP_CMD_VTEP_DEL, cmd_vtep_del },         { XTAP_CMD_RMAC_ADD, cmd_rmac_add },
	{ XTAP_CMD_RMAC_DEL, cmd_rmac_del },         { XTAP_CMD_OVERLAY_SHOW, cmd_overlay_show },
	{ NULL, NULL },
};
