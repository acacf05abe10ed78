// SPDX-License-Identifier: GPL-2.0
/* Is a port spec one the datapath can hold? Checked before anything changes. */
#include <errno.h>
#include <stdio.h>

#include "validate.h"

#define MAX_BYTES_PER_SEC   (400ULL * 1000 * 1000 * 1000 / 8)   /* 400 Gbit/s */
#define MAX_PACKETS_PER_SEC (1000ULL * 1000 * 1000)

static int prefix_max_len(__u8 family)
{
	return family == 4 ? 32 : family == 6 ? 128 : 0;
}

static int validate_rate(const struct xtap_rate_spec *rs, const char *dir, struct xtap_err *err)
{
	if (rs->bytes_per_sec) {
		if (rs->bytes_per_sec > MAX_BYTES_PER_SEC)
			return xtap_fail(err, -EINVAL, "rate %s: %llu bytes/s is more than 400 Gbit/s", dir,
				    (unsigned long long)rs->bytes_per_sec);
		if (rs->burst_bytes < XTAP_MIN_BURST_BYTES)
			return xtap_fail(err, -EINVAL,
				    "rate %s: burst of %llu bytes is below %u: GSO frames up to 64 KiB would never pass",
				    dir, (unsigned long long)rs->burst_bytes, XTAP_MIN_BURST_BYTES);
	}
	if (rs->packets_per_sec) {
		if (rs->packets_per_sec > MAX_PACKETS_PER_SEC)
			return xtap_fail(err, -EINVAL, "rate %s: %llu packets/s is more than 1e9", dir,
				    (unsigned long long)rs->packets_per_sec);
		if (rs->burst_packets < 1)
			return xtap_fail(err, -EINVAL, "rate %s: packet burst must be at least 1", dir);
	}
	return 0;
}

static int validate_prefix(const struct xtap_prefix *p, int any_ok, const char *what,
			   struct xtap_err *err)
{
	if (p->family == 0 && any_ok && p->prefixlen == 0)
		return 0;
	if (p->family != 4 && p->family != 6)
		return xtap_fail(err, -EINVAL, "%s: address family must be IPv4 or IPv6", what);
	if (p->prefixlen > prefix_max_len(p->family))
		return xtap_fail(err, -EINVAL, "%s: prefix length %u is longer than /%d", what, p->prefixlen,
			    prefix_max_len(p->family));
	return 0;
}

static int validate_acl(const struct xtap_acl_spec *acl, const char *dir, struct xtap_err *err)
{
	int i, j, ret;
	char what[64];

	if (acl->default_action > XTAP_ACL_ALLOW)
		return xtap_fail(err, -EINVAL, "acl %s: default must be allow or deny", dir);
	if (acl->n_rules > XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "acl %s: %u rules, at most %d per port and direction", dir,
			    acl->n_rules, XTAP_MAX_ACL_RULES);
	for (i = 0; i < acl->n_rules; i++) {
		const struct xtap_acl_rule_spec *r = &acl->rules[i];
		int ports = !(r->port_min == 0 && r->port_max == 0xFFFF);

		snprintf(what, sizeof(what), "acl %s rule %u", dir, r->rule_id);
		ret = validate_prefix(&r->cidr, 1, what, err);
		if (ret)
			return ret;
		if (r->action > XTAP_ACL_ALLOW)
			return xtap_fail(err, -EINVAL, "%s: action must be allow or deny", what);
		if (r->port_min > r->port_max)
			return xtap_fail(err, -EINVAL, "%s: port range %u-%u is reversed", what, r->port_min,
				    r->port_max);
		if (ports && r->proto && r->proto != 6 && r->proto != 17 && r->proto != 132)
			return xtap_fail(err, -EINVAL, "%s: ports need tcp, udp or sctp (protocol %u has none)",
				    what, r->proto);
		for (j = 0; j < i; j++)
			if (acl->rules[j].rule_id == r->rule_id)
				return xtap_fail(err, -EEXIST, "%s: rule id used twice", what);
	}
	return 0;
}

int xtap_validate_port_spec(const struct xtap_port_spec *s, struct xtap_err *err)
{
	int n4 = 0, n6 = 0, i, ret;

	if (s->port_id >= XTAP_MAX_PORTS)
		return xtap_fail(err, -EINVAL, "port id %u: must be below %d", s->port_id, XTAP_MAX_PORTS);
	if ((s->mac[0] & 1) || !(s->mac[0] | s->mac[1] | s->mac[2] | s->mac[3] | s->mac[4] | s->mac[5]))
		return xtap_fail(err, -EINVAL, "port %u: MAC must be unicast and not zero", s->port_id);
	if (s->mtu < 68 || s->mtu > 65521)
		return xtap_fail(err, -EINVAL, "port %u: MTU %u outside 68-65521", s->port_id, s->mtu);
	if (s->flags & ~(XTAP_PORT_F_ALLOW_DHCP_SERVER | XTAP_PORT_F_ALLOW_ROUTER))
		return xtap_fail(err, -EINVAL, "port %u: unknown flags 0x%x", s->port_id, s->flags);
	if (s->n_addrs > 2 * XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "port %u: too many addresses", s->port_id);
	for (i = 0; i < s->n_addrs; i++) {
		ret = validate_prefix(&s->addrs[i], 0, "address", err);
		if (ret)
			return ret;
		if (s->addrs[i].family == 4)
			n4++;
		else
			n6++;
	}
	if (n4 > XTAP_MAX_PORT_ADDRS || n6 + 1 > XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "port %u: at most %d addresses per family (IPv6 includes the link-local)",
			    s->port_id, XTAP_MAX_PORT_ADDRS);
	ret = validate_acl(&s->acl[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_acl(&s->acl[XTAP_DIR_TO_VM], "to-vm", err);
	/* A hit counter follows its rule id across policy changes: ids are unique across directions too. */
	for (i = 0; !ret && i < s->acl[XTAP_DIR_FROM_VM].n_rules; i++) {
		int j;

		for (j = 0; j < s->acl[XTAP_DIR_TO_VM].n_rules; j++)
			if (s->acl[XTAP_DIR_TO_VM].rules[j].rule_id == s->acl[XTAP_DIR_FROM_VM].rules[i].rule_id)
				return xtap_fail(err, -EEXIST, "acl rule id %u is used in both directions",
					    s->acl[XTAP_DIR_FROM_VM].rules[i].rule_id);
	}
	if (!ret)
		ret = validate_rate(&s->rate[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_rate(&s->rate[XTAP_DIR_TO_VM], "to-vm", err);
	return ret;
}
