// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's operations: each control-socket command validates, changes
 * the kernel, then the model, then persists. On any failure the kernel and
 * the model are left as they were.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/if_tun.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "attach.h"
#include "fault.h"
#include "map_txn.h"
#include "netdev.h"

/* Offloads a VMM expects from a tap: checksum and TSO/UFO-like segmentation. */
#define XTAP_TAP_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

/* ---- ports in the kernel ---- */

/* The tap's own MAC belongs to the host: frames a VM sends to it go up the stack. */
static void host_mac_entry(struct xtap_agent *a, const struct xtap_port_conf *p, int add)
{
	struct xtap_link l;
	struct xtap_err err = {};

	if (xtap_link_get_index(p->spec.ifindex, &l, &err) == 0)
		xtap_fdb_host_write(&a->dp, p->spec.segment_id, l.mac, add, &err);
}

/* Writes the port's policy, attaches the programs to its tap (ifindex set), runs its vhost-user server. */
static int port_realize(struct xtap_agent *a, struct xtap_port_conf *p, struct xtap_err *err)
{
	struct xtap_attach_state st;
	int ret;

	ret = xtap_port_write(&a->dp, &p->spec, err);
	if (ret)
		return ret;
	host_mac_entry(a, p, 1);
	ret = xtap_attach(&a->dp, p->spec.ifindex, p->name, XTAP_ROLE_VM, &st, err);
	if (!ret) {
		struct xtap_err verr = {};

		/*
		 * Not fatal: the port's policy is in force and a VMM can still use the
		 * tap (hand-off, by name); xtap_agent_vhost_check() tries again.
		 */
		if (xtap_vhost_proc_ensure(&a->vhost, p, &verr))
			xtap_log(XTAP_LOG_WARN, "%s; the port works without its vhost-user socket meanwhile, "
				 "xtapd tries again every %d s", verr.msg, XTAP_VHOST_CHECK_SECONDS);
	}
	if (ret) {
		struct xtap_err ignore;

		host_mac_entry(a, p, 0);
		xtap_port_delete(&a->dp, p->spec.ifindex, &ignore);
		return ret;
	}
	xtap_log(XTAP_LOG_DEBUG, "port %s: ifindex %d, xdp %s, tc %s", p->name, p->spec.ifindex,
		 st.xdp, st.tc);
	return 0;
}

static void port_unrealize(struct xtap_agent *a, struct xtap_port_conf *p)
{
	struct xtap_err err = {};

	xtap_vhost_proc_stop(&a->vhost, p->name);
	if (!p->spec.ifindex)
		return;
	xtap_detach(&a->dp, p->spec.ifindex, XTAP_ROLE_VM, &err);
	host_mac_entry(a, p, 0);
	xtap_port_delete(&a->dp, p->spec.ifindex, &err);
}

/* Creates the tap (or finds the adopted one); returns its ifindex. */
static int port_tap(struct xtap_port_conf *p, int *created, struct xtap_err *err)
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

static int segment_in_use_uplink(const struct xtap_agent *a, const char *uplink, __u32 except)
{
	size_t i;

	for (i = 0; i < a->model.n_segments; i++)
		if (a->model.segments[i].id != except && !strcmp(a->model.segments[i].uplink, uplink))
			return 1;
	return 0;
}

static int segment_realize(struct xtap_agent *a, const struct xtap_segment_conf *s,
			   struct xtap_err *err)
{
	struct xtap_segment seg = { .vlan = s->vlan };
	struct xtap_attach_state st;
	struct xtap_link l;
	int ret;

	if (s->flood_host)
		seg.flags |= XTAP_SEGMENT_F_FLOOD_HOST;
	if (s->uplink[0]) {
		if (xtap_link_get(s->uplink, &l, err))
			return xtap_fail(err, -ENOENT, "segment %u: uplink %s does not exist", s->id, s->uplink);
		ret = xtap_attach(&a->dp, l.ifindex, s->uplink, XTAP_ROLE_UPLINK, &st, err);
		if (ret)
			return ret;
		seg.uplink_ifindex = l.ifindex;
	}
	return xtap_segment_write(&a->dp, s->id, &seg, err);
}

