// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/printbuf.h>

#include "model.h"

/* ---- text forms ---- */

int xtap_parse_mac(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

void xtap_format_mac(const __u8 mac[6], char *out, size_t len)
{
	snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

int xtap_parse_prefix(const char *s, struct xtap_prefix *p)
{
	char addr[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long plen;

	memset(p, 0, sizeof(*p));
	if (!strcmp(s, "any"))
		return 0;
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = 0;
	if (inet_pton(AF_INET, addr, p->addr) == 1)
		p->family = 4;
	else if (inet_pton(AF_INET6, addr, p->addr) == 1)
		p->family = 6;
	else
		return -EINVAL;
	plen = p->family == 4 ? 32 : 128;
	if (slash) {
		long max = plen;

		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || plen < 0 || plen > max)
			return -EINVAL;
	}
	p->prefixlen = plen;
	return 0;
}

void xtap_format_prefix(const struct xtap_prefix *p, char *out, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (p->family == 0) {
		snprintf(out, len, "any");
		return;
	}
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof(addr));
	snprintf(out, len, "%s/%u", addr, p->prefixlen);
}

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {
	{ "any", 0 }, { "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 }, { "sctp", 132 },
};

int xtap_parse_proto(const char *s, __u8 *proto)
{
	char *end;
	long v;
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcasecmp(s, protos[i].name)) {
			*proto = protos[i].proto;
			return 0;
		}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 255)
		return -EINVAL;
	*proto = v;
	return 0;
}

const char *xtap_format_proto(__u8 proto, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	snprintf(buf, len, "%u", proto);
	return buf;
}

int xtap_parse_ports(const char *s, __u16 *min, __u16 *max)
{
	unsigned long a, b;
	char *end;

	if (!strcmp(s, "any")) {
		*min = 0;
		*max = 0xFFFF;
		return 0;
	}
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || end == s || a > 0xFFFF || (*end && *end != '-'))
		return -EINVAL;
	b = a;
	if (*end == '-') {
		const char *t = end + 1;

		b = strtoul(t, &end, 10);
		if (errno || end == t || *end || b > 0xFFFF)
			return -EINVAL;
	}
	if (a > b)
		return -ERANGE;
	*min = a;
	*max = b;
	return 0;
}

int xtap_parse_dir(const char *s, int *dir)
{
	if (!strcmp(s, "from-vm"))
		*dir = XTAP_DIR_FROM_VM;
	else if (!strcmp(s, "to-vm"))
		*dir = XTAP_DIR_TO_VM;
	else
		return -EINVAL;
	return 0;
}

const char *xtap_dir_name(int dir)
{
	return dir == XTAP_DIR_FROM_VM ? "from-vm" : "to-vm";
}

const char *xtap_verdict_name(int v)
{
	static const char *const names[XTAP_VERDICTS] = {
		[XTAP_VERDICT_TO_PORT] = "to_port",   [XTAP_VERDICT_TO_UPLINK] = "to_uplink",
		[XTAP_VERDICT_FLOOD] = "flood",       [XTAP_VERDICT_TO_HOST] = "to_host",
		[XTAP_VERDICT_DELIVER] = "deliver",   [XTAP_VERDICT_DROP] = "drop",
	};

	return v >= 0 && v < XTAP_VERDICTS ? names[v] : "?";
}

const char *xtap_drop_reason_name(int r)
{
	static const char *const names[XTAP_DROP_REASONS] = {
		[XTAP_DROP_NONE] = "none",
		[XTAP_DROP_MALFORMED] = "malformed",
		[XTAP_DROP_VLAN_TAGGED] = "vlan_tagged",
		[XTAP_DROP_ETHERTYPE] = "ethertype",
		[XTAP_DROP_SPOOF_MAC] = "spoof_mac",
		[XTAP_DROP_SPOOF_IPV4] = "spoof_ipv4",
		[XTAP_DROP_SPOOF_IPV6] = "spoof_ipv6",
		[XTAP_DROP_SPOOF_ARP] = "spoof_arp",
		[XTAP_DROP_SPOOF_ND] = "spoof_nd",
		[XTAP_DROP_SPOOF_DHCP] = "spoof_dhcp",
		[XTAP_DROP_DHCP_SERVER] = "dhcp_server",
		[XTAP_DROP_ROUTER_ADV] = "router",
		[XTAP_DROP_ACL] = "acl",
		[XTAP_DROP_RATE_BYTES] = "rate_bytes",
		[XTAP_DROP_RATE_PACKETS] = "rate_packets",
		[XTAP_DROP_DST_MAC] = "dst_mac",
		[XTAP_DROP_HAIRPIN] = "hairpin",
		[XTAP_DROP_NO_TARGET] = "no_target",
		[XTAP_DROP_TRAILING] = "trailing",
		[XTAP_DROP_FRAGMENT] = "fragment",
		[XTAP_DROP_IP_OPTION] = "ip_option",
		[XTAP_DROP_MTU] = "mtu",
		[XTAP_DROP_CT_FULL] = "ct_full",
		[XTAP_DROP_CT_INVALID] = "ct_invalid",
		[XTAP_DROP_UNDERLAY] = "underlay",
	};
	_Static_assert(XTAP_DROP_REASONS == 25, "a name for every drop reason");

	return r >= 0 && r < XTAP_DROP_REASONS && names[r] ? names[r] : "?";
}

/* ---- counters ---- */

json_object *xtap_counter_to_json(const struct xtap_counter *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "packets", json_object_new_int64(c->packets));
	json_object_object_add(o, "bytes", json_object_new_int64(c->bytes));
	return o;
}

