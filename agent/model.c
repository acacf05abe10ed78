// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	};
	_Static_assert(XTAP_DROP_REASONS == 22, "a name for every drop reason");

	return r >= 0 && r < XTAP_DROP_REASONS ? names[r] : "?";
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

static int check_keys(json_object *o, const char *what, const char *const *allowed,
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

static int get_str(json_object *o, const char *key, int required, const char **out,
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
	return 0;
}

static int get_u64(json_object *o, const char *key, int required, __u64 min, __u64 max,
		   __u64 *out, struct xtap_err *err)
{
	json_object *v;
	int64_t x;

	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return xtap_fail(err, -EINVAL, "missing field \"%s\"", key);
		return 1;
	}
	if (!json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be an integer", key);
	x = json_object_get_int64(v);
	if (x < 0 || (__u64)x < min || (__u64)x > max)
		return xtap_fail(err, -ERANGE, "field \"%s\": %lld is outside %llu-%llu", key, (long long)x,
			    (unsigned long long)min, (unsigned long long)max);
	*out = x;
	return 0;
}

static int get_i64(json_object *o, const char *key, long *out, struct xtap_err *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 1;
	if (!json_object_is_type(v, json_type_int))
		return xtap_fail(err, -EINVAL, "field \"%s\" must be an integer", key);
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
			       json_object_new_string(r->action == XTAP_ACL_ALLOW ? "allow" : "deny"));
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

int xtap_rule_from_json(json_object *o, struct xtap_acl_rule_spec *r, struct xtap_err *err)
{
	static const char *const keys[] = { "id", "priority", "action", "cidr", "proto", "ports",
					     "port", "dir", NULL };
	const char *s;
	__u64 v;
	int ret;

	memset(r, 0, sizeof(*r));
	r->port_max = 0xFFFF;
	r->priority = 1000;
	OK_OR_RET(check_keys(o, "acl rule", keys, err));
	if ((ret = get_u64(o, "id", 0, 1, UINT32_MAX, &v, err)) < 0)
		return ret;
	if (!ret)
		r->rule_id = v;
	if ((ret = get_u64(o, "priority", 0, 0, 65535, &v, err)) < 0)
		return ret;
	if (!ret)
		r->priority = v;
	OK_OR_RET(get_str(o, "action", 1, &s, err));
	if (parse_action(s, &r->action))
		return xtap_fail(err, -EINVAL, "action \"%s\": use allow or deny", s);
	if ((ret = get_str(o, "cidr", 0, &s, err)) < 0)
		return ret;
	if (!ret && xtap_parse_prefix(s, &r->cidr))
		return xtap_fail(err, -EINVAL, "cidr \"%s\": use ADDRESS/LENGTH (IPv4 or IPv6) or any", s);
	if ((ret = get_str(o, "proto", 0, &s, err)) < 0)
		return ret;
	if (!ret && xtap_parse_proto(s, &r->proto))
		return xtap_fail(err, -EINVAL, "proto \"%s\": use tcp, udp, icmp, icmpv6, sctp, any or 0-255", s);
	if ((ret = get_str(o, "ports", 0, &s, err)) < 0)
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
	OK_OR_RET(check_keys(o, "rate", keys, err));
	if ((ret = get_u64(o, "bytes_per_sec", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->bytes_per_sec = ret ? 0 : v;
	if ((ret = get_u64(o, "packets_per_sec", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->packets_per_sec = ret ? 0 : v;
	if ((ret = get_u64(o, "burst_bytes", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->burst_bytes = ret ? 0 : v;
	if ((ret = get_u64(o, "burst_packets", 0, 0, UINT64_MAX >> 1, &v, err)) < 0)
		return ret;
	r->burst_packets = ret ? 0 : v;
	return 0;
}

/* ---- ports ---- */

json_object *xtap_port_to_json(const struct xtap_port_conf *p)
{
	const struct xtap_port_spec *s = &p->spec;
	json_object *o = json_object_new_object(), *addrs = json_object_new_array();
	json_object *acl = json_object_new_object(), *rate = json_object_new_object();
	char buf[64];
	int d, i;

	json_object_object_add(o, "name", json_object_new_string(p->name));
	json_object_object_add(o, "adopt", json_object_new_boolean(p->adopt));
	json_object_object_add(o, "queues", json_object_new_int(p->queues));
	json_object_object_add(o, "owner_uid", json_object_new_int64(p->owner_uid));
	json_object_object_add(o, "owner_gid", json_object_new_int64(p->owner_gid));
	json_object_object_add(o, "port_id", json_object_new_int64(s->port_id));
	json_object_object_add(o, "segment", json_object_new_int64(s->segment_id));
	xtap_format_mac(s->mac, buf, sizeof(buf));
	json_object_object_add(o, "mac", json_object_new_string(buf));
	json_object_object_add(o, "mtu", json_object_new_int(s->mtu));
	for (i = 0; i < s->n_addrs; i++) {
		xtap_format_prefix(&s->addrs[i], buf, sizeof(buf));
		json_object_array_add(addrs, json_object_new_string(buf));
	}
	json_object_object_add(o, "addrs", addrs);
	json_object_object_add(o, "dhcp_server",
			       json_object_new_boolean(!!(s->flags & XTAP_PORT_F_ALLOW_DHCP_SERVER)));
	json_object_object_add(o, "router", json_object_new_boolean(!!(s->flags & XTAP_PORT_F_ALLOW_ROUTER)));
	json_object_object_add(o, "next_rule_id", json_object_new_int64(p->next_rule_id));
	for (d = 0; d < XTAP_DIRS; d++) {
		json_object *dir = json_object_new_object(), *rules = json_object_new_array();

		json_object_object_add(dir, "default",
				       json_object_new_string(s->acl[d].default_action == XTAP_ACL_ALLOW ?
							      "allow" : "deny"));
		for (i = 0; i < s->acl[d].n_rules; i++)
			json_object_array_add(rules, xtap_rule_to_json(&s->acl[d].rules[i]));
		json_object_object_add(dir, "rules", rules);
		json_object_object_add(acl, xtap_dir_name(d), dir);
		json_object_object_add(rate, xtap_dir_name(d), xtap_rate_to_json(&s->rate[d]));
	}
	json_object_object_add(o, "acl", acl);
	json_object_object_add(o, "rate", rate);
	return o;
}

static int acl_dir_from_json(json_object *o, struct xtap_acl_spec *acl, const char *dir,
			     struct xtap_err *err)
{
	static const char *const keys[] = { "default", "rules", NULL };
	json_object *rules;
	const char *s;
	size_t i, n;
	int ret;

	OK_OR_RET(check_keys(o, dir, keys, err));
	if ((ret = get_str(o, "default", 0, &s, err)) < 0)
		return ret;
	if (!ret && parse_action(s, &acl->default_action))
		return xtap_fail(err, -EINVAL, "acl %s default \"%s\": use allow or deny", dir, s);
	if (!json_object_object_get_ex(o, "rules", &rules))
		return 0;
	if (!json_object_is_type(rules, json_type_array))
		return xtap_fail(err, -EINVAL, "acl %s rules: expected an array", dir);
	n = json_object_array_length(rules);
	if (n > XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "acl %s: %zu rules, at most %d", dir, n, XTAP_MAX_ACL_RULES);
	for (i = 0; i < n; i++)
		OK_OR_RET(xtap_rule_from_json(json_object_array_get_idx(rules, i), &acl->rules[i], err));
	acl->n_rules = n;
	return 0;
}

int xtap_port_from_json(json_object *o, struct xtap_port_conf *p, struct xtap_err *err)
{
	static const char *const keys[] = { "name", "adopt", "queues", "owner_uid", "owner_gid",
					     "port_id", "segment", "mac", "mtu", "addrs",
					     "dhcp_server", "router", "next_rule_id", "acl", "rate",
					     NULL };
	struct xtap_port_spec *s = &p->spec;
	json_object *v;
	const char *str;
	__u64 u;
	int ret, b, d;
	size_t i, n;

	memset(p, 0, sizeof(*p));
	p->queues = 1;
	p->owner_uid = -1;
	p->owner_gid = -1;
	p->next_rule_id = 1;
	s->port_id = XTAP_PORT_ID_UNSET;
	s->mtu = 1500;
	s->acl[0].default_action = XTAP_ACL_ALLOW;
	s->acl[1].default_action = XTAP_ACL_ALLOW;

	OK_OR_RET(check_keys(o, "port", keys, err));
	OK_OR_RET(get_str(o, "name", 1, &str, err));
	if (!*str || strlen(str) >= IFNAMSIZ || strchr(str, '/') || strchr(str, ' '))
		return xtap_fail(err, -EINVAL, "name \"%s\": 1-15 characters, no '/' or spaces (it names the tap)",
			    str);
	strcpy(p->name, str);
	if ((ret = get_bool(o, "adopt", &b, err)) < 0)
		return ret;
	p->adopt = ret ? 0 : b;
	if ((ret = get_u64(o, "queues", 0, 1, 256, &u, err)) < 0)
		return ret;
	if (!ret)
		p->queues = u;
	if (get_i64(o, "owner_uid", &p->owner_uid, err) < 0 ||
	    get_i64(o, "owner_gid", &p->owner_gid, err) < 0)
		return -EINVAL;
	if ((ret = get_u64(o, "port_id", 0, 0, XTAP_MAX_PORTS - 1, &u, err)) < 0)
		return ret;
	if (!ret)
		s->port_id = u;
	OK_OR_RET(get_u64(o, "segment", 1, 0, UINT32_MAX, &u, err));
	s->segment_id = u;
	OK_OR_RET(get_str(o, "mac", 1, &str, err));
	if (xtap_parse_mac(str, s->mac))
		return xtap_fail(err, -EINVAL, "mac \"%s\": use six hex bytes like 02:00:00:00:00:01", str);
	if ((ret = get_u64(o, "mtu", 0, 68, 65521, &u, err)) < 0)
		return ret;
	if (!ret)
		s->mtu = u;
	if (json_object_object_get_ex(o, "addrs", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return xtap_fail(err, -EINVAL, "addrs: expected an array of addresses");
		n = json_object_array_length(v);
		if (n > 2 * XTAP_MAX_PORT_ADDRS)
			return xtap_fail(err, -E2BIG, "addrs: %zu addresses, at most %d per family", n,
				    XTAP_MAX_PORT_ADDRS);
		for (i = 0; i < n; i++) {
			json_object *a = json_object_array_get_idx(v, i);
			const char *as = json_object_get_string(a);

			if (!json_object_is_type(a, json_type_string) || xtap_parse_prefix(as, &s->addrs[i]) ||
			    s->addrs[i].family == 0)
				return xtap_fail(err, -EINVAL, "addrs: \"%s\" is not an IPv4/IPv6 address or prefix",
					    as ? as : "?");
		}
		s->n_addrs = n;
	}
	if ((ret = get_bool(o, "dhcp_server", &b, err)) < 0)
		return ret;
	if (!ret && b)
		s->flags |= XTAP_PORT_F_ALLOW_DHCP_SERVER;
	if ((ret = get_bool(o, "router", &b, err)) < 0)
		return ret;
	if (!ret && b)
		s->flags |= XTAP_PORT_F_ALLOW_ROUTER;
	if ((ret = get_u64(o, "next_rule_id", 0, 1, UINT32_MAX, &u, err)) < 0)
		return ret;
	if (!ret)
		p->next_rule_id = u;
	if (json_object_object_get_ex(o, "acl", &v)) {
		static const char *const dkeys[] = { "from-vm", "to-vm", NULL };
		json_object *dv;

		OK_OR_RET(check_keys(v, "acl", dkeys, err));
		for (d = 0; d < XTAP_DIRS; d++)
			if (json_object_object_get_ex(v, xtap_dir_name(d), &dv))
				OK_OR_RET(acl_dir_from_json(dv, &s->acl[d], xtap_dir_name(d), err));
	}
	if (json_object_object_get_ex(o, "rate", &v)) {
		static const char *const dkeys[] = { "from-vm", "to-vm", NULL };
		json_object *dv;

		OK_OR_RET(check_keys(v, "rate", dkeys, err));
		for (d = 0; d < XTAP_DIRS; d++)
			if (json_object_object_get_ex(v, xtap_dir_name(d), &dv))
				OK_OR_RET(xtap_rate_from_json(dv, &s->rate[d], err));
	}
	/* Rules read from JSON keep their ids; the next id must stay above them. */
	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < s->acl[d].n_rules; i++)
			if (s->acl[d].rules[i].rule_id >= p->next_rule_id)
				p->next_rule_id = s->acl[d].rules[i].rule_id + 1;
	return 0;
}

/* ---- segments ---- */

json_object *xtap_segment_to_json(const struct xtap_segment_conf *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(s->id));
	json_object_object_add(o, "uplink", json_object_new_string(s->uplink));
	json_object_object_add(o, "vlan", json_object_new_int(s->vlan));
	json_object_object_add(o, "flood_host", json_object_new_boolean(s->flood_host));
	return o;
}

int xtap_segment_from_json(json_object *o, struct xtap_segment_conf *s, struct xtap_err *err)
{
	static const char *const keys[] = { "id", "uplink", "vlan", "flood_host", NULL };
	const char *str;
	__u64 u;
	int ret, b;

	memset(s, 0, sizeof(*s));
	OK_OR_RET(check_keys(o, "segment", keys, err));
	OK_OR_RET(get_u64(o, "id", 1, 0, UINT32_MAX, &u, err));
	s->id = u;
	if ((ret = get_str(o, "uplink", 0, &str, err)) < 0)
		return ret;
	if (!ret) {
		if (strlen(str) >= IFNAMSIZ)
			return xtap_fail(err, -EINVAL, "uplink \"%s\": interface names have at most 15 characters", str);
		strcpy(s->uplink, str);
	}
	if ((ret = get_u64(o, "vlan", 0, 0, 4094, &u, err)) < 0)
		return ret;
	if (!ret)
		s->vlan = u;
	if (s->vlan && !s->uplink[0])
		return xtap_fail(err, -EINVAL, "segment %u: vlan %u needs an uplink", s->id, s->vlan);
	if ((ret = get_bool(o, "flood_host", &b, err)) < 0)
		return ret;
	s->flood_host = ret ? 0 : b;
	return 0;
}

/* ---- the model ---- */

void xtap_model_port_changed(struct xtap_port_conf *p)
{
	free(p->json);
	p->json = NULL;
}

/*
 * Saving after every change must not cost O(ports) JSON work: each port's
 * encoding is cached until it changes, and the file is their concatenation.
 */
char *xtap_model_to_text(struct xtap_model *m)
{
	json_object *segs = json_object_new_array();
	size_t i, len, total;
	const char *segs_text;
	char *text, *cur;

	for (i = 0; i < m->n_segments; i++)
		json_object_array_add(segs, xtap_segment_to_json(&m->segments[i]));
	segs_text = json_object_to_json_string_ext(segs, JSON_C_TO_STRING_PLAIN);
	total = strlen(segs_text) + 64;
	for (i = 0; i < m->n_ports; i++) {
		struct xtap_port_conf *p = m->ports[i];

		if (!p->json) {
			json_object *o = xtap_port_to_json(p);

			p->json = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			if (!p->json) {
				json_object_put(segs);
				return NULL;
			}
		}
		total += strlen(p->json) + 2;
	}
	text = malloc(total);
	if (text) {
		cur = text + sprintf(text, "{\"segments\":%s,\"ports\":[", segs_text);
		for (i = 0; i < m->n_ports; i++) {
			len = strlen(m->ports[i]->json);
			if (i)
				*cur++ = ',';
			memcpy(cur, m->ports[i]->json, len);
			cur += len;
		}
		strcpy(cur, "]}\n");
	}
	json_object_put(segs);
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
	return 0;
}

void xtap_model_del_port(struct xtap_model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_ports; i++)
		if (!strcmp(m->ports[i]->name, name)) {
			free(m->ports[i]->json);
			free(m->ports[i]);
			m->ports[i] = m->ports[--m->n_ports];
			return;
		}
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

void xtap_model_del_segment(struct xtap_model *m, __u32 id)
{
	size_t i;

	for (i = 0; i < m->n_segments; i++)
		if (m->segments[i].id == id) {
			m->segments[i] = m->segments[--m->n_segments];
			return;
		}
}

__u32 xtap_model_free_port_id(const struct xtap_model *m)
{
	static unsigned char used[XTAP_MAX_PORTS];
	size_t i;
	__u32 id;

	memset(used, 0, sizeof(used));
	for (i = 0; i < m->n_ports; i++)
		used[m->ports[i]->spec.port_id] = 1;
	for (id = 0; id < XTAP_MAX_PORTS && used[id]; id++)
		;
	return id;
}

int xtap_model_from_json(json_object *o, struct xtap_model *m, struct xtap_err *err)
{
	static const char *const keys[] = { "segments", "ports", NULL };
	json_object *arr;
	size_t i, n;
	int ret;

	memset(m, 0, sizeof(*m));
	OK_OR_RET(check_keys(o, "state", keys, err));
	if (json_object_object_get_ex(o, "segments", &arr)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			struct xtap_segment_conf s;

			ret = xtap_segment_from_json(json_object_array_get_idx(arr, i), &s, err);
			if (!ret && xtap_model_segment(m, s.id))
				ret = xtap_fail(err, -EEXIST, "segment %u listed twice", s.id);
			if (!ret)
				ret = xtap_model_add_segment(m, &s);
			if (ret)
				goto out;
		}
	}
	if (json_object_object_get_ex(o, "ports", &arr)) {
		n = json_object_array_length(arr);
		for (i = 0; i < n; i++) {
			struct xtap_port_conf *p = calloc(1, sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			ret = xtap_port_from_json(json_object_array_get_idx(arr, i), p, err);
			if (!ret && xtap_model_port(m, p->name))
				ret = xtap_fail(err, -EEXIST, "port %s listed twice", p->name);
			if (!ret)
				ret = xtap_model_add_port(m, p);
			if (ret) {
				free(p);
				goto out;
			}
		}
	}
	return 0;
out:
	xtap_model_free(m);
	return ret;
}