/* ---- JSON helpers ---- */

static json_object *reply_ok(json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (result)
		json_object_object_add(o, "result", result);
	return o;
}

static json_object *reply_err(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static const char *arg_str(json_object *args, const char *key)
{
	json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int arg_port(struct xtap_agent *a, json_object *args, struct xtap_port_conf **p,
		    struct xtap_err *err)
{
	const char *name = arg_str(args, "port");

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"port\" (the port's name)");
	*p = xtap_model_port(&a->model, name);
	if (!*p)
		return xtap_fail(err, -ENOENT, "no port named %s (xtapctl port list shows them)", name);
	return 0;
}

static int arg_dir(json_object *args, int *dir, struct xtap_err *err)
{
	const char *s = arg_str(args, "dir");

	if (!s || xtap_parse_dir(s, dir))
		return xtap_fail(err, -EINVAL, "field \"dir\" must be from-vm or to-vm");
	return 0;
}

static int save(struct xtap_agent *a, struct xtap_err *err)
{
	return xtap_state_save(a->state_path, &a->model, err);
}

/*
 * Applies a changed copy of a port's configuration: the kernel first (an
 * atomic switch), then the model. Nothing changes if the kernel refuses.
 */
static int port_update(struct xtap_agent *a, struct xtap_port_conf *cur,
		       struct xtap_port_conf *next, struct xtap_err *err)
{
	int ret = xtap_port_write(&a->dp, &next->spec, err);

	if (ret)
		return ret;
	xtap_model_port_changed(cur);
	*cur = *next;
	cur->json = NULL;
	return save(a, err);
}

/* ---- commands ---- */

static int cmd_port_add(struct xtap_agent *a, json_object *args, json_object **res,
			struct xtap_err *err)
{
	struct xtap_port_conf *p = calloc(1, sizeof(*p));
	int created = 0, ret;

	if (!p)
		return -ENOMEM;
	ret = xtap_port_from_json(args, p, err);
	if (ret)
		goto out;
	if (xtap_model_port(&a->model, p->name)) {
		ret = xtap_fail(err, -EEXIST, "port %s already exists", p->name);
		goto out;
	}
	if (!xtap_model_segment(&a->model, p->spec.segment_id)) {
		ret = xtap_fail(err, -ENOENT, "segment %u does not exist (xtapctl segment add %u)",
			   p->spec.segment_id, p->spec.segment_id);
		goto out;
	}
	if (p->spec.port_id == XTAP_PORT_ID_UNSET) {
		p->spec.port_id = xtap_model_free_port_id(&a->model);
		if (p->spec.port_id >= XTAP_MAX_PORTS) {
			ret = xtap_fail(err, -E2BIG, "all %d ports are in use", XTAP_MAX_PORTS);
			goto out;
		}
	}
	ret = port_tap(p, &created, err);
	if (ret < 0)
		goto out;
	p->spec.ifindex = ret;
	ret = port_realize(a, p, err);
	if (!ret)
		ret = xtap_model_add_port(&a->model, p);
	if (!ret) {
		ret = save(a, err);
		if (ret) {
			xtap_model_del_port(&a->model, p->name);   /* frees p */
			p = NULL;
		}
	}
	if (ret) {
		if (p)
			port_unrealize(a, p);
		if (created) {
			struct xtap_err ignore;

			xtap_tap_delete(p ? p->name : arg_str(args, "name"), &ignore);
		}
		goto out;
	}
	xtap_log(XTAP_LOG_INFO, "port %s added (ifindex %d, segment %u)", p->name, p->spec.ifindex,
		 p->spec.segment_id);
	*res = xtap_port_to_json(p);
	return 0;
out:
	free(p);
	return ret;
}

static int cmd_port_del(struct xtap_agent *a, json_object *args, json_object **res,
			struct xtap_err *err)
{
	const char *name = arg_str(args, "name");
	struct xtap_port_conf *p, saved;
	struct xtap_err ignore;
	int ret;

	(void)res;
	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	saved = *p;
	port_unrealize(a, p);
	if (!saved.adopt)
		xtap_tap_delete(saved.name, &ignore);
	xtap_model_del_port(&a->model, name);
	ret = save(a, err);
	xtap_log(XTAP_LOG_INFO, "port %s deleted", saved.name);
	return ret;
}

static json_object *port_status_json(struct xtap_agent *a, const struct xtap_port_conf *p)
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
	if (vhost)
		json_object_object_add(o, "vhost_user", vhost);
	return o;
}