json_object *xtap_port_stats_to_json(const struct xtap_port_stats *per_cpu, int ncpu)
{
	struct xtap_port_stats sum = {};
	json_object *o = json_object_new_object();
	int c, d, i;

	for (c = 0; c < ncpu; c++)
		for (d = 0; d < XTAP_DIRS; d++) {
			for (i = 0; i < XTAP_VERDICTS; i++) {
				sum.verdict[d][i].packets += per_cpu[c].verdict[d][i].packets;
				sum.verdict[d][i].bytes += per_cpu[c].verdict[d][i].bytes;
			}
			for (i = 0; i < XTAP_DROP_REASONS; i++) {
				sum.drop[d][i].packets += per_cpu[c].drop[d][i].packets;
				sum.drop[d][i].bytes += per_cpu[c].drop[d][i].bytes;
			}
		}
	for (d = 0; d < XTAP_DIRS; d++) {
		json_object *dir = json_object_new_object(), *verd = json_object_new_object();
		json_object *drops = json_object_new_object();

		for (i = 0; i < XTAP_VERDICTS; i++)
			json_object_object_add(verd, xtap_verdict_name(i), xtap_counter_to_json(&sum.verdict[d][i]));
		for (i = 1; i < XTAP_DROP_REASONS; i++)
			if (sum.drop[d][i].packets)
				json_object_object_add(drops, xtap_drop_reason_name(i),
						       xtap_counter_to_json(&sum.drop[d][i]));
		json_object_object_add(dir, "verdicts", verd);
		json_object_object_add(dir, "drops", drops);
		json_object_object_add(o, xtap_dir_name(d), dir);
	}
	return o;
}

/* ---- JSON field access with errors that name the field ---- */

int xtap_json_check_keys(json_object *o, const char *what, const char *const *allowed,
		      struct xtap_err *err)
{
	size_t i;

	if (!json_object_is_type(o, json_type_object))
		return xtap_fail(err, -EINVAL, "%s: expected a JSON object", what);
	json_object_object_foreach(o, key, val) {
		(void)val;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i])
			return xtap_fail(err, -EINVAL, "%s: unknown field \"%s\"", what, key);
	}
	return 0;
}

int xtap_json_get_str(json_object *o, const char *key, int required, const char **out,
		   struct xtap_err *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return xtap_fail(err, -EINVAL, "missing field \"%s\"", key);
		return 1;
	}
	if (!json_object_is_type(v, json_type_string))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be a string", key);
	*out = json_object_get_string(v);
	/* A "\u0000" would cut the C string short: the value used would not be the one given. */
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return xtap_fail(err, -EINVAL, "field \"%s\" must not contain a NUL character", key);
	return 0;
}

/*
 * An integer field: a JSON integer (not true, 1.5, "1" or 1e3) within
 * min-max. json-c keeps integers above INT64_MAX as uint64 (and those
 * above 2^64-1 as 2^64-1): read them as such, never as a wrapped value.
 */
int xtap_json_get_u64(json_object *o, const char *key, int required, __u64 min, __u64 max,
		      __u64 *out, struct xtap_err *err)
{
	json_object *v;
	int64_t x;
	__u64 u;

	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return xtap_fail(err, -EINVAL, "missing field \"%s\"", key);
		return 1;
	}
	if (!json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be an integer (not true, 1.5 or a string)", key);
	x = json_object_get_int64(v);
	if (x < 0)
		return xtap_fail(err, -ERANGE, "field \"%s\": %lld is below %llu", key, (long long)x,
				 (unsigned long long)min);
	u = x == INT64_MAX ? json_object_get_uint64(v) : (__u64)x;
	if (u < min || u > max)
		return xtap_fail(err, -ERANGE, "field \"%s\": %llu is outside %llu-%llu", key, (unsigned long long)u,
				 (unsigned long long)min, (unsigned long long)max);
	*out = u;
	return 0;
}

