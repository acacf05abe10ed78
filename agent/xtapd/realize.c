// SPDX-License-Identifier: GPL-2.0
/*
 * Making the model's ports and segments real in the kernel, and undoing it:
 * the commands and the repairs (api.c) share these.
 */
#include <errno.h>
#include <string.h>
#include <linux/if_tun.h>

#include "attach.h"
#include "map_txn.h"
#include "netdev.h"
#include "realize.h"
#include "validate.h"

/* Offloads a VMM expects from a tap: checksum and TSO/UFO-like segmentation. */
#define XTAP_TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/* ---- ports in the kernel ---- */

/* The tap's own MAC belongs to the host: frames a VM sends to it go up the stack. */
static int host_mac_entry(struct xtap_agent *a, const struct xtap_port_conf *p, int add, struct xtap_err *err)
{
	struct xtap_link l;
	int ret = xtap_link_get_index(p->spec.ifindex, &l, err);

	return ret ? ret : xtap_fdb_host_write(&a->dp, p->spec.segment_id, l.mac, add, err);
}

/*
 * The maps and the attachments, all or nothing: in a request its undo takes
 * them back (map_txn.h); alone (start-up, repairs) a failure leaves the maps
 * as they were.
 */
int xtap_port_realize(struct xtap_agent *a, struct xtap_port_conf *p, int *attached, struct xtap_err *err)
{
	struct xtap_attach_state st;
	int owner = xtap_map_txn_begin(), ret;

	ret = xtap_port_write(&a->dp, &p->spec, err);
	if (!ret)
		ret = host_mac_entry(a, p, 1, err);
	if (!ret)
		ret = xtap_attach(&a->dp, p->spec.ifindex, p->name, XTAP_ROLE_VM, &st, err);
	xtap_map_txn_end(&a->dp, owner, ret);
	if (ret) {
		xtap_err_name_port(err, p->name);
		return ret;
	}
	if (attached)
		*attached = !st.had_programs;
	xtap_log(XTAP_LOG_DEBUG, "port %s: ifindex %d, xdp %s, tc %s", p->name, p->spec.ifindex,
		 st.xdp, st.tc);
	return 0;
}

void xtap_port_start_vhost(struct xtap_agent *a, struct xtap_port_conf *p)
{
	struct xtap_err verr = {};

	/*
	 * Not fatal: the port's policy is in force and a VMM can still use the
	 * tap (hand-off, by name); xtap_agent_vhost_check() tries again.
	 */
	if (xtap_vhost_proc_ensure(&a->vhost, p, &verr))
		xtap_log(XTAP_LOG_WARN, "%s; the port works without its vhost-user socket meanwhile, "
			 "xtapd tries again every %d s", verr.msg, XTAP_VHOST_CHECK_SECONDS);
}

void xtap_port_unrealize(struct xtap_agent *a, struct xtap_port_conf *p)
{
	struct xtap_err err = {};

	xtap_vhost_proc_stop(&a->vhost, p->name);
	if (!p->spec.ifindex)
		return;
	xtap_detach(&a->dp, p->spec.ifindex, XTAP_ROLE_VM, &err);
	host_mac_entry(a, p, 0, &err);
	xtap_port_delete(&a->dp, p->spec.ifindex, &err);
}

int xtap_port_unwrite(struct xtap_agent *a, const struct xtap_port_conf *p, struct xtap_err *err)
{
	int ret = host_mac_entry(a, p, 0, err);

	if (ret == -ENOENT)   /* no host MAC entry: nothing to take back */
		ret = 0;
	return ret ? ret : xtap_port_delete(&a->dp, p->spec.ifindex, err);
}

/* Creates the tap (or finds the adopted one); returns its ifindex. */
int xtap_port_tap(struct xtap_port_conf *p, int *created, struct xtap_err *err)
{
	struct xtap_tap_opts o = {
		.name = p->name, .queues = p->queues, .offloads = XTAP_TAP_OFFLOADS,
		.mtu = p->spec.mtu, .owner_uid = p->owner_uid, .owner_gid = p->owner_gid,
	};
	struct xtap_link l;
	int ret;

	*created = 0;
	if (p->adopt) {
		ret = xtap_is_tap(p->name);
		if (ret == -ENOENT)
			return xtap_fail(err, -ENOENT, "port %s: no tap named %s to adopt (create it first, or drop adopt)",
				    p->name, p->name);
		if (ret <= 0)
			return xtap_fail(err, -EINVAL, "port %s: %s is not a tap", p->name, p->name);
		return xtap_link_get(p->name, &l, err) ? -ENOENT : l.ifindex;
	}
	ret = xtap_tap_create(&o, err);
	if (ret == -EEXIST && xtap_is_tap(p->name) == 1 && !xtap_link_get(p->name, &l, err)) {
		/* Ours from a previous run (taps are persistent): keep it. */
		err->msg[0] = 0;
		return l.ifindex;
	}
	if (ret > 0)
		*created = 1;
	return ret;
}