static int cmd_port_list(struct xtap_agent *a, json_object *args, json_object **res,
			 struct xtap_err *err)
{
	json_object *arr = json_object_new_array();
	size_t i;

	(void)args;
	(void)err;
	for (i = 0; i < a->model.n_ports; i++) {
		json_object *o = xtap_port_to_json(a->model.ports[i]);

		json_object_object_add(o, "status", port_status_json(a, a->model.ports[i]));
		json_object_array_add(arr, o);
	}
	*res = arr;
	return 0;
}

static json_object *stats_json(struct xtap_agent *a, const struct xtap_port_conf *p);

static int cmd_port_show(struct xtap_agent *a, json_object *args, json_object **res,
			 struct xtap_err *err)
{
	struct xtap_port_conf *p;
	const char *name = arg_str(args, "name");

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	*res = xtap_port_to_json(p);
	json_object_object_add(*res, "status", port_status_json(a, p));
	json_object_object_add(*res, "stats", stats_json(a, p));
	return 0;
}

/*
 * The hand-off (what libvirt does for QEMU): the port's tap queues, and as
 * many /dev/vhost-net instances when the kernel has vhost-net, for the VMM
 * to use with -netdev tap,fds=...,vhostfds=.... The VMM programs vhost-net
 * itself; frames still pass the tap, so the port's policy applies.
 */
static int cmd_port_open(struct xtap_agent *a, json_object *args, json_object **res,
			 struct xtap_fds *fds, struct xtap_err *err)
{
	const char *name = arg_str(args, "name");
	struct xtap_port_conf *p;
	unsigned int queues, i, vhost = 0;
	json_object *v;
	int ret;

	if (!name)
		return xtap_fail(err, -EINVAL, "missing field \"name\"");
	p = xtap_model_port(&a->model, name);
	if (!p)
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	queues = p->queues;
	if (json_object_object_get_ex(args, "queues", &v))
		queues = json_object_get_int(v);
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

static int cmd_addr(struct xtap_agent *a, json_object *args, int add, struct xtap_err *err)
{
	struct xtap_port_conf *p, next;
	struct xtap_prefix pfx;
	const char *s = arg_str(args, "addr");
	int i, ret;

	ret = arg_port(a, args, &p, err);
	if (ret)
		return ret;
	if (!s || xtap_parse_prefix(s, &pfx) || pfx.family == 0)
		return xtap_fail(err, -EINVAL, "addr \"%s\": use an IPv4 or IPv6 address, optionally /LENGTH",
			    s ? s : "");
	next = *p;
	for (i = 0; i < next.spec.n_addrs; i++)
		if (!memcmp(&next.spec.addrs[i], &pfx, sizeof(pfx)))
			break;
	if (add) {
		if (i < next.spec.n_addrs)
			return xtap_fail(err, -EEXIST, "port %s already has %s", p->name, s);
		if (next.spec.n_addrs >= 2 * XTAP_MAX_PORT_ADDRS)
			return xtap_fail(err, -E2BIG, "port %s has the maximum number of addresses", p->name);
		next.spec.addrs[next.spec.n_addrs++] = pfx;
	} else {
		if (i == next.spec.n_addrs)
			return xtap_fail(err, -ENOENT, "port %s has no address %s", p->name, s);
		next.spec.addrs[i] = next.spec.addrs[--next.spec.n_addrs];
	}
	return port_update(a, p, &next, err);
}

static int cmd_acl_add(struct xtap_agent *a, json_object *args, json_object **res,
		       struct xtap_err *err)
{
	struct xtap_port_conf *p, *next;
	struct xtap_acl_rule_spec r;
	struct xtap_acl_spec *acl;
	int dir, ret;