static int get_i64(json_object *o, const char *key, long *out, struct xtap_err *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	if (!json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be an integer (not true, 1.5 or a string)", key);
	*out = json_object_get_int64(v);
	return 0;
}

static int get_bool(json_object *o, const char *key, int *out, struct xtap_err *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	if (!json_object_is_type(v, json_type_boolean))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

#define OK_OR_RET(expr) do { int __r = (expr); if (__r < 0) return __r; } while (0)

/* ---- rules, rates ---- */

json_object *xtap_rule_to_json(const struct xtap_acl_rule_spec *r)
{
	json_object *o = json_object_new_object();
	char buf[64];

	json_object_object_add(o, "id", json_object_new_int64(r->rule_id));
	json_object_object_add(o, "priority", json_object_new_int(r->priority));
	json_object_object_add(o, "action",
			       json_object_new_string(r->action == XTAP_ACL_DENY ? "deny" : "allow"));
	if (r->action == XTAP_ACL_ALLOW_STATEFUL)
		json_object_object_add(o, "stateful", json_object_new_boolean(1));
	xtap_format_prefix(&r->cidr, buf, sizeof(buf));
	json_object_object_add(o, "cidr", json_object_new_string(buf));
	json_object_object_add(o, "proto",
			       json_object_new_string(xtap_format_proto(r->proto, buf, sizeof(buf))));
	if (r->port_min == 0 && r->port_max == 0xFFFF)
		snprintf(buf, sizeof(buf), "any");
	else if (r->port_min == r->port_max)
		snprintf(buf, sizeof(buf), "%u", r->port_min);
	else
		snprintf(buf, sizeof(buf), "%u-%u", r->port_min, r->port_max);
	json_object_object_add(o, "ports", json_object_new_string(buf));
	return o;
}

static int parse_action(const char *s, __u8 *action)
{
	if (!strcmp(s, "allow"))
		*action = XTAP_ACL_ALLOW;
	else if (!strcmp(s, "deny"))
		*action = XTAP_ACL_DENY;
	else
		return -EINVAL;
	return 0;
}

/* "stateful": true (optional) turns an allow into XTAP_ACL_ALLOW_STATEFUL. */
int xtap_stateful_from_json(json_object *o, const char *what, __u8 *action, struct xtap_err *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, "stateful", &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return xtap_fail(err, -EINVAL, "%s: field \"stateful\" must be true or false", what);
	if (!json_object_get_boolean(v))
		return 0;
	if (*action != XTAP_ACL_ALLOW)
		return xtap_fail(err, -EINVAL, "%s: only allow can be stateful (a deny tracks nothing)", what);
	*action = XTAP_ACL_ALLOW_STATEFUL;
	return 0;
}

int xtap_rule_from_json(json_object *o, struct xtap_acl_rule_spec *r, struct xtap_err *err)
{
	static const char *const keys[] = { "id", "priority", "action", "stateful", "cidr", "proto",
					     "ports", "port", "dir", NULL };
	const char *s;
	__u64 v;
	int ret;

	memset(r, 0, sizeof(*r));
	r->port_max = 0xFFFF;
	r->priority = 1000;
	OK_OR_RET(xtap_json_check_keys(o, "acl rule", keys, err));
	if ((ret = xtap_json_get_u64(o, "id", 0, 1, UINT32_MAX, &v, err)) < 0)
		return ret;
	if (!ret)
		r->rule_id = v;
	if ((ret = xtap_json_get_u64(o, "priority", 0, 0, 65535, &v, err)) < 0)
		return ret;
	if (!ret)
		r->priority = v;
	OK_OR_RET(xtap_json_get_str(o, "action", 1, &s, err));
	if (parse_action(s, &r->action))
		return xtap_fail(err, -EINVAL, "action \"%s\": use allow or deny", s);
	OK_OR_RET(xtap_stateful_from_json(o, "acl rule", &r->action, err));
	if ((ret = xtap_json_get_str(o, "cidr", 0, &s, err)) < 0)
		return ret;
	if (!ret && xtap_parse_prefix(s, &r->cidr))
		return xtap_fail(err, -EINVAL, "cidr \"%s\": use ADDRESS/LENGTH (IPv4 or IPv6) or any", s);
	if ((ret = xtap_json_get_str(o, "proto", 0, &s, err)) < 0)
		return ret;
	if (!ret && xtap_parse_proto(s, &r->proto))
		return xtap_fail(err, -EINVAL, "proto \"%s\": use tcp, udp, icmp, icmpv6, sctp, any or 0-255", s);
	if ((ret = xtap_json_get_str(o, "ports", 0, &s, err)) < 0)
		return ret;
	if (!ret) {
		ret = xtap_parse_ports(s, &r->port_min, &r->port_max);
		if (ret == -ERANGE)
			return xtap_fail(err, -EINVAL, "ports \"%s\": the range is reversed", s);
		if (ret)
			return xtap_fail(err, -EINVAL, "ports \"%s\": use PORT, FIRST-LAST (0-65535) or any", s);
	}
	return 0;
}

json_object *xtap_rate_to_json(const struct xtap_rate_spec *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "bytes_per_sec", json_object_new_int64(r->bytes_per_sec));
	json_object_object_add(o, "packets_per_sec", json_object_new_int64(r->packets_per_sec));
	json_object_object_add(o, "burst_bytes", json_object_new_int64(r->burst_bytes));
	json_object_object_add(o, "burst_packets", json_object_new_int64(r->burst_packets));
	return o;
}

int xtap_rate_from_json(json_object *o, struct xtap_rate_spec *r, struct xtap_err *err)
{
	static const char *const keys[] = { "bytes_per_sec", "packets_per_sec", "burst_bytes",
					     "burst_packets", "port", "dir", NULL };
	__u64 v;
	int ret;

	memset(r, 0, sizeof(*r));
	OK_OR_RET(xtap_json_check_keys(o, "rate", keys, err));
	if ((ret = xtap_json_get_u64(o, "bytes_per_sec", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->bytes_per_sec = ret ? 0 : v;
	if ((ret = xtap_json_get_u64(o, "packets_per_sec", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->packets_per_sec = ret ? 0 : v;
	if ((ret = xtap_json_get_u64(o, "burst_bytes", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->burst_bytes = ret ? 0 : v;
	if ((ret = xtap_json_get_u64(o, "burst_packets", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->burst_packets = ret ? 0 : v;
	return 0;
}

/* ---- ports ---- */

struct port_rules_text;
static json_object *rules_to_json(const struct xtap_acl_spec *acl, struct port_rules_text *cached, int dir);
static json_object *port_to_json(const struct xtap_port_conf *p, struct port_rules_text *cached, int compact);

json_object *xtap_port_to_json(const struct xtap_port_conf *p)
{
	return port_to_json(p, NULL, 0);
}

json_object *xtap_port_to_state_json(const struct xtap_port_conf *p)
{
	return port_to_json(p, NULL, 1);
}

static int rate_is_unset(const struct xtap_rate_spec *r)
{
	return !r->bytes_per_sec && !r->packets_per_sec && !r->burst_bytes && !r->burst_packets;
}

/*
 * cached: this port's rules as last encoded (the state file's text), or NULL.
 * compact (the state file): fields at the value xtap_port_from_json gives a
 * missing one are left out, so that saving after each change writes a file
 * a few times smaller (the whole file is written on every change).
 */
static json_object *port_to_json(const struct xtap_port_conf *p, struct port_rules_text *cached, int compact)
{
	const struct xtap_port_spec *s = &p->spec;
	json_object *o = json_object_new_object(), *addrs = json_object_new_array();
	json_object *acl = json_object_new_object(), *rate = json_object_new_object(), *shared = NULL;
	char buf[64];
	int d, i;

	json_object_object_add(o, "name", json_object_new_string(p->name));
	if (!compact || p->adopt)
		json_object_object_add(o, "adopt", json_object_new_boolean(p->adopt));
	if (!compact || p->queues != 1)
		json_object_object_add(o, "queues", json_object_new_int(p->queues));
	if (!compact || p->owner_uid != -1)
		json_object_object_add(o, "owner_uid", json_object_new_int64(p->owner_uid));
	if (!compact || p->owner_gid != -1)
		json_object_object_add(o, "owner_gid", json_object_new_int64(p->owner_gid));
	if (!compact || s->port_id != XTAP_PORT_ID_UNSET)
		json_object_object_add(o, "port_id", json_object_new_int64(s->port_id));
	json_object_object_add(o, "segment", json_object_new_int64(s->segment_id));
	xtap_format_mac(s->mac, buf, sizeof(buf));
	json_object_object_add(o, "mac", json_object_new_string(buf));
	if (!compact || s->mtu != 1500)
		json_object_object_add(o, "mtu", json_object_new_int(s->mtu));
	for (i = 0; i < s->n_addrs; i++) {
		xtap_format_prefix(&s->addrs[i], buf, sizeof(buf));
		json_object_array_add(addrs, json_object_new_string(buf));
		if (p->addr_shared[i]) {
			if (!shared)
				shared = json_object_new_array();
			json_object_array_add(shared, json_object_new_string(buf));
		}
	}
	if (!compact || s->n_addrs)
		json_object_object_add(o, "addrs", addrs);
	else
		json_object_put(addrs);
	if (shared)
		json_object_object_add(o, "shared_addrs", shared);
	if (!compact || (s->flags & XTAP_PORT_F_ALLOW_DHCP_SERVER))
		json_object_object_add(o, "dhcp_server",
				       json_object_new_boolean(!!(s->flags & XTAP_PORT_F_ALLOW_DHCP_SERVER)));
	if (!compact || (s->flags & XTAP_PORT_F_ALLOW_ROUTER))
		json_object_object_add(o, "router", json_object_new_boolean(!!(s->flags & XTAP_PORT_F_ALLOW_ROUTER)));
	if (!compact || p->next_rule_id != 1)
		json_object_object_add(o, "next_rule_id", json_object_new_int64(p->next_rule_id));
	for (d = 0; d < XTAP_DIRS; d++) {
		json_object *dir = json_object_new_object();

		if (!compact || s->acl[d].default_action != XTAP_ACL_ALLOW)
			json_object_object_add(dir, "default",
					       json_object_new_string(s->acl[d].default_action == XTAP_ACL_DENY ?
								      "deny" : "allow"));
		if (s->acl[d].default_action == XTAP_ACL_ALLOW_STATEFUL)
			json_object_object_add(dir, "stateful", json_object_new_boolean(1));
		if (!compact || s->acl[d].n_rules)
			json_object_object_add(dir, "rules", rules_to_json(&s->acl[d], cached, d));
		if (json_object_object_length(dir))
			json_object_object_add(acl, xtap_dir_name(d), dir);
		else
			json_object_put(dir);
		if (!compact || !rate_is_unset(&s->rate[d]))
			json_object_object_add(rate, xtap_dir_name(d), xtap_rate_to_json(&s->rate[d]));
	}
	if (!compact || json_object_object_length(acl))
		json_object_object_add(o, "acl", acl);
	else
		json_object_put(acl);
	if (!compact || json_object_object_length(rate))
		json_object_object_add(o, "rate", rate);
	else
		json_object_put(rate);
	return o;
}

/*
 * A rule's id names it (acl del) and its hit counter, in both directions of
 * its port: ids must be unique there, and below the last one, which would
 * leave no next id. Rules given without an id get the next ones.
 */
static int rule_ids_check(struct xtap_port_conf *p, struct xtap_err *err)
{
	struct xtap_acl_spec *acl = p->spec.acl;
	int d, e, i, j;

	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < acl[d].n_rules; i++) {
			__u32 id = acl[d].rules[i].rule_id;

			if (id == UINT32_MAX)
				return xtap_fail(err, -ERANGE, "acl %s rules[%d].id: %u is the last id: no rule could be added after it",
						 xtap_dir_name(d), i, id);
			for (e = 0; id && e <= d; e++)
				for (j = 0; j < (e == d ? i : acl[e].n_rules); j++)
					if (acl[e].rules[j].rule_id == id)
						return xtap_fail(err, -EEXIST, "acl %s rules[%d].id: %u is also acl %s rules[%d]'s",
								 xtap_dir_name(d), i, id, xtap_dir_name(e), j);
		}
	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < acl[d].n_rules; i++) {
			if (acl[d].rules[i].rule_id)
				continue;
			if (p->next_rule_id == UINT32_MAX)
				return xtap_fail(err, -ERANGE, "acl %s rules[%d]: no rule id is left", xtap_dir_name(d), i);
			acl[d].rules[i].rule_id = p->next_rule_id++;
		}
	return 0;
}

static int acl_dir_from_json(json_object *o, struct xtap_acl_spec *acl, const char *dir,
			     struct xtap_err *err)
{
	static const char *const keys[] = { "default", "stateful", "rules", NULL };
	json_object *rules;
	const char *s;
	size_t i, n;
	int ret;

	OK_OR_RET(xtap_json_check_keys(o, dir, keys, err));
	if ((ret = xtap_json_get_str(o, "default", 0, &s, err)) < 0)
		return ret;
	if (!ret && parse_action(s, &acl->default_action))
		return xtap_fail(err, -EINVAL, "acl %s default \"%s\": use allow or deny", dir, s);
	OK_OR_RET(xtap_stateful_from_json(o, "acl default", &acl->default_action, err));
	if (!json_object_object_get_ex(o, "rules", &rules))
		return 0;
	if (!json_object_is_type(rules, json_type_array))
		return xtap_fail(err, -EINVAL, "acl %s rules: expected an array", dir);
	n = json_object_array_length(rules);
	if (n > XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "acl %s: %zu rules, at most %d", dir, n, XTAP_MAX_ACL_RULES);
	for (i = 0; i < n; i++) {
		int r = xtap_rule_from_json(json_object_array_get_idx(rules, i), &acl->rules[i], err);

		if (r < 0)
			return xtap_err_at(err, r, "acl %s rules[%zu]", dir, i);
	}
	acl->n_rules = n;
	return 0;
}

/*
 * addrs, or shared_addrs: addresses other ports of the segment may hold too
 * when they mark them shared as well (a VIP). A shared address also listed
 * in addrs is the same address, marked.
 */
static int addrs_from_json(json_object *o, const char *key, struct xtap_port_conf *p, int shared,
			   struct xtap_err *err)
{
	struct xtap_port_spec *s = &p->spec;
	json_object *v;
	size_t i, n;
	int j;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return xtap_fail(err, -EINVAL, "%s: expected an array of addresses", key);
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(v, i);
		const char *as = json_object_get_string(a);
		struct xtap_prefix pfx;

		if (!json_object_is_type(a, json_type_string) || xtap_parse_prefix(as, &pfx) || pfx.family == 0)
			return xtap_fail(err, -EINVAL, "%s: \"%s\" is not an IPv4/IPv6 address or prefix", key,
					 as ? as : "?");
		for (j = 0; j < s->n_addrs && memcmp(&s->addrs[j], &pfx, sizeof(pfx)); j++)
			;
		if (j == s->n_addrs) {
			if (s->n_addrs >= 2 * XTAP_MAX_PORT_ADDRS)
				return xtap_fail(err, -E2BIG, "%s: more than %d addresses per family", key,
						 XTAP_MAX_PORT_ADDRS);
			s->addrs[s->n_addrs++] = pfx;
		}
		if (shared)
			p->addr_shared[j] = 1;
	}
	return 0;
}

int xtap_port_from_json(json_object *o, struct xtap_port_conf *p, struct xtap_err *err)
{
	static const char *const keys[] = { "name", "adopt", "queues", "owner_uid", "owner_gid",
					     "port_id", "segment", "mac", "mtu", "addrs", "shared_addrs",
					     "dhcp_server", "router", "next_rule_id", "acl", "rate",
					     NULL };
	struct xtap_port_spec *s = &p->spec;
	json_object *v;
	const char *str;
	__u64 u;
	int ret, b, d;
	size_t i;

	memset(p, 0, sizeof(*p));
	p->queues = 1;
	p->owner_uid = -1;
	p->owner_gid = -1;
	p->next_rule_id = 1;
	s->port_id = XTAP_PORT_ID_UNSET;
	s->mtu = 1500;
	s->acl[0].default_action = XTAP_ACL_ALLOW;
	s->acl[1].default_action = XTAP_ACL_ALLOW;

	OK_OR_RET(xtap_json_check_keys(o, "port", keys, err));
	OK_OR_RET(xtap_json_get_str(o, "name", 1, &str, err));
	/* The kernel's rules for interface names (dev_valid_name). */
	if (!*str || strlen(str) >= IFNAMSIZ || !strcmp(str, ".") || !strcmp(str, "..") ||
	    strpbrk(str, "/: \t\n\v\f\r"))
		return xtap_fail(err, -EINVAL, "name \"%.32s\": 1-15 characters, not . or .., no '/', ':' or spaces (it names the tap)",
			    str);
	strcpy(p->name, str);
	if ((ret = get_bool(o, "adopt", &b, err)) < 0)
		return ret;
	p->adopt = ret ? 0 : b;
	if ((ret = xtap_json_get_u64(o, "queues", 0, 1, 256, &u, err)) < 0)
		return ret;
	if (!ret)
		p->queues = u;
	if (get_i64(o, "owner_uid", &p->owner_uid, err) < 0 ||
	    get_i64(o, "owner_gid", &p->owner_gid, err) < 0)
		return -EINVAL;
	if ((ret = xtap_json_get_u64(o, "port_id", 0, 0, XTAP_MAX_PORTS - 1, &u, err)) < 0)
		return ret;
	if (!ret)
		s->port_id = u;
	OK_OR_RET(xtap_json_get_u64(o, "segment", 1, 0, UINT32_MAX, &u, err));
	s->segment_id = u;
	OK_OR_RET(xtap_json_get_str(o, "mac", 1, &str, err));
	if (xtap_parse_mac(str, s->mac))
		return xtap_fail(err, -EINVAL, "mac \"%s\": use six hex bytes like 02:00:00:00:00:01", str);
	if ((ret = xtap_json_get_u64(o, "mtu", 0, 68, 65521, &u, err)) < 0)
		return ret;
	if (!ret)
		s->mtu = u;
	OK_OR_RET(addrs_from_json(o, "addrs", p, 0, err));
	OK_OR_RET(addrs_from_json(o, "shared_addrs", p, 1, err));
	if ((ret = get_bool(o, "dhcp_server", &b, err)) < 0)
		return ret;
	if (!ret && b)
		s->flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	if ((ret = get_bool(o, "router", &b, err)) < 0)
		return ret;
	if (!ret && b)
		s->flags |= XTAP_PORT_F_ALLOW_ROUTER;
	if ((ret = xtap_json_get_u64(o, "next_rule_id", 0, 1, UINT32_MAX, &u, err)) < 0)
		return ret;
	if (!ret)
		p->next_rule_id = u;
	if (json_object_object_get_ex(o, "acl", &v)) {
		static const char *const dkeys[] = { "from-vm", "to-vm", NULL };
		json_object *dv;

		OK_OR_RET(xtap_json_check_keys(v, "acl", dkeys, err));
		for (d = 0; d < XTAP_DIRS; d++)
			if (json_object_object_get_ex(v, xtap_dir_name(d), &dv))
				OK_OR_RET(acl_dir_from_json(dv, &s->acl[d], xtap_dir_name(d), err));
	}
	if (json_object_object_get_ex(o, "rate", &v)) {
		static const char *const dkeys[] = { "from-vm", "to-vm", NULL };
		json_object *dv;

		OK_OR_RET(xtap_json_check_keys(v, "rate", dkeys, err));
		for (d = 0; d < XTAP_DIRS; d++)
			if (json_object_object_get_ex(v, xtap_dir_name(d), &dv))
				OK_OR_RET(xtap_rate_from_json(dv, &s->rate[d], err));
	}
	/* Rules read from JSON keep their ids; the next id must stay above them. */
	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < s->acl[d].n_rules; i++)
			if (s->acl[d].rules[i].rule_id >= p->next_rule_id)
				p->next_rule_id = s->acl[d].rules[i].rule_id + 1;
	return rule_ids_check(p, err);
}

/* ---- segments ---- */

json_object *xtap_segment_to_json(const struct xtap_segment_conf *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(s->id));
	json_object_object_add(o, "uplink", json_object_new_string(s->uplink));
	json_object_object_add(o, "vlan", json_object_new_int(s->vlan));
	json_object_object_add(o, "flood_host", json_object_new_boolean(s->flood_host));
	if (s->vni)
		json_object_object_add(o, "vni", json_object_new_int64(s->vni));
	return o;
}

int xtap_segment_from_json(json_object *o, struct xtap_segment_conf *s, struct xtap_err *err)
{
	static const char *const keys[] = { "id", "uplink", "vlan", "flood_host", "vni", NULL };
	const char *str;
	__u64 u;
	int ret, b;

	memset(s, 0, sizeof(*s));
	OK_OR_RET(xtap_json_check_keys(o, "segment", keys, err));
	OK_OR_RET(xtap_json_get_u64(o, "id", 1, 0, UINT32_MAX, &u, err));
	s->id = u;
	if ((ret = xtap_json_get_str(o, "uplink", 0, &str, err)) < 0)
		return ret;
	if (!ret) {
		if (strlen(str) >= IFNAMSIZ)
			return xtap_fail(err, -EINVAL, "uplink \"%s\": interface names have at most 15 characters", str);
		strcpy(s->uplink, str);
	}
	if ((ret = xtap_json_get_u64(o, "vlan", 0, 0, 4094, &u, err)) < 0)
		return ret;
	if (!ret)
		s->vlan = u;
	if (s->vlan && !s->uplink[0])
		return xtap_fail(err, -EINVAL, "segment %u: vlan %u needs an uplink", s->id, s->vlan);
	if ((ret = get_bool(o, "flood_host", &b, err)) < 0)
		return ret;
	s->flood_host = ret ? 0 : b;
	if ((ret = xtap_json_get_u64(o, "vni", 0, 1, XTAP_VNI_MAX, &u, err)) < 0)
		return ret;
	if (!ret)
		s->vni = u;
	/* Replication leaves the frame encapsulated: the host cannot have it too (yet). */
	if (s->vni && s->flood_host)
		return xtap_fail(err, -EINVAL, "segment %u: --flood-host and --vni together are not supported "
				 "(an overlay segment's broadcasts go to its VMs and remote VTEPs only)", s->id);
	return 0;
}

/* ---- the model ---- */

void xtap_model_port_changed(struct xtap_port_conf *p)
{
	free(p->json);
	p->json = NULL;
}

/*
 * Saving after a policy update must not re-encode every rule of the port:
 * the rules of each port and direction as last encoded are kept with the
 * text of each rule and of the whole array. A text is reused only for rules
 * equal byte for byte to the ones it was made from (a rule's text is a
 * function of its fields), and enters the output through a json-c
 * placeholder that prints it: the file stays what xtap_port_to_json encodes.
 */
struct text {
	char *s;
	size_t len;
};

struct rules_text {
	__u16 n_rules;
	struct xtap_acl_rule_spec *rules;   /* as encoded */
	struct text *rule;                  /* rule[i]: the text of rules[i] */
	struct text all;                    /* the array; s NULL: not encoded yet */
};

struct port_rules_text {
	char name[IFNAMSIZ];
	struct rules_text dir[XTAP_DIRS];
};

struct xtap_rules_text {
	struct port_rules_text **ports;
	size_t n_ports;
};

static void rules_text_free(struct rules_text *t)
{
	__u16 i;

	for (i = 0; i < t->n_rules; i++)
		free(t->rule[i].s);
	free(t->rules);
	free(t->rule);
	free(t->all.s);
	memset(t, 0, sizeof(*t));
}

static void port_rules_text_free(struct port_rules_text *pt)
{
	int d;

	for (d = 0; d < XTAP_DIRS; d++)
		rules_text_free(&pt->dir[d]);
	free(pt);
}

/* The entry of the port named name, added empty if there is none; NULL without a cache or memory. */
static struct port_rules_text *port_rules_text(struct xtap_rules_text *c, const char *name)
{
	struct port_rules_text **grown, *pt;
	size_t i;

	if (!c)
		return NULL;
	for (i = 0; i < c->n_ports; i++)
		if (!strcmp(c->ports[i]->name, name))
			return c->ports[i];
	pt = calloc(1, sizeof(*pt));
	grown = pt ? realloc(c->ports, (c->n_ports + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(pt);
		return NULL;
	}
	snprintf(pt->name, sizeof(pt->name), "%s", name);
	c->ports = grown;
	c->ports[c->n_ports++] = pt;
	return pt;
}

static void rules_text_forget(struct xtap_rules_text *c, const char *name)
{
	size_t i;

	for (i = 0; c && i < c->n_ports; i++)
		if (!strcmp(c->ports[i]->name, name)) {
			port_rules_text_free(c->ports[i]);
			c->ports[i] = c->ports[--c->n_ports];
			return;
		}
}

static int print_text(json_object *o, struct printbuf *pb, int level, int flags)
{
	const struct text *t = json_object_get_userdata(o);

	(void)level;
	(void)flags;
	return printbuf_memappend(pb, t->s, t->len);
}

/* A json-c value that prints as t (which must outlive it). */
static json_object *text_json(struct text *t)
{
	json_object *o = json_object_new_boolean(0);

	if (o)
		json_object_set_serializer(o, print_text, t, NULL);
	return o;
}

static int text_of_json(json_object *o, struct text *t)
{
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &t->len);

	t->s = s ? malloc(t->len + 1) : NULL;
	if (!t->s)
		return -ENOMEM;
	memcpy(t->s, s, t->len + 1);
	return 0;
}

static int rule_equal(const struct xtap_acl_rule_spec *a, const struct xtap_acl_rule_spec *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/*
 * t encodes acl's rules once this returns 0. An update adds, deletes or
 * keeps rules in order, so the old rules are walked along the new ones: a
 * rule equal to the next old one (or the one after: a deletion) takes its
 * text; any other rule is encoded.
 */
static int rules_text_update(struct rules_text *t, const struct xtap_acl_spec *acl)
{
	struct rules_text next = { .n_rules = acl->n_rules };
	json_object *arr = NULL;
	__u16 i, j = 0;
	int ret = -ENOMEM;

	if (t->all.s && t->n_rules == acl->n_rules &&
	    !memcmp(t->rules, acl->rules, acl->n_rules * sizeof(acl->rules[0])))
		return 0;
	next.rules = malloc((acl->n_rules ? acl->n_rules : 1) * sizeof(*next.rules));
	next.rule = calloc(acl->n_rules ? acl->n_rules : 1, sizeof(*next.rule));
	arr = json_object_new_array_ext(acl->n_rules);
	if (!next.rules || !next.rule || !arr)
		goto out;
	memcpy(next.rules, acl->rules, acl->n_rules * sizeof(acl->rules[0]));
	for (i = 0; i < acl->n_rules; i++) {
		const struct xtap_acl_rule_spec *r = &acl->rules[i];
		json_object *o;

		if (j + 1 < t->n_rules && !rule_equal(r, &t->rules[j]) && rule_equal(r, &t->rules[j + 1]))
			j++;
		if (j < t->n_rules && rule_equal(r, &t->rules[j])) {
			next.rule[i] = t->rule[j];
			t->rule[j++].s = NULL;
		} else {
			o = xtap_rule_to_json(r);
			ret = o ? text_of_json(o, &next.rule[i]) : -ENOMEM;
			json_object_put(o);
			if (ret)
				goto out;
			ret = -ENOMEM;
		}
		o = text_json(&next.rule[i]);
		if (!o || json_object_array_add(arr, o)) {
			json_object_put(o);
			goto out;
		}
	}
	ret = text_of_json(arr, &next.all);
out:
	json_object_put(arr);
	if (ret) {
		rules_text_free(&next);
		rules_text_free(t);   /* some of its texts may have moved to next */
		return ret;
	}
	rules_text_free(t);
	*t = next;
	return 0;
}

/* The "rules" array of one direction: its cached text when there is a cache, else rules encoded afresh. */
static json_object *rules_to_json(const struct xtap_acl_spec *acl, struct port_rules_text *cached, int dir)
{
	json_object *rules;
	__u16 i;

	if (cached && !rules_text_update(&cached->dir[dir], acl)) {
		rules = text_json(&cached->dir[dir].all);
		if (rules)
			return rules;
	}
	rules = json_object_new_array();
	for (i = 0; i < acl->n_rules; i++)
		json_object_array_add(rules, xtap_rule_to_json(&acl->rules[i]));
	return rules;
}

/*
 * Saving after every change must not cost O(ports) JSON work: each port's
 * encoding is cached until it changes, and the file is their concatenation.
 */
char *xtap_model_to_text(struct xtap_model *m)
{
	json_object *segs = json_object_new_array(), *overlay = NULL;
	size_t i, len, total;
	const char *segs_text, *overlay_text = "";
	char *text, *cur;

	for (i = 0; i < m->n_segments; i++)
		json_object_array_add(segs, xtap_segment_to_json(&m->segments[i]));
	segs_text = json_object_to_json_string_ext(segs, JSON_C_TO_STRING_PLAIN);
	if (!xtap_overlay_is_empty(&m->overlay)) {
		overlay = xtap_overlay_to_json(&m->overlay);
		overlay_text = json_object_to_json_string_ext(overlay, JSON_C_TO_STRING_PLAIN);
	}
	total = strlen(segs_text) + strlen(overlay_text) + 64;
	for (i = 0; i < m->n_ports; i++) {
		struct xtap_port_conf *p = m->ports[i];

		if (!p->json) {
			json_object *o = port_to_json(p, port_rules_text(m->rules_text, p->name), 1);
			struct text t;
			int ret = text_of_json(o, &t);

			json_object_put(o);
			if (ret) {
				json_object_put(segs);
				json_object_put(overlay);
				return NULL;
			}
			p->json = t.s;
			p->json_len = t.len;
		}
		total += p->json_len + 2;
	}
	text = malloc(total);
	if (text) {
		cur = text + sprintf(text, "{\"segments\":%s,\"ports\":[", segs_text);
		for (i = 0; i < m->n_ports; i++) {
			len = m->ports[i]->json_len;
			if (i)
				*cur++ = ',';
			memcpy(cur, m->ports[i]->json, len);
			cur += len;
		}
		cur += sprintf(cur, "]%s%s}\n", overlay ? ",\"overlay\":" : "", overlay_text);
	}
	json_object_put(segs);
	json_object_put(overlay);
	return text;
}

void xtap_model_free(struct xtap_model *m)
{
	size_t i;

	for (i = 0; i < m->n_ports; i++) {
		free(m->ports[i]->json);
		free(m->ports[i]);
	}
	free(m->ports);
	free(m->segments);
	xtap_overlay_free(&m->overlay);
	if (m->rules_text) {
		for (i = 0; i < m->rules_text->n_ports; i++)
			port_rules_text_free(m->rules_text->ports[i]);
		free(m->rules_text->ports);
		free(m->rules_text);
	}
	memset(m, 0, sizeof(*m));
}

struct xtap_port_conf *xtap_model_port(const struct xtap_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_ports; i++)
		if (!strcmp(m->ports[i]->name, name))
			return m->ports[i];
	return NULL;
}

struct xtap_segment_conf *xtap_model_segment(const struct xtap_model *m, __u32 id)
{
	size_t i;

	for (i = 0; i < m->n_segments; i++)
		if (m->segments[i].id == id)
			return &m->segments[i];
	return NULL;
}

int xtap_model_add_port(struct xtap_model *m, struct xtap_port_conf *p)
{
	struct xtap_port_conf **grown = realloc(m->ports, (m->n_ports + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->ports = grown;
	m->ports[m->n_ports++] = p;
	if (!m->rules_text)   /* none (out of memory): saves encode rules afresh */
		m->rules_text = calloc(1, sizeof(*m->rules_text));
	return 0;
}

/* Deleting moves the last port into the gap: a view without a port must keep that order. */
static void remove_port_at(struct xtap_port_conf **ports, size_t *n, size_t i)
{
	ports[i] = ports[--*n];
}

void xtap_model_del_port(struct xtap_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_ports; i++)
		if (!strcmp(m->ports[i]->name, name)) {
			rules_text_forget(m->rules_text, name);
			free(m->ports[i]->json);
			free(m->ports[i]);
			remove_port_at(m->ports, &m->n_ports, i);
			return;
		}
}

int xtap_model_view_without_port(const struct xtap_model *m, const char *name, struct xtap_model *view)
{
	size_t i;

	*view = *m;
	view->ports = malloc((m->n_ports ? m->n_ports : 1) * sizeof(*view->ports));
	if (!view->ports)
		return -ENOMEM;
	memcpy(view->ports, m->ports, m->n_ports * sizeof(*view->ports));
	for (i = 0; i < view->n_ports; i++)
		if (!strcmp(view->ports[i]->name, name)) {
			remove_port_at(view->ports, &view->n_ports, i);
			break;
		}
	return 0;
}

int xtap_model_add_segment(struct xtap_model *m, const struct xtap_segment_conf *s)
{
	struct xtap_segment_conf *grown = realloc(m->segments, (m->n_segments + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	m->segments = grown;
	m->segments[m->n_segments++] = *s;
	return 0;
}

static void remove_segment_at(struct xtap_segment_conf *segments, size_t *n, size_t i)
{
	segments[i] = segments[--*n];
}

void xtap_model_del_segment(struct xtap_model *m, __u32 id)
{
	size_t i;

	for (i = 0; i < m->n_segments; i++)
		if (m->segments[i].id == id) {
			remove_segment_at(m->segments, &m->n_segments, i);
			return;
		}
}

int xtap_model_view_without_segment(const struct xtap_model *m, __u32 id, struct xtap_model *view)
{
	size_t i;

	*view = *m;
	view->segments = malloc((m->n_segments ? m->n_segments : 1) * sizeof(*view->segments));
	if (!view->segments)
		return -ENOMEM;
	memcpy(view->segments, m->segments, m->n_segments * sizeof(*view->segments));
	for (i = 0; i < view->n_segments; i++)
		if (view->segments[i].id == id) {
			remove_segment_at(view->segments, &view->n_segments, i);
			break;
		}
	return 0;
}

__u32 xtap_model_free_port_id(const struct xtap_model *m)
{
	static unsigned char used[XTAP_MAX_PORTS];
	size_t i;
	__u32 id;

	memset(used, 0, sizeof(used));
	/* Ports read without an id (XTAP_PORT_ID_UNSET) have none yet. */
	for (i = 0; i < m->n_ports; i++)
		if (m->ports[i]->spec.port_id < XTAP_MAX_PORTS)
			used[m->ports[i]->spec.port_id] = 1;
	for (id = 0; id < XTAP_MAX_PORTS && used[id]; id++)
		;
	return id;
}

/* "ports[2] (vm1)": where a port is in the state, by index and, when it has one, by name. */
static void port_where(json_object *o, size_t i, char *buf, size_t len)
{
	json_object *name;

	if (json_object_object_get_ex(o, "name", &name) && json_object_is_type(name, json_type_string))
		snprintf(buf, len, "ports[%zu] (%.15s)", i, json_object_get_string(name));
	else
		snprintf(buf, len, "ports[%zu]", i);
}

static int segments_from_json(json_object *arr, struct xtap_model *m, struct xtap_err *err)
{
	size_t i, j, n = json_object_array_length(arr);
	struct xtap_segment_conf s;
	int ret;

	for (i = 0; i < n; i++) {
		ret = xtap_segment_from_json(json_object_array_get_idx(arr, i), &s, err);
		if (ret)
			return xtap_err_at(err, ret, "segments[%zu]", i);
		for (j = 0; j < m->n_segments; j++) {
			const struct xtap_segment_conf *t = &m->segments[j];

			if (t->id == s.id)
				return xtap_fail(err, -EEXIST, "segments[%zu].id: segment %u is also segments[%zu]",
						 i, s.id, j);
			if (s.vni && t->vni == s.vni)
				return xtap_fail(err, -EEXIST, "segments[%zu].vni: VNI %u is also segment %u's (segments[%zu])",
						 i, s.vni, t->id, j);
			/* One uplink and VLAN carry one segment (the datapath maps them to it). */
			if (s.uplink[0] && !strcmp(t->uplink, s.uplink) && t->vlan == s.vlan)
				return xtap_fail(err, -EEXIST,
						 "segments[%zu].uplink: %s VLAN %u already carries segment %u (segments[%zu])",
						 i, s.uplink, s.vlan, t->id, j);
		}
		if (xtap_model_add_segment(m, &s))
			return xtap_fail(err, -ENOMEM, "segments[%zu]: out of memory", i);
	}
	return 0;
}

/* What makes a port one of its own: its name (the tap), its id, its MAC in its segment. */
static int port_check(const struct xtap_model *m, const struct xtap_port_conf *p, size_t i,
		      struct xtap_err *err)
{
	const struct xtap_port_spec *s = &p->spec;
	size_t j;

	if (!xtap_model_segment(m, s->segment_id))
		return xtap_fail(err, -EINVAL, "ports[%zu].segment: segment %u of port %s is not in segments", i,
				 s->segment_id, p->name);
	for (j = 0; j < m->n_segments; j++)
		if (!strcmp(m->segments[j].uplink, p->name))
			return xtap_fail(err, -EEXIST, "ports[%zu].name: %s is the uplink of segment %u, not a tap", i,
					 p->name, m->segments[j].id);
	for (j = 0; j < m->n_ports; j++) {
		const struct xtap_port_conf *q = m->ports[j];
		char mac[24];

		if (!strcmp(q->name, p->name))
			return xtap_fail(err, -EEXIST, "ports[%zu].name: port %s is also ports[%zu]", i, p->name, j);
		if (s->port_id != XTAP_PORT_ID_UNSET && q->spec.port_id == s->port_id)
			return xtap_fail(err, -EEXIST, "ports[%zu].port_id: port %s has id %u, like port %s (ports[%zu])",
					 i, p->name, s->port_id, q->name, j);
		if (q->spec.segment_id == s->segment_id && !memcmp(q->spec.mac, s->mac, 6)) {
			xtap_format_mac(s->mac, mac, sizeof(mac));
			return xtap_fail(err, -EEXIST, "ports[%zu].mac: port %s has %s, like port %s (ports[%zu]) in segment %u",
					 i, p->name, mac, q->name, j, s->segment_id);
		}
	}
	return 0;
}

static int ports_from_json(json_object *arr, struct xtap_model *m, struct xtap_err *err)
{
	size_t i, n = json_object_array_length(arr);
	char where[48];
	int ret;

	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct xtap_port_conf *p = calloc(1, sizeof(*p));

		if (!p)
			return xtap_fail(err, -ENOMEM, "ports[%zu]: out of memory", i);
		ret = xtap_port_from_json(o, p, err);
		if (ret) {
			port_where(o, i, where, sizeof(where));
			ret = xtap_err_at(err, ret, "%s", where);
		}
		if (!ret)
			ret = port_check(m, p, i, err);
		if (!ret && xtap_model_add_port(m, p))
			ret = xtap_fail(err, -ENOMEM, "ports[%zu]: out of memory", i);
		if (ret) {
			free(p);
			return ret;
		}
	}
	return 0;
}

/* The whole state, checked for types, ranges and consistency: the first problem names its place. */
int xtap_model_from_json(json_object *o, struct xtap_model *m, struct xtap_err *err)
{
	json_object *segs = NULL, *ports = NULL, *overlay = NULL;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	if (!json_object_is_type(o, json_type_object))
		return xtap_fail(err, -EINVAL, "the top level must be an object {\"segments\": [...], \"ports\": [...]}, not %s",
				 json_type_to_name(json_object_get_type(o)));
	json_object_object_foreach(o, key, val) {
		json_object **dst = !strcmp(key, "segments") ? &segs : !strcmp(key, "ports") ? &ports : NULL;

		if (!strcmp(key, "overlay")) {
			overlay = val;
			continue;
		}
		if (!dst)
			return xtap_fail(err, -EINVAL, "unknown key \"%.64s\" at the top level (segments, ports and overlay are known)",
					 key);
		if (!json_object_is_type(val, json_type_array))
			return xtap_fail(err, -EINVAL, "%s: expected an array, not %s", key,
					 json_type_to_name(json_object_get_type(val)));
		*dst = val;
	}
	/* Segments first: ports name theirs. */
	if (segs)
		ret = segments_from_json(segs, m, err);
	if (!ret && ports)
		ret = ports_from_json(ports, m, err);
	if (!ret && overlay)
		ret = xtap_overlay_from_json(overlay, m, err);
	if (ret)
		xtap_model_free(m);
	return ret;
}
