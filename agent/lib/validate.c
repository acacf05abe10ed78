// SPDX-License-Identifier: GPL-2.0
/*
 * Is what an operator asks for one the datapath can hold, and one that
 * keeps the ports of a segment apart? The commands call xtap_validate_port()
 * before anything changes; the map writer checks a spec again with
 * xtap_validate_port_spec() before it writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define MAX_BYTES_PER_SEC   (400ULL * 1000 * 1000 * 1000 / 8)   /* 400 Gbit/s */
#define MAX_PACKETS_PER_SEC (1000ULL * 1000 * 1000)
#define NSEC_PER_SEC        1000000000ULL

static int prefix_max_len(__u8 family)
{
	return family == 4 ? 32 : family == 6 ? 128 : 0;
}

/* Does the shorter of a and b contain the other (same family)? */
static int prefixes_overlap(const struct xtap_prefix *a, const struct xtap_prefix *b)
{
	int len = a->prefixlen < b->prefixlen ? a->prefixlen : b->prefixlen, i;

	if (a->family != b->family)
		return 0;
	for (i = 0; i < len / 8; i++)
		if (a->addr[i] != b->addr[i])
			return 0;
	return len % 8 == 0 || !((a->addr[i] ^ b->addr[i]) & (__u8)(0xFF << (8 - len % 8)));
}

/*
 * The limiter (bpf/ratelimit.h) holds a burst as nanoseconds at the rate,
 * shifted by XTAP_RATE_TAT_SHIFT and compared with shifted ktime: a burst
 * must last at most XTAP_MAX_BURST_SECONDS so that this never wraps.
 */
static int validate_burst(const char *who, const char *dir, const char *what, __u64 burst, __u64 rate,
			  struct xtap_err *err)
{
	unsigned __int128 ns = (unsigned __int128)burst * NSEC_PER_SEC / rate;

	if (ns > (unsigned __int128)XTAP_MAX_BURST_SECONDS * NSEC_PER_SEC)
		return xtap_fail(err, -ERANGE, "%srate %s: a burst of %llu %s lasts more than %d s at %llu %s/s: "
				 "give a burst of at most %llu", who, dir, (unsigned long long)burst, what,
				 XTAP_MAX_BURST_SECONDS, (unsigned long long)rate, what,
				 (unsigned long long)(rate * XTAP_MAX_BURST_SECONDS));
	return 0;
}

static int validate_rate(const char *who, const struct xtap_rate_spec *rs, const char *dir,
			 struct xtap_err *err)
{
	int ret;