	ret = arg_port(a, args, &p, err);
	if (!ret)
		ret = arg_dir(args, &dir, err);
	if (!ret)
		ret = xtap_rule_from_json(args, &r, err);
	if (ret)
		return ret;
	if (p->spec.acl[dir].n_rules >= XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "port %s %s: already %d rules, the maximum", p->name,
			    xtap_dir_name(dir), XTAP_MAX_ACL_RULES);
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	r.rule_id = next->next_rule_id++;
	acl = &next->spec.acl[dir];
	acl->rules[acl->n_rules++] = r;
	ret = port_update(a, p, next, err);
	free(next);
	if (!ret)
		*res = xtap_rule_to_json(&r);
	return ret;
}

static int cmd_acl_del(struct xtap_agent *a, json_object *args, struct xtap_err *err)
{
	struct xtap_port_conf *p, *next;
	struct xtap_acl_spec *acl;
	json_object *v;
	int dir, ret, i;
	__u32 id;

	ret = arg_port(a, args, &p, err);
	if (!ret)
		ret = arg_dir(args, &dir, err);
	if (ret)
		return ret;
	if (!json_object_object_get_ex(args, "id", &v) || !json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"id\" must be a rule id (xtapctl acl list shows them)");
	id = json_object_get_int64(v);
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	acl = &next->spec.acl[dir];
	for (i = 0; i < acl->n_rules && acl->rules[i].rule_id != id; i++)
		;
	if (i == acl->n_rules) {
		free(next);
		return xtap_fail(err, -ENOENT, "port %s %s has no rule %u", p->name, xtap_dir_name(dir), id);
	}
	memmove(&acl->rules[i], &acl->rules[i + 1], (acl->n_rules - i - 1) * sizeof(acl->rules[0]));
	acl->n_rules--;
	ret = port_update(a, p, next, err);
	free(next);
	return ret;
}

static int cmd_acl_default(struct xtap_agent *a, json_object *args, struct xtap_err *err)
{
	struct xtap_port_conf *p, *next;
	const char *s = arg_str(args, "action");
	int dir, ret;

	ret = arg_port(a, args, &p, err);
	if (!ret)
		ret = arg_dir(args, &dir, err);
	if (ret)
		return ret;
	if (!s || (strcmp(s, "allow") && strcmp(s, "deny")))
		return xtap_fail(err, -EINVAL, "field \"action\" must be allow or deny");
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	next->spec.acl[dir].default_action = !strcmp(s, "allow") ? XTAP_ACL_ALLOW : XTAP_ACL_DENY;
	ret = port_update(a, p, next, err);
	free(next);
	return ret;
}

static int cmd_acl_list(struct xtap_agent *a, json_object *args, json_object **res,
			struct xtap_err *err)
{
	struct xtap_port_conf *p;
	int d, i, ret;

