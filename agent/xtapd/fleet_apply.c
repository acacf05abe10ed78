// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet's agent side (fleet.h), on the agent thread: makes the model
 * match the desired state listed and watched from etcd, through the same
 * requests the control socket runs (xtap_agent_call: argument checks,
 * validation, one map transaction, all or nothing), and hands each port's
 * outcome to the writer as its status. Idempotent: it compares and asks
 * only for what differs, so a re-list after a compaction or a retry after a
 * refusal changes nothing that is already right.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "commands.h"
#include "fleet.h"

#define RETRY_SECONDS 2.0

/* One request as the socket would run it, but the fleet's; *why: the refusal (static until the next call). */
static int request(struct xtap_agent *a, const char *cmd, json_object *args, const char **why)
{
	static char msg[256];
	json_object *req = json_object_new_object(), *resp, *v;
	struct xtap_fds fds = { .n = 0 };
	int ok;

	json_object_object_add(req, XTAP_REQ_CMD, json_object_new_string(cmd));
	json_object_object_add(req, XTAP_REQ_ARGS, json_object_get(args));
	a->fleet_applying = 1;
	resp = xtap_agent_call(a, req, &fds);
	a->fleet_applying = 0;
	ok = json_object_object_get_ex(resp, XTAP_REPLY_OK, &v) && json_object_get_boolean(v);
	snprintf(msg, sizeof(msg), "%s", !ok && json_object_object_get_ex(resp, XTAP_REPLY_ERROR, &v) ?
		 json_object_get_string(v) : "");
	*why = msg;
	if (!ok)
		xtap_log(XTAP_LOG_WARN, "etcd: %s: %s", cmd, msg);
	json_object_put(resp);
	json_object_put(req);
	return ok ? 0 : -1;
}

static json_object *id_args(__u32 id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(id));
	return o;
}

static json_object *name_args(const char *name)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	return o;
}

/* The desired port under key PORTS/HOST/NAME, as port.add takes it (host-local fields out), or NULL. */
static json_object *port_args(json_object *entry, const char *name)
{
	json_object *v, *o;

	if (!json_object_object_get_ex(entry, "v", &v) || !v)
		return NULL;
	o = json_object_new_object();
	json_object_object_foreach(v, k, val)
		if (strcmp(k, "port_id") && strcmp(k, "status"))
			json_object_object_add(o, k, json_object_get(val));
	json_object_object_add(o, "name", json_object_new_string(name));
	return o;
}

/* Does the model's port already look like args (its host-local fields aside)? */
static int port_same(const struct xtap_port_conf *cur, json_object *args, const char **tap_field)
{
	struct xtap_port_conf *next = calloc(1, sizeof(*next));
	struct xtap_err err;
	json_object *x, *y;
	int same = 0;

	*tap_field = NULL;
	if (!next || xtap_port_from_json(args, next, &err)) {
		free(next);
		return 0;   /* port.set will say what is wrong */
	}
	*tap_field = xtap_port_tap_field_changed(cur, next);
	xtap_port_keep_host_fields(cur, next);
	x = xtap_port_to_json(cur);
	y = xtap_port_to_json(next);
	same = !strcmp(json_object_to_json_string(x), json_object_to_json_string(y));
	json_object_put(x);
	json_object_put(y);
	free(next);
	return same;
}

static void status(struct xtap_fleet *f, const char *name, int ok, const char *why, int64_t rev, int ifindex)
{
	json_object *s = json_object_new_object(), *last;
	const char *text;

	json_object_object_add(s, "state", json_object_new_string(ok ? "applied" : "refused"));
	json_object_object_add(s, "revision", json_object_new_int64(rev));
	if (ok)
		json_object_object_add(s, "ifindex", json_object_new_int(ifindex));
	else
		json_object_object_add(s, "error", json_object_new_string(why));
	text = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN);
	if (!json_object_object_get_ex(f->status_last, name, &last) || strcmp(json_object_get_string(last), text)) {
		json_object_object_add(f->status_last, name, json_object_new_string(text));
		xtap_fleet_status(f, name, text);
	}
	json_object_put(s);
}

/* Statuses of ports no longer this host's (deleted, moved away, or refused and then deleted) go. */
static void drop_stale_statuses(struct xtap_fleet *f, json_object *ports)
{
	json_object *gone = json_object_new_array();
	size_t k;

	json_object_object_foreach(f->status_last, sname, sval) {
		(void)sval;
		if (!json_object_object_get_ex(ports, sname, NULL))
			json_object_array_add(gone, json_object_new_string(sname));
	}
	for (k = 0; k < json_object_array_length(gone); k++) {
		const char *n = json_object_get_string(json_object_array_get_idx(gone, k));

		xtap_fleet_status(f, n, NULL);
		json_object_object_del(f->status_last, n);
	}
	json_object_put(gone);
}