	if (rs->bytes_per_sec) {
		if (rs->bytes_per_sec > MAX_BYTES_PER_SEC)
			return xtap_fail(err, -EINVAL, "%srate %s: %llu bytes/s is more than 400 Gbit/s", who, dir,
					 (unsigned long long)rs->bytes_per_sec);
		if (rs->burst_bytes < XTAP_MIN_BURST_BYTES)
			return xtap_fail(err, -EINVAL,
					 "%srate %s: burst of %llu bytes is below %u: GSO frames up to 64 KiB would never pass",
					 who, dir, (unsigned long long)rs->burst_bytes, XTAP_MIN_BURST_BYTES);
		ret = validate_burst(who, dir, "bytes", rs->burst_bytes, rs->bytes_per_sec, err);
		if (ret)
			return ret;
	}
	if (rs->packets_per_sec) {
		if (rs->packets_per_sec > MAX_PACKETS_PER_SEC)
			return xtap_fail(err, -EINVAL, "%srate %s: %llu packets/s is more than 1e9", who, dir,
					 (unsigned long long)rs->packets_per_sec);
		if (rs->burst_packets < 1)
			return xtap_fail(err, -EINVAL, "%srate %s: packet burst must be at least 1", who, dir);
		ret = validate_burst(who, dir, "packets", rs->burst_packets, rs->packets_per_sec, err);
		if (ret)
			return ret;
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

static int validate_acl(const char *who, const struct xtap_acl_spec *acl, const char *dir,
			struct xtap_err *err)
{
	char what[96];
	int i, ret;

	if (acl->default_action > XTAP_ACL_ALLOW_STATEFUL)
		return xtap_fail(err, -EINVAL, "%sacl %s: default must be allow or deny", who, dir);
	if (acl->n_rules > XTAP_MAX_ACL_RULES)
		return xtap_fail(err, -E2BIG, "%sacl %s: %u rules, at most %d per port and direction", who, dir,
			    acl->n_rules, XTAP_MAX_ACL_RULES);
	for (i = 0; i < acl->n_rules; i++) {
		const struct xtap_acl_rule_spec *r = &acl->rules[i];
		int ports = !(r->port_min == 0 && r->port_max == 0xFFFF);

		/* Every update checks every rule: the rule's name is formatted only for a message. */
		if (r->action <= XTAP_ACL_ALLOW_STATEFUL && r->port_min <= r->port_max &&
		    (!ports || !r->proto || r->proto == 6 || r->proto == 17 || r->proto == 132) &&
		    ((r->cidr.family == 0 && r->cidr.prefixlen == 0) ||
		     ((r->cidr.family == 4 || r->cidr.family == 6) && r->cidr.prefixlen <= prefix_max_len(r->cidr.family))))
			continue;
		snprintf(what, sizeof(what), "%sacl %s rule %u", who, dir, r->rule_id);
		ret = validate_prefix(&r->cidr, 1, what, err);
		if (ret)
			return ret;
		if (r->action > XTAP_ACL_ALLOW_STATEFUL)
			return xtap_fail(err, -EINVAL, "%s: action must be allow or deny", what);
		if (r->port_min > r->port_max)
			return xtap_fail(err, -EINVAL, "%s: port range %u-%u is reversed", what, r->port_min,
				    r->port_max);
		return xtap_fail(err, -EINVAL, "%s: ports need tcp, udp or sctp (protocol %u has none)",
				 what, r->proto);
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * A hit counter follows its rule id across policy changes: ids are unique
 * within the port, across both directions. Sorted, so that a port with the
 * most rules costs microseconds, not a comparison of every pair.
 */
static int validate_rule_ids(const char *who, const struct xtap_port_spec *s, struct xtap_err *err)
{
	__u32 ids[XTAP_DIRS * XTAP_MAX_ACL_RULES];
	int d, i, n = 0;

	for (d = 0; d < XTAP_DIRS; d++)
		for (i = 0; i < s->acl[d].n_rules; i++)
			ids[n++] = s->acl[d].rules[i].rule_id;
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	for (i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
			return xtap_fail(err, -EEXIST, "%sacl rule id %u is used twice", who, ids[i]);
	return 0;
}

/* who: "port vm1: " (or "port id 3: " where the name is unknown), the start of every message. */
static int validate_fields(const char *who, const struct xtap_port_spec *s, struct xtap_err *err)
{
	int n4 = 0, n6 = 0, i, ret;
	char what[64];

	if (s->port_id >= XTAP_MAX_PORTS)
		return xtap_fail(err, -EINVAL, "%sport id %u must be below %d", who, s->port_id, XTAP_MAX_PORTS);
	if ((s->mac[0] & 1) || !(s->mac[0] | s->mac[1] | s->mac[2] | s->mac[3] | s->mac[4] | s->mac[5]))
		return xtap_fail(err, -EINVAL, "%sMAC must be unicast and not zero", who);
	if (s->mtu < 68 || s->mtu > 65521)
		return xtap_fail(err, -EINVAL, "%sMTU %u outside 68-65521", who, s->mtu);
	if (s->flags & ~(XTAP_PORT_F_ALLOW_DHCP_SERVER | XTAP_PORT_F_ALLOW_ROUTER))
		return xtap_fail(err, -EINVAL, "%sunknown flags 0x%x", who, s->flags);
	if (s->n_addrs > 2 * XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "%stoo many addresses", who);
	snprintf(what, sizeof(what), "%saddress", who);
	for (i = 0; i < s->n_addrs; i++) {
		ret = validate_prefix(&s->addrs[i], 0, what, err);
		if (ret)
			return ret;
		if (s->addrs[i].family == 4)
			n4++;
		else
			n6++;
	}
	if (n4 > XTAP_MAX_PORT_ADDRS || n6 + 1 > XTAP_MAX_PORT_ADDRS)
		return xtap_fail(err, -E2BIG, "%sat most %d addresses per family (IPv6 includes the link-local)",
			    who, XTAP_MAX_PORT_ADDRS);
	ret = validate_acl(who, &s->acl[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_acl(who, &s->acl[XTAP_DIR_TO_VM], "to-vm", err);
	if (!ret)
		ret = validate_rule_ids(who, s, err);
	if (!ret)
		ret = validate_rate(who, &s->rate[XTAP_DIR_FROM_VM], "from-vm", err);
	if (!ret)
		ret = validate_rate(who, &s->rate[XTAP_DIR_TO_VM], "to-vm", err);
	return ret;
}

int xtap_validate_port_spec(const struct xtap_port_spec *s, struct xtap_err *err)
{
	char who[32];

	snprintf(who, sizeof(who), "port id %u: ", s->port_id);
	if (!s->ifindex)
		return xtap_fail(err, -EINVAL, "%sno interface", who);
	return validate_fields(who, s, err);
}

void xtap_err_nothing_changed(struct xtap_err *err)
{
	size_t n = strlen(err->msg);

	if (n && !strstr(err->msg, "nothing changed"))
		snprintf(err->msg + n, sizeof(err->msg) - n, "; nothing changed");
}

void xtap_err_name_port(struct xtap_err *err, const char *name)
{
	char prefix[IFNAMSIZ + 8];
	size_t n = snprintf(prefix, sizeof(prefix), "port %s: ", name), len = strlen(err->msg);

	if (!strncmp(err->msg, prefix, n))
		return;
	/* The message's end gives way when it is long: the port's name comes first. */
	if (len + n >= sizeof(err->msg))
		len = sizeof(err->msg) - n - 1;
	memmove(err->msg + n, err->msg, len);
	memcpy(err->msg, prefix, n);
	err->msg[n + len] = 0;
}

/* (uid_t)-1 means no owner (the model's default); the kernel takes ids up to 2^32-2. */
static int owner_ok(long id)
{
	return id == -1 || (id >= 0 && id < 4294967295L);
}

/*
 * One VM must not be able to send as another: no other port of p's segment
 * may have its MAC, or an address overlapping one of its own.
 */
static int validate_apart(const struct xtap_model *m, const struct xtap_port_conf *cur,
			  const struct xtap_port_conf *p, struct xtap_err *err)
{
	char mine[64], theirs[64];
	size_t k;
	int i, j;

	for (k = 0; k < m->n_ports; k++) {
		const struct xtap_port_conf *q = m->ports[k];

		if (q == p || q == cur)
			continue;
		if (p->spec.port_id != XTAP_PORT_ID_UNSET && q->spec.port_id == p->spec.port_id)
			return xtap_fail(err, -EEXIST, "port %s: port id %u is already port %s's", p->name,
					 p->spec.port_id, q->name);
		if (q->spec.segment_id != p->spec.segment_id)
			continue;
		if (!memcmp(q->spec.mac, p->spec.mac, 6)) {
			xtap_format_mac(p->spec.mac, mine, sizeof(mine));
			return xtap_fail(err, -EEXIST, "port %s: MAC %s is already used by port %s in segment %u",
					 p->name, mine, q->name, p->spec.segment_id);
		}
		for (i = 0; i < p->spec.n_addrs; i++)
			for (j = 0; j < q->spec.n_addrs; j++) {
				if (!prefixes_overlap(&p->spec.addrs[i], &q->spec.addrs[j]))
					continue;
				if (p->addr_shared[i] && q->addr_shared[j])
					continue;
				xtap_format_prefix(&p->spec.addrs[i], mine, sizeof(mine));
				xtap_format_prefix(&q->spec.addrs[j], theirs, sizeof(theirs));
				return xtap_fail(err, -EEXIST,
						 "port %s: address %s overlaps %s of port %s in segment %u, so %s could send as %s: "
						 "give each its own, or mark it shared on both (--shared-addr)",
						 p->name, mine, theirs, q->name, p->spec.segment_id, p->name, q->name);
			}
	}
	return 0;
}

/* Does next keep what validate_apart() checks of cur (so that an ACL or rate change skips the walk over every port)? */
static int same_identity(const struct xtap_port_conf *cur, const struct xtap_port_conf *next)
{
	return cur && cur->spec.port_id == next->spec.port_id && cur->spec.segment_id == next->spec.segment_id &&
	       !memcmp(cur->spec.mac, next->spec.mac, 6) && cur->spec.n_addrs == next->spec.n_addrs &&
	       !memcmp(cur->spec.addrs, next->spec.addrs, cur->spec.n_addrs * sizeof(cur->spec.addrs[0])) &&
	       !memcmp(cur->addr_shared, next->addr_shared, sizeof(cur->addr_shared));
}

int xtap_validate_port(const struct xtap_model *m, const struct xtap_port_conf *cur,
		       const struct xtap_port_conf *p, struct xtap_err *err)
{
	char who[IFNAMSIZ + 8];
	int ret;

	snprintf(who, sizeof(who), "port %s: ", p->name);
	ret = validate_fields(who, &p->spec, err);
	if (!ret && !owner_ok(p->owner_uid))
		ret = xtap_fail(err, -ERANGE, "%sowner_uid %ld: a user id is 0-4294967294 (leave it out for root only)",
				who, p->owner_uid);
	if (!ret && !owner_ok(p->owner_gid))
		ret = xtap_fail(err, -ERANGE, "%sowner_gid %ld: a group id is 0-4294967294 (leave it out for root only)",
				who, p->owner_gid);
	if (!ret && !xtap_model_segment(m, p->spec.segment_id))
		ret = xtap_fail(err, -ENOENT, "%ssegment %u does not exist (xtapctl segment add %u)", who,
				p->spec.segment_id, p->spec.segment_id);
	if (!ret && !same_identity(cur, p))
		ret = validate_apart(m, cur, p, err);
	if (ret)
		xtap_err_nothing_changed(err);
	return ret;
}

/*
 * A loaded model, port by port, against the rest (a state file may have been
 * edited by hand): owner ids, and no MAC or overlapping address shared with
 * another port of the segment unless both mark it shared. Ports read without
 * an id get one later and are not compared by id.
 */
int xtap_validate_model(const struct xtap_model *m, struct xtap_err *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; !ret && i < m->n_ports; i++) {
		const struct xtap_port_conf *p = m->ports[i];

		if (!owner_ok(p->owner_uid) || !owner_ok(p->owner_gid))
			ret = xtap_fail(err, -ERANGE, "port %s: owner %ld:%ld: ids are 0-4294967294 (or -1: root only)",
					p->name, p->owner_uid, p->owner_gid);
		else
			ret = validate_apart(m, NULL, p, err);
	}
	return ret;
}