/* ---- segments in the kernel ---- */

int xtap_segment_in_use_uplink(const struct xtap_agent *a, const char *uplink, __u32 except)
{
	size_t i;

	for (i = 0; i < a->model.n_segments; i++)
		if (a->model.segments[i].id != except && !strcmp(a->model.segments[i].uplink, uplink))
			return 1;
	return 0;
}

int xtap_segment_realize(struct xtap_agent *a, const struct xtap_segment_conf *s, int *attached_ifindex,
			  struct xtap_err *err)
{
	struct xtap_segment seg = { .vlan = s->vlan, .vni = s->vni };
	struct xtap_attach_state st = { .had_programs = 1 };
	struct xtap_link l;
	int ret;

	if (attached_ifindex)
		*attached_ifindex = 0;
	if (s->flood_host)
		seg.flags |= XTAP_SEGMENT_F_FLOOD_HOST;
	if (s->uplink[0]) {
		ret = xtap_link_get(s->uplink, &l, err);
		if (ret == -ENOENT)
			return xtap_fail(err, -ENOENT, "segment %u: uplink %s does not exist", s->id, s->uplink);
		if (ret)
			return ret;
		ret = xtap_attach(&a->dp, l.ifindex, s->uplink, XTAP_ROLE_UPLINK, &st, err);
		if (ret)
			return ret;
		seg.uplink_ifindex = l.ifindex;
	}
	ret = xtap_segment_write(&a->dp, s->id, &seg, err);
	/* Programs this call put on the uplink leave with the failure (another segment's stay). */
	if (ret && !st.had_programs)
		xtap_detach(&a->dp, seg.uplink_ifindex, XTAP_ROLE_UPLINK, NULL);
	else if (!ret && !st.had_programs && attached_ifindex)
		*attached_ifindex = seg.uplink_ifindex;
	return ret;
}


/* ---- the overlay in the kernel ---- */

int xtap_overlay_realize(struct xtap_agent *a, struct xtap_err *err)
{
	const struct xtap_overlay_conf *o = &a->model.overlay;
	struct xtap_attach_state st;
	__be32 list[XTAP_MAX_SEGMENT_VTEPS];
	struct xtap_link l;
	size_t i;
	int ret;

	if (o->underlay[0]) {
		ret = xtap_link_get(o->underlay, &l, err);   /* its message names the link */
		if (ret)
			return ret;
		if (xtap_ipv4_forwarding(o->underlay) != 1)
			xtap_log(XTAP_LOG_WARN, "underlay %s: IPv4 forwarding is off: frames to remote VMs are dropped "
				 "until it is on (sysctl -w net.ipv4.conf.%s.forwarding=1)", o->underlay, o->underlay);
		ret = xtap_attach(&a->dp, l.ifindex, o->underlay, XTAP_ROLE_UPLINK, &st, err);
		for (i = 0; !ret && i < o->n_vteps; i++)
			ret = xtap_neigh_managed(l.ifindex, o->vteps[i].ip, 1, err);
		if (!ret)
			ret = xtap_underlay_write(&a->dp, l.ifindex, o->vtep, 1, err);
		if (ret)
			return ret;
	}
	for (i = 0; i < a->model.n_segments; i++) {
		const struct xtap_segment_conf *s = &a->model.segments[i];

		if (s->vni) {
			ret = xtap_seg_vteps_write(&a->dp, s->id, list, xtap_overlay_segment_vteps(&a->model, s->id, list),
						   err);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < o->n_macs; i++) {
		ret = xtap_remote_mac_write(&a->dp, o->macs[i].segment, o->macs[i].mac, o->macs[i].vtep, err);
		if (ret)
			return ret;
	}
	return 0;
}