static int64_t entry_rev(json_object *entry)
{
	json_object *v;

	return json_object_object_get_ex(entry, "rev", &v) ? json_object_get_int64(v) : 0;
}

/* ---- the overlay: remote MACs and VTEPs, from the other hosts' ports (docs/fleet.md) ---- */

static json_object *overlay_args(__u32 segment, const char *k1, const char *v1, const char *k2, const char *v2)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "segment", json_object_new_int64(segment));
	json_object_object_add(o, k1, json_object_new_string(v1));
	if (k2)
		json_object_object_add(o, k2, json_object_new_string(v2));
	return o;
}

static int overlay_request(struct xtap_agent *a, const char *cmd, json_object *args)
{
	const char *why;
	int ret = request(a, cmd, args, &why);

	json_object_put(args);
	return ret;
}

/*
 * What the other hosts' ports ask of this one: for each segment with a VNI,
 * "SEG/VTEP" -> true for every live host (registered, with a VTEP) that has
 * a port in it, and "SEG/MAC" -> VTEP for each of those ports, unless a
 * port here holds the MAC (a VM moving here: the local port wins).
 */
static void overlay_desired(struct xtap_fleet *f, json_object *desired, json_object *vteps, json_object *macs)
{
	struct xtap_agent *a = f->a;
	size_t plen = strlen(XTAP_ETCD_PORTS);

	json_object_object_foreach(desired, key, entry) {
		char host[XTAP_FLEET_HOST_MAX + 1], hkey[128], k[64];
		const char *h = key + plen, *slash, *vtep;
		json_object *port, *hentry, *hv, *v;
		struct xtap_port_conf *p;
		struct xtap_segment_conf *s;
		struct xtap_err err;
		__u8 mac[6];
		size_t i;

		if (strncmp(key, XTAP_ETCD_PORTS, plen) || !(slash = strchr(h, '/')) || (size_t)(slash - h) > XTAP_FLEET_HOST_MAX)
			continue;
		snprintf(host, sizeof(host), "%.*s", (int)(slash - h), h);
		if (!strcmp(host, f->host) || !json_object_object_get_ex(entry, "v", &port) || !port)
			continue;
		snprintf(hkey, sizeof(hkey), XTAP_ETCD_HOSTS "%s", host);
		if (!json_object_object_get_ex(desired, hkey, &hentry) || !json_object_object_get_ex(hentry, "v", &hv) ||
		    !hv || !json_object_object_get_ex(hv, "vtep", &v) || !(vtep = json_object_get_string(v)) || !vtep[0])
			continue;   /* dead, or no VTEP: nothing of it reachable */
		if (!json_object_object_get_ex(port, "segment", &v) || !(s = xtap_model_segment(&a->model, json_object_get_int64(v))) ||
		    !s->vni || !json_object_object_get_ex(port, "mac", &v) || xtap_parse_mac(json_object_get_string(v), mac))
			continue;
		(void)err;
		snprintf(k, sizeof(k), "%u/%s", s->id, vtep);
		json_object_object_add(vteps, k, json_object_new_boolean(1));
		for (i = 0; i < a->model.n_ports; i++) {
			p = a->model.ports[i];
			if (p->spec.segment_id == s->id && !memcmp(p->spec.mac, mac, 6))
				break;
		}
		if (i < a->model.n_ports)
			continue;
		snprintf(k, sizeof(k), "%u/%s", s->id, json_object_get_string(v));
		json_object_object_add(macs, k, json_object_new_string(vtep));
	}
}