	ret = arg_port(a, args, &p, err);
	if (ret)
		return ret;
	*res = json_object_new_object();
	for (d = 0; d < XTAP_DIRS; d++) {
		const struct xtap_acl_spec *acl = &p->spec.acl[d];
		json_object *dir = json_object_new_object(), *rules = json_object_new_array();

		json_object_object_add(dir, "default", json_object_new_string(
			acl->default_action == XTAP_ACL_ALLOW ? "allow" : "deny"));
		for (i = 0; i < acl->n_rules; i++) {
			json_object *r = xtap_rule_to_json(&acl->rules[i]);
			struct xtap_counter hits;

			xtap_acl_hits_read(&a->dp, p->spec.ifindex, acl->rules[i].rule_id, &hits);
			json_object_object_add(r, "hits", xtap_counter_to_json(&hits));
			json_object_array_add(rules, r);
		}
		json_object_object_add(dir, "rules", rules);
		json_object_object_add(*res, xtap_dir_name(d), dir);
	}
	return 0;
}

/*
 * At least 256 KiB of byte burst: a real guest's TCP sends several 64 KiB TSO
 * frames back to back (with 64 KiB it got 3.3-6.5 of 8 Mbit/s, with 256 KiB 7.9-8.2).
 */
#define XTAP_DEFAULT_MIN_BURST_BYTES (256 * 1024)

/*
 * Default bursts: 300 ms at the rate (bytes: at least XTAP_DEFAULT_MIN_BURST_BYTES, packets 16).
 * A policer drops instead of queueing, and TCP then waits for a retransmission
 * timeout (>= 200 ms): with less credit than that saved up, a sender never gets
 * back to the rate (bench/rate_accuracy: 50 ms gave TCP 0.27 of a 1 Gbit/s
 * limit, 300 ms 0.98).
 */
#define XTAP_DEFAULT_BURST_MS 300

static void rate_defaults(struct xtap_rate_spec *r)
{
	__u64 b = r->bytes_per_sec * XTAP_DEFAULT_BURST_MS / 1000;
	__u64 p = r->packets_per_sec * XTAP_DEFAULT_BURST_MS / 1000;

	if (r->bytes_per_sec && !r->burst_bytes)
		r->burst_bytes = b > XTAP_DEFAULT_MIN_BURST_BYTES ? b : XTAP_DEFAULT_MIN_BURST_BYTES;
	if (r->packets_per_sec && !r->burst_packets)
		r->burst_packets = p > 16 ? p : 16;
}

static int cmd_rate(struct xtap_agent *a, json_object *args, int set, struct xtap_err *err)
{
	struct xtap_port_conf *p, *next;
	struct xtap_rate_spec r = {};
	int dir, ret;

	ret = arg_port(a, args, &p, err);
	if (!ret)
		ret = arg_dir(args, &dir, err);
	if (!ret && set)
		ret = xtap_rate_from_json(args, &r, err);
	if (ret)
		return ret;
	if (set && !r.bytes_per_sec && !r.packets_per_sec)
		return xtap_fail(err, -EINVAL, "rate: give bytes_per_sec or packets_per_sec above 0 (rate clear removes a limit)");
	rate_defaults(&r);
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;
	*next = *p;
	next->spec.rate[dir] = r;
	ret = port_update(a, p, next, err);
	free(next);
	return ret;
}

static int cmd_segment_add(struct xtap_agent *a, json_object *args, json_object **res,
			   struct xtap_err *err)
{
	struct xtap_segment_conf s;
	int ret;

	ret = xtap_segment_from_json(args, &s, err);
	if (ret)
		return ret;
	if (xtap_model_segment(&a->model, s.id))
		return xtap_fail(err, -EEXIST, "segment %u already exists", s.id);
	ret = segment_realize(a, &s, err);
	if (!ret)
		ret = xtap_model_add_segment(&a->model, &s);
	if (!ret) {
		ret = save(a, err);
		if (ret)
			xtap_model_del_segment(&a->model, s.id);
	}
	if (ret) {
		struct xtap_err ignore;

		xtap_segment_delete(&a->dp, s.id, &ignore);
		return ret;
	}
	xtap_log(XTAP_LOG_INFO, "segment %u added%s%s", s.id, s.uplink[0] ? ", uplink " : "", s.uplink);
	*res = xtap_segment_to_json(&s);
	return 0;
}

static int cmd_segment_del(struct xtap_agent *a, json_object *args, struct xtap_err *err)
{
	struct xtap_segment_conf *s, saved;
	json_object *v;
	size_t i;
	__u32 id;
	int ret;

	if (!json_object_object_get_ex(args, "id", &v) || !json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"id\" must be a segment id");
	id = json_object_get_int64(v);
	s = xtap_model_segment(&a->model, id);
	if (!s)
		return xtap_fail(err, -ENOENT, "segment %u does not exist", id);
	for (i = 0; i < a->model.n_ports; i++)
		if (a->model.ports[i]->spec.segment_id == id)
			return xtap_fail(err, -EBUSY, "segment %u still has port %s: delete its ports first", id,
				    a->model.ports[i]->name);
	saved = *s;
	ret = xtap_segment_delete(&a->dp, id, err);
	if (ret)
		return ret;
	if (saved.uplink[0] && !segment_in_use_uplink(a, saved.uplink, id)) {
		struct xtap_link l;

		if (!xtap_link_get(saved.uplink, &l, err))
			xtap_detach(&a->dp, l.ifindex, XTAP_ROLE_UPLINK, err);
		err->msg[0] = 0;
	}
	xtap_model_del_segment(&a->model, id);
	return save(a, err);
}

static int cmd_segment_list(struct xtap_agent *a, json_object **res)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < a->model.n_segments; i++)
		json_object_array_add(arr, xtap_segment_to_json(&a->model.segments[i]));
	*res = arr;
	return 0;
}

