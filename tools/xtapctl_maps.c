// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only views built from the pinned maps alone, for when xtapd is not
 * running: the datapath keeps working then, and an operator still needs to
 * see it. Same JSON shapes as the agent's replies (docs/api.md).
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "model.h"
#include "xtapctl_maps.h"

static int open_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static json_object *port_stats_json(int fd, __u32 port_id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xtap_port_stats *v = calloc(ncpu, sizeof(*v));
	json_object *o;

	if (!v || bpf_map_lookup_elem(fd, &port_id, v)) {
		free(v);
		return json_object_new_object();
	}
	o = xtap_port_stats_to_json(v, ncpu);
	free(v);
	return o;
}

static const char *port_name(__u32 ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

/* Calls fn for every port in xtap_ports; returns -errno when the maps are not there. */
static int each_port(const char *pin_dir, void (*fn)(__u32 ifindex, const struct xtap_port *p, void *ctx),
		     void *ctx)
{
	int fd = open_map(pin_dir, "xtap_ports");
	__u32 key, next, *cur = NULL;
	struct xtap_port p;

	if (fd < 0)
		return -errno;
	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		if (!bpf_map_lookup_elem(fd, &next, &p))
			fn(next, &p, ctx);
		key = next;
		cur = &key;
	}
	close(fd);
	return 0;
}

struct stats_ctx {
	json_object *out;
	const char *only;
	int stats_fd;
	int ct_count_fd;   /* -1 with maps of a build before conntrack */
};

static void add_stats(__u32 ifindex, const struct xtap_port *p, void *ctx)
{
	struct stats_ctx *c = ctx;
	char name[IF_NAMESIZE];

	struct xtap_ct_count flows = {};
	json_object *st;

	port_name(ifindex, name);
	if (c->only && strcmp(c->only, name))
		return;
	st = port_stats_json(c->stats_fd, p->port_id);
	if (c->ct_count_fd >= 0)
		bpf_map_lookup_elem(c->ct_count_fd, &p->port_id, &flows);
	json_object_object_add(st, "tracked_flows", json_object_new_int64(flows.flows));
	json_object_object_add(c->out, name, st);
}

json_object *xtapctl_maps_stats(const char *pin_dir, const char *port)
{
	struct stats_ctx c = { .out = json_object_new_object(), .only = port };

	c.stats_fd = open_map(pin_dir, "xtap_port_stats");
	c.ct_count_fd = open_map(pin_dir, "xtap_ct_count");
	if (c.stats_fd < 0 || each_port(pin_dir, add_stats, &c)) {
		json_object_put(c.out);
		c.out = NULL;
	}
	if (c.stats_fd >= 0)
		close(c.stats_fd);
	if (c.ct_count_fd >= 0)
		close(c.ct_count_fd);
	return c.out;
}

struct list_ctx {
	json_object *out;
	int sets_fd;
};

static void add_port(__u32 ifindex, const struct xtap_port *p, void *ctx)
{
	struct list_ctx *c = ctx;
	json_object *o = json_object_new_object(), *addrs = json_object_new_array(), *st;
	struct xtap_addr_set *set = malloc(sizeof(*set));
	char name[IF_NAMESIZE], buf[64];
	__u32 i;

	json_object_object_add(o, "name", json_object_new_string(port_name(ifindex, name)));
	json_object_object_add(o, "port_id", json_object_new_int64(p->port_id));
	json_object_object_add(o, "segment", json_object_new_int64(p->segment_id));
	xtap_format_mac(p->mac, buf, sizeof(buf));
	json_object_object_add(o, "mac", json_object_new_string(buf));
	json_object_object_add(o, "mtu", json_object_new_int(p->mtu));
	/* Entry 0 is the EUI-64 link-local the agent adds by itself. */
	if (set && !bpf_map_lookup_elem(c->sets_fd, &p->addr_set, set))
		for (i = 1; i < set->count && i < 2 * XTAP_MAX_PORT_ADDRS; i++) {
			struct xtap_prefix pfx = { .family = set->addrs[i].family,
						   .prefixlen = set->addrs[i].prefixlen };

			memcpy(pfx.addr, set->addrs[i].addr, 16);
			xtap_format_prefix(&pfx, buf, sizeof(buf));
			json_object_array_add(addrs, json_object_new_string(buf));
		}
	free(set);
	json_object_object_add(o, "addrs", addrs);
	st = json_object_new_object();
	json_object_object_add(st, "ifindex", json_object_new_int(ifindex));
	json_object_object_add(st, "state", json_object_new_string("agent down"));
	json_object_object_add(o, "status", st);
	json_object_array_add(c->out, o);
}

json_object *xtapctl_maps_port_list(const char *pin_dir)
{
	struct list_ctx c = { .out = json_object_new_array() };

	c.sets_fd = open_map(pin_dir, "xtap_addr_sets");
	if (c.sets_fd < 0 || each_port(pin_dir, add_port, &c)) {
		json_object_put(c.out);
		c.out = NULL;
	}
	if (c.sets_fd >= 0)
		close(c.sets_fd);
	return c.out;
}

json_object *xtapctl_maps_fdb(const char *pin_dir)
{
	int fd = open_map(pin_dir, "xtap_fdb");
	struct xtap_fdb_key k, next, *cur = NULL;
	struct xtap_fdb_entry e;
	json_object *arr;
	char mac[24], name[IF_NAMESIZE];

	if (fd < 0)
		return NULL;
	arr = json_object_new_array();
	while (bpf_map_get_next_key(fd, cur, &next) == 0) {
		json_object *o;

		k = next;
		cur = &k;
		if (bpf_map_lookup_elem(fd, &k, &e))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "segment", json_object_new_int64(k.segment_id));
		xtap_format_mac(k.mac, mac, sizeof(mac));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "port", json_object_new_string(
			e.ifindex == XTAP_FDB_HOST ? "host" : port_name(e.ifindex, name)));
		json_object_object_add(o, "ifindex", json_object_new_int(e.ifindex));
		json_object_array_add(arr, o);
	}
	close(fd);
	return arr;
}