/* Makes the overlay's remote entries match: stale MACs out, VTEPs in, MACs in or moved, stale VTEPs out. */
static int overlay_apply(struct xtap_fleet *f, json_object *desired)
{
	struct xtap_overlay_conf *o = &f->a->model.overlay;
	json_object *vteps = json_object_new_object(), *macs = json_object_new_object(), *v;
	char k[64], ip[INET_ADDRSTRLEN], mac[18];
	int failed = 0;
	size_t i;

	overlay_desired(f, desired, vteps, macs);
	for (i = o->n_macs; i-- > 0;) {
		xtap_format_mac(o->macs[i].mac, mac, sizeof(mac));
		snprintf(k, sizeof(k), "%u/%s", o->macs[i].segment, mac);
		if (!json_object_object_get_ex(macs, k, NULL))
			failed |= overlay_request(f->a, XTAP_CMD_RMAC_DEL, overlay_args(o->macs[i].segment, "mac", mac, NULL, NULL));
	}
	json_object_object_foreach(vteps, vk, vv) {
		__u32 seg = strtoul(vk, NULL, 10);
		__be32 addr;

		(void)vv;
		if (!xtap_parse_vtep(strchr(vk, '/') + 1, &addr) && !xtap_overlay_vtep(&f->a->model, seg, addr))
			failed |= overlay_request(f->a, XTAP_CMD_VTEP_ADD, overlay_args(seg, "ip", strchr(vk, '/') + 1, NULL, NULL));
	}
	json_object_object_foreach(macs, mk, mv) {
		__u32 seg = strtoul(mk, NULL, 10);
		struct xtap_rmac_conf *r;
		__u8 m6[6];

		if (xtap_parse_mac(strchr(mk, '/') + 1, m6))
			continue;
		r = xtap_overlay_rmac(&f->a->model, seg, m6);
		if (r) {
			xtap_format_ip4(r->vtep, ip, sizeof(ip));
			if (!strcmp(ip, json_object_get_string(mv)))
				continue;
		}
		failed |= overlay_request(f->a, XTAP_CMD_RMAC_ADD,
					  overlay_args(seg, "mac", strchr(mk, '/') + 1, "vtep", json_object_get_string(mv)));
	}
	for (i = o->n_vteps; i-- > 0;) {
		xtap_format_ip4(o->vteps[i].ip, ip, sizeof(ip));
		snprintf(k, sizeof(k), "%u/%s", o->vteps[i].segment, ip);
		if (!json_object_object_get_ex(vteps, k, &v))
			failed |= overlay_request(f->a, XTAP_CMD_VTEP_DEL, overlay_args(o->vteps[i].segment, "ip", ip, NULL, NULL));
	}
	json_object_put(vteps);
	json_object_put(macs);
	return failed;
}

/*
 * A port added here from etcd (a new VM, or one that moved here) on a segment
 * with an uplink: QEMU's announce-self rounds of RARP from its MAC, so that
 * physical switches learn its new place. Over the overlay the other hosts'
 * FDBs come from etcd and need none.
 */
static void announce_arrival(struct xtap_fleet *f, const struct xtap_port_conf *p)
{
	const struct xtap_segment_conf *s = xtap_model_segment(&f->a->model, p->spec.segment_id);
	struct xtap_fleet_announce *n;
	int ifindex;

	if (!s || !s->uplink[0] || !(ifindex = if_nametoindex(s->uplink)) || f->n_announce == XTAP_FLEET_ANNOUNCE_MAX)
		return;
	n = &f->announce[f->n_announce++];
	*n = (struct xtap_fleet_announce){ .ifindex = ifindex, .vlan = s->vlan,
					   .next_at = xtap_now() + XTAP_ANNOUNCE_FIRST_MS / 1000.0 };
	memcpy(n->mac, p->spec.mac, 6);
}

/* Sends the rounds that are due; returns the next one's time (0: none). */
static double announce_due(struct xtap_fleet *f, double now)
{
	double next = 0;
	int i;

	for (i = f->n_announce; i-- > 0;) {
		struct xtap_fleet_announce *n = &f->announce[i];
		struct xtap_err err;

		if (now >= n->next_at) {
			if (xtap_announce_rarp(n->ifindex, n->vlan, n->mac, &err))
				xtap_log(XTAP_LOG_WARN, "%s", err.msg);
			n->next_at = now + XTAP_ANNOUNCE_STEP_MS / 1000.0;
			if (++n->sent == XTAP_ANNOUNCE_ROUNDS) {
				*n = f->announce[--f->n_announce];
				continue;
			}
		}
		if (!next || n->next_at < next)
			next = n->next_at;
	}
	return next;
}

