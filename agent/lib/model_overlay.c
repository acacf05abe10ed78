// SPDX-License-Identifier: GPL-2.0
/*
 * The overlay's part of the desired state: this host's underlay and VTEP,
 * each segment's remote VTEPs and the remote MACs behind them, and their
 * JSON (the state file's "overlay" object, docs/api.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int xtap_parse_vtep(const char *s, __be32 *ip)
{
	struct in_addr a;
	__u32 h;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	h = ntohl(a.s_addr);
	if (!h || h == 0xFFFFFFFFU || (h >> 28) == 0xE || (h >> 24) == 127)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

void xtap_format_ip4(__be32 ip, char *out, size_t len)
{
	struct in_addr a = { .s_addr = ip };

	if (!inet_ntop(AF_INET, &a, out, len))
		snprintf(out, len, "?");
}

struct xtap_vtep_conf *xtap_overlay_vtep(const struct xtap_model *m, __u32 segment, __be32 ip)
{
	size_t i;

	for (i = 0; i < m->overlay.n_vteps; i++)
		if (m->overlay.vteps[i].segment == segment && m->overlay.vteps[i].ip == ip)
			return &m->overlay.vteps[i];
	return NULL;
}

struct xtap_rmac_conf *xtap_overlay_rmac(const struct xtap_model *m, __u32 segment, const __u8 mac[6])
{
	size_t i;

	for (i = 0; i < m->overlay.n_macs; i++)
		if (m->overlay.macs[i].segment == segment && !memcmp(m->overlay.macs[i].mac, mac, 6))
			return &m->overlay.macs[i];
	return NULL;
}

int xtap_overlay_vtep_in_use(const struct xtap_model *m, __be32 ip, __u32 except)
{
	size_t i;

	for (i = 0; i < m->overlay.n_vteps; i++)
		if (m->overlay.vteps[i].ip == ip && m->overlay.vteps[i].segment != except)
			return 1;
	return 0;
}

__u32 xtap_overlay_segment_vteps(const struct xtap_model *m, __u32 segment, __be32 *out)
{
	__u32 n = 0;
	size_t i;

	for (i = 0; i < m->overlay.n_vteps && n < XTAP_MAX_SEGMENT_VTEPS; i++)
		if (m->overlay.vteps[i].segment == segment)
			out[n++] = m->overlay.vteps[i].ip;
	return n;
}

int xtap_overlay_add_vtep(struct xtap_model *m, const struct xtap_vtep_conf *v)
{
	struct xtap_vtep_conf *grown = realloc(m->overlay.vteps, (m->overlay.n_vteps + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->overlay.vteps = grown;
	m->overlay.vteps[m->overlay.n_vteps++] = *v;
	return 0;
}

void xtap_overlay_del_vtep(struct xtap_model *m, __u32 segment, __be32 ip)
{
	struct xtap_vtep_conf *v = xtap_overlay_vtep(m, segment, ip);

	/* Order is kept: it is the replication order and what overlay show lists. */
	if (v) {
		memmove(v, v + 1, (m->overlay.vteps + m->overlay.n_vteps - (v + 1)) * sizeof(*v));
		m->overlay.n_vteps--;
	}
}

