// SPDX-License-Identifier: GPL-2.0
/*
 * Address sets (bpf/antispoof.h): the sources a port may use, in the tries
 * xtap_addr4/6 under the set id, recorded whole in xtap_addr_sets, and the
 * first host addresses copied into the port's entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"

void xtap_ipv6_link_local(__u8 out[16], const __u8 mac[6])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

/* The port's allowed prefixes, normalized, the EUI-64 link-local first. */
static void addr_set_of(const struct xtap_port_spec *s, struct xtap_addr_set *rec)
{
	int i;

	memset(rec, 0, sizeof(*rec));
	rec->addrs[0].family = 6;
	rec->addrs[0].prefixlen = 128;
	xtap_ipv6_link_local(rec->addrs[0].addr, s->mac);
	for (i = 0; i < s->n_addrs; i++) {
		struct xtap_prefix p = s->addrs[i];

		xtap_prefix_normalize(&p);
		rec->addrs[i + 1].family = p.family;
		rec->addrs[i + 1].prefixlen = p.prefixlen;
		memcpy(rec->addrs[i + 1].addr, p.addr, 16);
	}
	rec->count = s->n_addrs + 1;
}

static struct xtap_prefix prefix_of_rec(const struct xtap_prefix_rec *r)
{
	struct xtap_prefix p = { .family = r->family, .prefixlen = r->prefixlen };

	memcpy(p.addr, r->addr, 16);
	return p;
}

/* The set's first host addresses go into the port entry (anti-spoofing's fast path). */
static void port_hosts_of(const struct xtap_addr_set *rec, struct xtap_port *p)
{
	__u32 i;

	for (i = 0; i < rec->count; i++) {
		const struct xtap_prefix_rec *r = &rec->addrs[i];

		if (r->family == 4 && r->prefixlen == 32 && p->host4_count < XTAP_PORT_HOST4)
			memcpy(&p->host4[p->host4_count++], r->addr, 4);
		else if (r->family == 4)
			p->addr_flags |= XTAP_PORT_ADDR_F_TRIE4;
		else if (r->prefixlen == 128 && p->host6_count < XTAP_PORT_HOST6)
			memcpy(p->host6[p->host6_count++], r->addr, 16);
		else
			p->addr_flags |= XTAP_PORT_ADDR_F_TRIE6;
	}
}

void xtap_addr_hosts(const struct xtap_port_spec *s, struct xtap_port *port)
{
	struct xtap_addr_set rec;

	addr_set_of(s, &rec);
	port_hosts_of(&rec, port);
}

int xtap_addrs_same(const struct xtap_datapath *dp, __u32 set, const struct xtap_port_spec *s)
{
	struct xtap_addr_set want, have;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set, &have))
		return 0;
	addr_set_of(s, &want);
	return have.count == want.count &&
	       !memcmp(have.addrs, want.addrs, want.count * sizeof(want.addrs[0]));
}

/* The record goes in before the entries: deleting by it always finds them all. */
int xtap_addrs_write(const struct xtap_datapath *dp, const struct xtap_port_spec *s, __u32 set,
		     struct xtap_err *err)
{
	struct xtap_addr_set rec;
	__u32 i;
	int ret;

	addr_set_of(s, &rec);
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set, &rec);
	if (ret)
		return xtap_map_fail(err, "xtap_addr_sets", ret);
	for (i = 0; i < rec.count; i++) {
		struct xtap_prefix p = prefix_of_rec(&rec.addrs[i]);
		struct xtap_addr_entry v = { .prefixlen = p.prefixlen };

		ret = xtap_lpm_write(dp, XTAP_MAP_ADDR4, XTAP_MAP_ADDR6, set, &p, &v);
		if (ret)
			return xtap_map_fail(err, p.family == 4 ? "xtap_addr4" : "xtap_addr6", ret);
	}
	return 0;
}

int xtap_addrs_delete(const struct xtap_datapath *dp, __u32 set)
{
	struct xtap_addr_set rec;
	__u32 i;
	int ret = 0;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set, &rec))
		return 0;
	for (i = 0; i < rec.count && i < 2 * XTAP_MAX_PORT_ADDRS && !ret; i++) {
		struct xtap_prefix p = prefix_of_rec(&rec.addrs[i]);

		ret = xtap_lpm_delete(dp, XTAP_MAP_ADDR4, XTAP_MAP_ADDR6, set, &p);
	}
	return ret ? ret : xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_ADDR_SETS), &set);
}