void xtap_fleet_apply(struct xtap_fleet *f)
{
	struct xtap_agent *a = f->a;
	char mine[256];
	json_object *desired, *ports = json_object_new_object(), *segs = json_object_new_object();
	const char *why;
	size_t i, plen;
	int failed = 0;

	pthread_mutex_lock(&f->lock);
	if (!f->gen) {   /* never listed: the state file's model stands */
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/* A copy: the watcher changes its own while this runs. */
	desired = NULL;
	json_object_deep_copy(f->desired, &desired, NULL);
	pthread_mutex_unlock(&f->lock);
	if (!desired)
		return;

	snprintf(mine, sizeof(mine), XTAP_ETCD_PORTS "%s/", f->host);
	plen = strlen(mine);
	json_object_object_foreach(desired, key, entry) {
		if (!strncmp(key, mine, plen) && key[plen] && !strchr(key + plen, '/'))
			json_object_object_add(ports, key + plen, json_object_get(entry));
		else if (!strncmp(key, XTAP_ETCD_SEGMENTS, strlen(XTAP_ETCD_SEGMENTS)))
			json_object_object_add(segs, key + strlen(XTAP_ETCD_SEGMENTS), json_object_get(entry));
	}

	/* 1. Ports that went, or that need a new tap: out first (their MACs and addresses become free). */
	for (i = a->model.n_ports; i-- > 0;) {
		struct xtap_port_conf *p = a->model.ports[i];
		json_object *entry, *args = NULL;
		const char *field = NULL;
		char name[IFNAMSIZ];

		if (json_object_object_get_ex(ports, p->name, &entry))
			args = port_args(entry, p->name);
		if (args)
			port_same(p, args, &field);
		json_object_put(args);
		if (args && !field)
			continue;
		snprintf(name, sizeof(name), "%s", p->name);
		args = name_args(name);
		if (request(a, XTAP_CMD_PORT_DEL, args, &why))
			failed = 1;
		json_object_put(args);
	}
	/* 2. New segments. */
	json_object_object_foreach(segs, sid, sentry) {
		json_object *v, *args;
		struct xtap_segment_conf s;
		struct xtap_err err;

		if (!json_object_object_get_ex(sentry, "v", &v) || !v || xtap_segment_from_json(v, &s, &err)) {
			xtap_log(XTAP_LOG_WARN, "etcd: %s%s: not a segment; left out", XTAP_ETCD_SEGMENTS, sid);
			continue;
		}
		if (xtap_model_segment(&a->model, s.id))
			continue;
		args = json_object_get(v);
		if (request(a, XTAP_CMD_SEGMENT_ADD, args, &why))
			failed = 1;
		json_object_put(args);
	}
	/* 3. This host's ports: new ones added, changed ones set. */
	json_object_object_foreach(ports, pname, pentry) {
		json_object *args = port_args(pentry, pname);
		struct xtap_port_conf *p = xtap_model_port(&a->model, pname);
		const char *field;
		int ret = 0;

		if (!args) {
			status(f, pname, 0, "the value is not a JSON object (xtapctl --etcd writes ports)", entry_rev(pentry), 0);
			continue;
		}
		if (!p) {
			ret = request(a, XTAP_CMD_PORT_ADD, args, &why);
			if (!ret)
				announce_arrival(f, xtap_model_port(&a->model, pname));
		} else if (!port_same(p, args, &field))
			ret = request(a, XTAP_CMD_PORT_SET, args, &why);
		json_object_put(args);
		failed |= ret != 0;
		p = xtap_model_port(&a->model, pname);
		status(f, pname, !ret, ret ? why : "", entry_rev(pentry), p ? (int)p->spec.ifindex : 0);
	}
	drop_stale_statuses(f, ports);
	/* 3b. The other hosts' VMs behind their VTEPs. */
	if (a->model.overlay.vtep)
		failed |= overlay_apply(f, desired);
	/* 4. Segments that went (refused while a port of this host still uses one: retried). */
	for (i = a->model.n_segments; i-- > 0;) {
		char sid[16];
		json_object *args;

		snprintf(sid, sizeof(sid), "%u", a->model.segments[i].id);
		if (json_object_object_get_ex(segs, sid, NULL))
			continue;
		args = id_args(a->model.segments[i].id);
		if (request(a, XTAP_CMD_SEGMENT_DEL, args, &why))
			failed = 1;
		json_object_put(args);
	}

	json_object_put(desired);
	json_object_put(ports);
	json_object_put(segs);
	f->retry_at = failed ? xtap_now() + RETRY_SECONDS : 0;
}

double xtap_fleet_tick(void *ctx, double now)
{
	struct xtap_fleet *f = ctx;
	double next;

	if (f->retry_at && now >= f->retry_at)
		xtap_fleet_apply(f);
	next = announce_due(f, now);
	return !f->retry_at || (next && next < f->retry_at) ? next : f->retry_at;
}