int xtap_overlay_add_rmac(struct xtap_model *m, const struct xtap_rmac_conf *r)
{
	struct xtap_rmac_conf *grown = realloc(m->overlay.macs, (m->overlay.n_macs + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->overlay.macs = grown;
	m->overlay.macs[m->overlay.n_macs++] = *r;
	return 0;
}

void xtap_overlay_del_rmac(struct xtap_model *m, __u32 segment, const __u8 mac[6])
{
	struct xtap_rmac_conf *r = xtap_overlay_rmac(m, segment, mac);

	if (r)
		*r = m->overlay.macs[--m->overlay.n_macs];
}

void xtap_overlay_free(struct xtap_overlay_conf *o)
{
	free(o->vteps);
	free(o->macs);
	memset(o, 0, sizeof(*o));
}

int xtap_overlay_is_empty(const struct xtap_overlay_conf *o)
{
	return !o->underlay[0] && !o->n_vteps && !o->n_macs;
}

json_object *xtap_overlay_to_json(const struct xtap_overlay_conf *o)
{
	json_object *j = json_object_new_object(), *arr;
	char ip[INET_ADDRSTRLEN], mac[24];
	size_t i;

	if (o->underlay[0]) {
		json_object *u = json_object_new_object();

		xtap_format_ip4(o->vtep, ip, sizeof(ip));
		json_object_object_add(u, "ifname", json_object_new_string(o->underlay));
		json_object_object_add(u, "vtep", json_object_new_string(ip));
		json_object_object_add(j, "underlay", u);
	}
	arr = json_object_new_array();
	for (i = 0; i < o->n_vteps; i++) {
		json_object *v = json_object_new_object();

		xtap_format_ip4(o->vteps[i].ip, ip, sizeof(ip));
		json_object_object_add(v, "segment", json_object_new_int64(o->vteps[i].segment));
		json_object_object_add(v, "ip", json_object_new_string(ip));
		json_object_array_add(arr, v);
	}
	json_object_object_add(j, "vteps", arr);
	arr = json_object_new_array();
	for (i = 0; i < o->n_macs; i++) {
		json_object *v = json_object_new_object();

		xtap_format_ip4(o->macs[i].vtep, ip, sizeof(ip));
		xtap_format_mac(o->macs[i].mac, mac, sizeof(mac));
		json_object_object_add(v, "segment", json_object_new_int64(o->macs[i].segment));
		json_object_object_add(v, "mac", json_object_new_string(mac));
		json_object_object_add(v, "vtep", json_object_new_string(ip));
		json_object_array_add(arr, v);
	}
	json_object_object_add(j, "macs", arr);
	return j;
}

/* A segment that can hold overlay entries: it exists and has a VNI. */
static int overlay_segment_check(const struct xtap_model *m, __u32 segment, struct xtap_err *err)
{
	const struct xtap_segment_conf *s = xtap_model_segment(m, segment);

	if (!s)
		return xtap_fail(err, -ENOENT, "segment %u does not exist", segment);
	if (!s->vni)
		return xtap_fail(err, -EINVAL, "segment %u has no VNI (xtapctl segment add ID --vni N)", segment);
	return 0;
}

static int ip_field(json_object *o, const char *key, __be32 *ip, struct xtap_err *err)
{
	const char *s;
	int ret = xtap_json_get_str(o, key, 1, &s, err);

	if (ret)
		return ret;
	if (xtap_parse_vtep(s, ip))
		return xtap_fail(err, -EINVAL, "%s \"%s\": not an IPv4 unicast address", key, s);
	return 0;
}

int xtap_overlay_vtep_from_json(json_object *o, const struct xtap_model *m, struct xtap_vtep_conf *v,
				struct xtap_err *err)
{
	static const char *const keys[] = { "segment", "ip", NULL };
	__u64 u;
	int ret;

	if ((ret = xtap_json_check_keys(o, "vtep", keys, err)) ||
	    (ret = xtap_json_get_u64(o, "segment", 1, 0, UINT32_MAX, &u, err)))
		return ret;
	v->segment = u;
	if ((ret = ip_field(o, "ip", &v->ip, err)) || (ret = overlay_segment_check(m, v->segment, err)))
		return ret;
	if (xtap_overlay_vtep(m, v->segment, v->ip))
		return xtap_fail(err, -EEXIST, "segment %u already has that VTEP", v->segment);
	if (m->overlay.underlay[0] && v->ip == m->overlay.vtep)
		return xtap_fail(err, -EINVAL, "segment %u: that VTEP is this host's own", v->segment);
	{
		__be32 list[XTAP_MAX_SEGMENT_VTEPS];

		if (xtap_overlay_segment_vteps(m, v->segment, list) >= XTAP_MAX_SEGMENT_VTEPS)
			return xtap_fail(err, -E2BIG, "segment %u already has %d VTEPs", v->segment,
					 XTAP_MAX_SEGMENT_VTEPS);
	}
	return 0;
}

int xtap_overlay_rmac_from_json(json_object *o, const struct xtap_model *m, struct xtap_rmac_conf *r,
				struct xtap_err *err)
{
	static const char *const keys[] = { "segment", "mac", "vtep", NULL };
	const char *s, *vtep;
	__u64 u;
	int ret;

	if ((ret = xtap_json_check_keys(o, "mac", keys, err)) ||
	    (ret = xtap_json_get_u64(o, "segment", 1, 0, UINT32_MAX, &u, err)))
		return ret;
	r->segment = u;
	if ((ret = xtap_json_get_str(o, "mac", 1, &s, err)))
		return ret;
	if (xtap_parse_mac(s, r->mac) || (r->mac[0] & 1) || !memcmp(r->mac, "\0\0\0\0\0\0", 6))
		return xtap_fail(err, -EINVAL, "mac \"%s\": not a unicast MAC like 02:00:00:00:00:01", s);
	if ((ret = ip_field(o, "vtep", &r->vtep, err)) || (ret = overlay_segment_check(m, r->segment, err)))
		return ret;
	vtep = json_object_get_string(json_object_object_get(o, "vtep"));
	if (!xtap_overlay_vtep(m, r->segment, r->vtep))
		return xtap_fail(err, -ENOENT, "segment %u has no VTEP %s: xtapctl overlay vtep add %u %s first",
				 r->segment, vtep, r->segment, vtep);
	return 0;
}

int xtap_overlay_underlay_from_json(json_object *o, char *ifname, __be32 *vtep, struct xtap_err *err)
{
	static const char *const keys[] = { "ifname", "vtep", NULL };
	const char *s;
	int ret;

	if ((ret = xtap_json_check_keys(o, "underlay", keys, err)) ||
	    (ret = xtap_json_get_str(o, "ifname", 1, &s, err)))
		return ret;
	if (!s[0] || strlen(s) >= IFNAMSIZ)
		return xtap_fail(err, -EINVAL, "ifname \"%s\": interface names have 1-15 characters", s);
	strcpy(ifname, s);
	return ip_field(o, "vtep", vtep, err);
}

int xtap_overlay_from_json(json_object *o, struct xtap_model *m, struct xtap_err *err)
{
	static const char *const keys[] = { "underlay", "vteps", "macs", NULL };
	json_object *u, *arr;
	size_t i;
	int ret;

	if ((ret = xtap_json_check_keys(o, "overlay", keys, err)))
		return ret;
	if (json_object_object_get_ex(o, "underlay", &u) &&
	    (ret = xtap_overlay_underlay_from_json(u, m->overlay.underlay, &m->overlay.vtep, err)))
		return xtap_err_at(err, ret, "overlay.underlay");
	if (json_object_object_get_ex(o, "vteps", &arr)) {
		if (!json_object_is_type(arr, json_type_array))
			return xtap_fail(err, -EINVAL, "overlay.vteps: expected an array");
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct xtap_vtep_conf v;

			ret = xtap_overlay_vtep_from_json(json_object_array_get_idx(arr, i), m, &v, err);
			if (!ret && xtap_overlay_add_vtep(m, &v))
				ret = xtap_fail(err, -ENOMEM, "out of memory");
			if (ret)
				return xtap_err_at(err, ret, "overlay.vteps[%zu]", i);
		}
	}
	if (json_object_object_get_ex(o, "macs", &arr)) {
		if (!json_object_is_type(arr, json_type_array))
			return xtap_fail(err, -EINVAL, "overlay.macs: expected an array");
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct xtap_rmac_conf r;

			ret = xtap_overlay_rmac_from_json(json_object_array_get_idx(arr, i), m, &r, err);
			if (!ret && xtap_overlay_rmac(m, r.segment, r.mac))
				ret = xtap_fail(err, -EEXIST, "segment %u lists that MAC twice", r.segment);
			if (!ret && xtap_overlay_add_rmac(m, &r))
				ret = xtap_fail(err, -ENOMEM, "out of memory");
			if (ret)
				return xtap_err_at(err, ret, "overlay.macs[%zu]", i);
		}
	}
	return 0;
}
