// SPDX-License-Identifier: GPL-2.0
/* Prefixes, and their keys in the LPM tries (addresses and ACLs): the set id comes first. */
#include <string.h>

#include "maps.h"

void xtap_prefix_normalize(struct xtap_prefix *p)
{
	int bytes = p->family == 4 ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		int bits = p->prefixlen - i * 8;

		if (bits <= 0)
			p->addr[i] = 0;
		else if (bits < 8)
			p->addr[i] &= (__u8)(0xFF << (8 - bits));
	}
	if (bytes == 4)
		memset(p->addr + 4, 0, 12);
}

int xtap_prefix_contains(const struct xtap_prefix *a, const struct xtap_prefix *b)
{
	int i, len = a->prefixlen;

	if (a->family != b->family || a->prefixlen > b->prefixlen)
		return 0;
	for (i = 0; i < len / 8; i++)
		if (a->addr[i] != b->addr[i])
			return 0;
	return len % 8 == 0 || !((a->addr[i] ^ b->addr[i]) & (__u8)(0xFF << (8 - len % 8)));
}

int xtap_lpm_write(const struct xtap_datapath *dp, enum xtap_map_id map4, enum xtap_map_id map6,
		   __u32 set, const struct xtap_prefix *p, const void *value)
{
	if (p->family == 4) {
		struct xtap_ip4_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(&k.addr, p->addr, 4);
		return xtap_map_update(xtap_map_fd(dp, map4), &k, value);
	} else {
		struct xtap_ip6_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(k.addr, p->addr, 16);
		return xtap_map_update(xtap_map_fd(dp, map6), &k, value);
	}
}

int xtap_lpm_delete(const struct xtap_datapath *dp, enum xtap_map_id map4, enum xtap_map_id map6,
		    __u32 set, const struct xtap_prefix *p)
{
	if (p->family == 4) {
		struct xtap_ip4_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(&k.addr, p->addr, 4);
		return xtap_map_delete(xtap_map_fd(dp, map4), &k);
	} else {
		struct xtap_ip6_key k = { .prefixlen = 32 + p->prefixlen, .set = set };

		memcpy(k.addr, p->addr, 16);
		return xtap_map_delete(xtap_map_fd(dp, map6), &k);
	}
}
