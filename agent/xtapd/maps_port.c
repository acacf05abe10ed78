// SPDX-License-Identifier: GPL-2.0
/* What belongs to a port beside its entry in xtap_ports: its id, its hint, its counters (bpf/port.h). */
#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

int xtap_port_id_taken(const struct xtap_datapath *dp, __u32 port_id, __u32 ifindex)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_PORTS);
	__u32 key, next, *cur = NULL;
	struct xtap_port p;

	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		if (next != ifindex && !bpf_map_lookup_elem(fd, &next, &p) && p.port_id == port_id)
			return 1;
		key = next;
		cur = &key;
	}
	return 0;
}

int xtap_port_state_reset(const struct xtap_datapath *dp, __u32 port_id)
{
	unsigned int ncpu = libbpf_num_possible_cpus();
	struct xtap_port_stats *zero = calloc(ncpu, sizeof(*zero));
	__u32 dir;
	int ret;

	if (!zero)
		return -ENOMEM;
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_PORT_STATS), &port_id, zero);
	for (dir = 0; dir < XTAP_DIRS && !ret; dir++)
		ret = xtap_rate_state_reset(dp, port_id, dir);
	free(zero);
	return ret;
}

/* The hint's index, as bpf/port.h takes it (XTAP_PORT_HINTS is a power of two). */
static __u32 xtap_port_hint_of(__u32 ifindex)
{
	return ifindex & (XTAP_PORT_HINTS - 1);
}

int xtap_port_hint_set(const struct xtap_datapath *dp, __u32 ifindex, __u32 slot)
{
	__u32 h = xtap_port_hint_of(ifindex), v = slot + 1, cur;
	int fd = xtap_map_fd(dp, XTAP_MAP_PORT_HINT);

	if (!bpf_map_lookup_elem(fd, &h, &cur) && cur == v)
		return 0;
	return xtap_map_update(fd, &h, &v);
}

int xtap_port_hint_clear(const struct xtap_datapath *dp, __u32 ifindex, __u32 slot)
{
	__u32 h = xtap_port_hint_of(ifindex), none = 0, cur;
	int fd = xtap_map_fd(dp, XTAP_MAP_PORT_HINT);

	if (bpf_map_lookup_elem(fd, &h, &cur) || cur != slot + 1)
		return 0;
	return xtap_map_update(fd, &h, &none);
}