static json_object *stats_json(struct xtap_agent *a, const struct xtap_port_conf *p)
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
	return o;
}

static int cmd_stats(struct xtap_agent *a, json_object *args, json_object **res,
		     struct xtap_err *err)
{
	const char *name = arg_str(args, "port");
	size_t i;

	*res = json_object_new_object();
	for (i = 0; i < a->model.n_ports; i++) {
		const struct xtap_port_conf *p = a->model.ports[i];

		if (!name || !strcmp(name, p->name))
			json_object_object_add(*res, p->name, stats_json(a, p));
	}
	if (name && !xtap_model_port(&a->model, name)) {
		json_object_put(*res);
		*res = NULL;
		return xtap_fail(err, -ENOENT, "no port named %s", name);
	}
	return 0;
}

static int cmd_fdb(struct xtap_agent *a, json_object **res)
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

static int cmd_teardown(struct xtap_agent *a, struct xtap_err *err)
{
	char path[PATH_MAX + 16];
	size_t i;

	while (a->model.n_ports) {
		struct xtap_port_conf *p = a->model.ports[0];
		struct xtap_err ignore;

		port_unrealize(a, p);
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

static int cmd_status(struct xtap_agent *a, json_object **res)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pin_dir", json_object_new_string(a->dp.pin_dir));
	json_object_object_add(o, "state_file", json_object_new_string(a->state_path));
	json_object_object_add(o, "ports", json_object_new_int64(a->model.n_ports));
	json_object_object_add(o, "segments", json_object_new_int64(a->model.n_segments));
	*res = o;
	return 0;
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

	if (!json_object_object_get_ex(req, "fault", &v))
		return 0;
	if (!xtap_fault_enabled())
		return xtap_fail(err, -EPERM, "\"fault\" needs an xtapd started with --fault-injection (tests only)");
	if (!json_object_is_type(v, json_type_string) || xtap_fault_parse(json_object_get_string(v), &cls, &nth))
		return xtap_fail(err, -EINVAL, "\"fault\" must be \"CLASS:N\", CLASS map, netlink, file, attach or any, N >= 1");
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
		json_object_object_add(resp, "fault", fault_report_json());
	return resp;
}

static json_object *agent_call(struct xtap_agent *a, json_object *req, struct xtap_fds *fds)
{
	struct xtap_err err = {};
	json_object *args = NULL, *res = NULL;
	const char *cmd = NULL;
	int ret;

	if (!json_object_is_type(req, json_type_object) || !(cmd = arg_str(req, "cmd")))
		return reply_err("request must be a JSON object with a \"cmd\" string");
	if (!json_object_object_get_ex(req, "args", &args))
		args = NULL;
	if (args && !json_object_is_type(args, json_type_object))
		return reply_err("\"args\" must be a JSON object");
	if (!args)
		args = json_object_new_object();
	else
		json_object_get(args);

	if (!strcmp(cmd, "port.add"))
		ret = cmd_port_add(a, args, &res, &err);
	else if (!strcmp(cmd, "port.del"))
		ret = cmd_port_del(a, args, &res, &err);
	else if (!strcmp(cmd, "port.list"))
		ret = cmd_port_list(a, args, &res, &err);
	else if (!strcmp(cmd, "port.show"))
		ret = cmd_port_show(a, args, &res, &err);
	else if (!strcmp(cmd, "port.open"))
		ret = cmd_port_open(a, args, &res, fds, &err);
	else if (!strcmp(cmd, "addr.add") || !strcmp(cmd, "addr.del"))
		ret = cmd_addr(a, args, !strcmp(cmd, "addr.add"), &err);
	else if (!strcmp(cmd, "acl.add"))
		ret = cmd_acl_add(a, args, &res, &err);
	else if (!strcmp(cmd, "acl.del"))
		ret = cmd_acl_del(a, args, &err);
	else if (!strcmp(cmd, "acl.default"))
		ret = cmd_acl_default(a, args, &err);
	else if (!strcmp(cmd, "acl.list"))
		ret = cmd_acl_list(a, args, &res, &err);
	else if (!strcmp(cmd, "rate.set") || !strcmp(cmd, "rate.clear"))
		ret = cmd_rate(a, args, !strcmp(cmd, "rate.set"), &err);
	else if (!strcmp(cmd, "segment.add"))
		ret = cmd_segment_add(a, args, &res, &err);
	else if (!strcmp(cmd, "segment.del"))
		ret = cmd_segment_del(a, args, &err);
	else if (!strcmp(cmd, "segment.list"))
		ret = cmd_segment_list(a, &res);
	else if (!strcmp(cmd, "stats"))
		ret = cmd_stats(a, args, &res, &err);
	else if (!strcmp(cmd, "fdb"))
		ret = cmd_fdb(a, &res);
	else if (!strcmp(cmd, "status"))
		ret = cmd_status(a, &res);
	else if (!strcmp(cmd, "teardown"))
		ret = cmd_teardown(a, &err);
	else
		ret = xtap_fail(&err, -EINVAL, "unknown command \"%s\"", cmd);
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
		if (segment_realize(a, &a->model.segments[i], &err)) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			failures++;
		}
	}
	for (i = 0; i < a->model.n_ports; i++) {
		struct xtap_port_conf *p = a->model.ports[i];

		err.msg[0] = 0;
		if (p->spec.port_id == XTAP_PORT_ID_UNSET) {
			p->spec.port_id = xtap_model_free_port_id(&a->model);
			xtap_model_port_changed(p);
		}
		ret = port_tap(p, &created, &err);
		if (ret < 0) {
			xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			p->spec.ifindex = 0;
			failures++;
			continue;
		}
		p->spec.ifindex = ret;
		if (port_realize(a, p, &err)) {
			xtap_log(XTAP_LOG_WARN, "port %s: %s", p->name, err.msg);
			failures++;
		}
	}
	drop_stale_ports(a);
	xtap_vhost_procs_stop_others(&a->vhost, &a->model);
	if (xtap_state_save(a->state_path, &a->model, &err))
		xtap_log(XTAP_LOG_WARN, "%s", err.msg);
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
		port_unrealize(a, p);
		p->spec.ifindex = 0;
		if (p->adopt)
			return;   /* repaired when it comes back */
	}
	if (p && !p->spec.ifindex && (is_new || !p->adopt)) {
		ret = port_tap(p, &created, &err);
		if (ret > 0) {
			p->spec.ifindex = ret;
			if (port_realize(a, p, &err)) {
				xtap_log(XTAP_LOG_WARN, "port %s: repair failed: %s", name, err.msg);
				p->spec.ifindex = 0;
			} else {
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
		if (segment_realize(a, s, &err))
			xtap_log(XTAP_LOG_WARN, "segment %u: %s", s->id, err.msg);
	}
}
