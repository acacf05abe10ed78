// SPDX-License-Identifier: GPL-2.0
/*
 * Segments and forwarding (bpf/forward.h): xtap_segments, xtap_uplinks, the
 * FDB, the redirect devmap, each segment's flood devmap and xtap_seg_ports,
 * and a port's membership in its segment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "map_txn.h"
#include "maps.h"

typedef int (*key_pred)(const void *key, const void *ctx);

/*
 * Deletes every key of a map the predicate selects. Keys are collected
 * first: deleting while walking would restart the walk.
 */
static int delete_keys_if(int fd, size_t key_size, key_pred pred, const void *ctx)
{
	size_t cap = 64, n = 0, i;
	char *keys = malloc(cap * key_size);
	char prev[64], next[64];
	int have_prev = 0, err = 0;

	if (!keys)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, have_prev ? prev : NULL, next) == 0) {
		if (pred(next, ctx)) {
			if (n == cap) {
				char *grown = realloc(keys, 2 * cap * key_size);

				if (!grown) {
					err = -ENOMEM;
					break;
				}
				keys = grown;
				cap *= 2;
			}
			memcpy(keys + n++ * key_size, next, key_size);
		}
		memcpy(prev, next, key_size);
		have_prev = 1;
	}
	for (i = 0; i < n && !err; i++)
		err = xtap_map_delete(fd, keys + i * key_size);
	free(keys);
	return err;
}

struct u32_at {
	size_t off;
	__u32 value;
};

static int key_has_u32_at(const void *key, const void *ctx)
{
	const struct u32_at *m = ctx;
	__u32 v;

	memcpy(&v, (const char *)key + m->off, sizeof(v));
	return v == m->value;
}

static int flood_map_fd(const struct xtap_datapath *dp, __u32 segment_id)
{
	__u32 inner_id;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_FLOOD), &segment_id, &inner_id))
		return -errno;
	return bpf_map_get_fd_by_id(inner_id);
}

int xtap_devmap_add(int fd, __u32 ifindex, int prog_fd)
{
	struct bpf_devmap_val v = { .ifindex = ifindex, .bpf_prog.fd = prog_fd };

	return xtap_map_update(fd, &ifindex, &v);
}

static int segment_write(const struct xtap_datapath *dp, __u32 segment_id,
		       const struct xtap_segment *seg, struct xtap_err *err)
{
	int seg_fd = xtap_map_fd(dp, XTAP_MAP_SEGMENTS), upl_fd = xtap_map_fd(dp, XTAP_MAP_UPLINKS);
	struct xtap_uplink_vlan_key uk = { .ifindex = seg->uplink_ifindex, .vlan = seg->vlan };
	struct xtap_segment old;
	int has_old, flood_fd, ret;
	__u32 other;

	if (seg->vlan > 4094)
		return xtap_fail(err, -EINVAL, "segment %u: VLAN %u outside 0-4094", segment_id, seg->vlan);
	if (seg->vlan && !seg->uplink_ifindex)
		return xtap_fail(err, -EINVAL, "segment %u: a VLAN needs an uplink", segment_id);
	if (seg->flags & ~XTAP_SEGMENT_F_FLOOD_HOST)
		return xtap_fail(err, -EINVAL, "segment %u: unknown flags 0x%x", segment_id, seg->flags);
	if (seg->uplink_ifindex && !bpf_map_lookup_elem(upl_fd, &uk, &other) && other != segment_id)
		return xtap_fail(err, -EEXIST, "segment %u: uplink ifindex %u VLAN %u already carries segment %u",
			    segment_id, seg->uplink_ifindex, seg->vlan, other);
	has_old = !bpf_map_lookup_elem(seg_fd, &segment_id, &old);

	flood_fd = flood_map_fd(dp, segment_id);
	if (flood_fd < 0) {
		LIBBPF_OPTS(bpf_map_create_opts, o);
		int outer = xtap_map_fd(dp, XTAP_MAP_FLOOD);

		flood_fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, "xtap_flood_seg", sizeof(__u32),
					  sizeof(struct bpf_devmap_val), XTAP_MAX_SEGMENT_PORTS + 1, &o);
		if (flood_fd < 0)
			return xtap_map_fail(err, "xtap_flood (inner devmap)", -errno);
		ret = xtap_map_update(outer, &segment_id, &flood_fd);
		if (ret) {
			ret = xtap_map_fail(err, "xtap_flood", ret);
			close(flood_fd);
			return ret;
		}
	}

	if (has_old && old.uplink_ifindex &&
	    (old.uplink_ifindex != seg->uplink_ifindex || old.vlan != seg->vlan)) {
		struct xtap_uplink_vlan_key ok = { .ifindex = old.uplink_ifindex, .vlan = old.vlan };

		ret = xtap_map_delete(upl_fd, &ok);
		if (!ret && old.uplink_ifindex != seg->uplink_ifindex)
			ret = xtap_map_delete(flood_fd, &old.uplink_ifindex);
		if (ret) {
			close(flood_fd);
			return xtap_map_fail(err, "xtap_uplinks", ret);
		}
	}
	if (seg->uplink_ifindex) {
		int prog = xtap_prog_fd(dp, XTAP_PROG_TO_UPLINK_DEVMAP);

		ret = xtap_devmap_add(xtap_map_fd(dp, XTAP_MAP_REDIRECT), seg->uplink_ifindex, prog);
		if (!ret)
			ret = xtap_devmap_add(flood_fd, seg->uplink_ifindex, prog);
		if (!ret)
			ret = xtap_map_update(upl_fd, &uk, &segment_id);
		if (ret) {
			close(flood_fd);
			return xtap_fail(err, ret, "segment %u: adding uplink ifindex %u failed: %s (is it an Ethernet device that is up?)",
				    segment_id, seg->uplink_ifindex, strerror(-ret));
		}
	}
	close(flood_fd);
	if (has_old && old.vni && old.vni != seg->vni) {
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_VNI), &old.vni);
		if (ret)
			return xtap_map_fail(err, "xtap_vni", ret);
	}
	if (seg->vni) {
		ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_VNI), &seg->vni, &segment_id);
		if (ret)
			return xtap_map_fail(err, "xtap_vni", ret);
	}
	ret = xtap_map_update(seg_fd, &segment_id, seg);
	return ret ? xtap_map_fail(err, "xtap_segments", ret) : 0;
}

static int segment_delete(const struct xtap_datapath *dp, __u32 segment_id, struct xtap_err *err)
{
	struct u32_at in_segment = { .off = 0, .value = segment_id };
	struct xtap_segment_ports sp;
	struct xtap_segment seg;
	int ret = 0;

	if (bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &segment_id, &seg))
		return xtap_fail(err, -ENOENT, "segment %u does not exist", segment_id);
	if (!bpf_map_lookup_elem(xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), &segment_id, &sp) && sp.count)
		return xtap_fail(err, -EBUSY, "segment %u still has %u ports: delete them first", segment_id,
			    sp.count);
	if (seg.uplink_ifindex) {
		struct xtap_uplink_vlan_key uk = { .ifindex = seg.uplink_ifindex, .vlan = seg.vlan };

		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_UPLINKS), &uk);
	}
	/* Host MACs of the segment. */
	if (!ret)
		ret = delete_keys_if(xtap_map_fd(dp, XTAP_MAP_FDB), sizeof(struct xtap_fdb_key), key_has_u32_at,
				     &in_segment);
	if (!ret && seg.vni)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_VNI), &seg.vni);
	if (!ret)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), &segment_id);
	if (!ret)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_FLOOD), &segment_id);
	if (!ret)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_SEGMENTS), &segment_id);
	if (ret)
		return xtap_fail(err, ret, "segment %u: removing it from the maps failed: %s", segment_id,
				 strerror(-ret));
	return 0;
}

static int seg_ports_remove(const struct xtap_datapath *dp, __u32 segment_id, __u32 ifindex)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_SEG_PORTS);
	struct xtap_segment_ports sp;
	__u32 i;

	if (bpf_map_lookup_elem(fd, &segment_id, &sp))
		return 0;
	for (i = 0; i < sp.count && sp.ifindex[i] != ifindex; i++)
		;
	if (i == sp.count)
		return 0;
	sp.ifindex[i] = sp.ifindex[--sp.count];
	return xtap_map_update(fd, &segment_id, &sp);
}

int xtap_membership_remove(const struct xtap_datapath *dp, const struct xtap_port *p, struct xtap_err *err)
{
	struct xtap_fdb_key fk = { .segment_id = p->segment_id };
	int flood_fd = flood_map_fd(dp, p->segment_id), ret;

	memcpy(fk.mac, p->mac, 6);
	ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_FDB), &fk);
	if (!ret && flood_fd >= 0)
		ret = xtap_map_delete(flood_fd, &p->ifindex);
	if (flood_fd >= 0)
		close(flood_fd);
	if (!ret)
		ret = seg_ports_remove(dp, p->segment_id, p->ifindex);
	if (!ret)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_DELIVER), &p->ifindex);
	/* Where builds before xtap_deliver put the tap (a pinned map kept across an upgrade). */
	if (!ret)
		ret = xtap_map_delete(xtap_map_fd(dp, XTAP_MAP_REDIRECT), &p->ifindex);
	if (ret)
		return xtap_fail(err, ret, "port %u: removing it from segment %u failed: %s", p->port_id,
				 p->segment_id, strerror(-ret));
	return 0;
}

int xtap_membership_add(const struct xtap_datapath *dp, const struct xtap_port *p, struct xtap_err *err)
{
	int sp_fd = xtap_map_fd(dp, XTAP_MAP_SEG_PORTS), prog = xtap_prog_fd(dp, XTAP_PROG_TO_VM_DEVMAP);
	struct xtap_fdb_key fk = { .segment_id = p->segment_id };
	struct xtap_fdb_entry fe = { .ifindex = p->ifindex, .port_id = p->port_id, .mtu = p->mtu };
	struct xtap_segment_ports sp = {};
	int flood_fd, ret;
	__u32 i;

	/* Unicast: no egress program, the redirecting program applies the to-VM policy. */
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_DELIVER), &p->ifindex, &p->ifindex);
	if (ret)
		return xtap_fail(err, ret, "port %u: adding ifindex %u to xtap_deliver failed: %s",
			    p->port_id, p->ifindex, strerror(-ret));
	flood_fd = flood_map_fd(dp, p->segment_id);
	if (flood_fd < 0)
		return xtap_fail(err, flood_fd, "segment %u has no flood map: write the segment first",
			    p->segment_id);
	ret = xtap_devmap_add(flood_fd, p->ifindex, prog);
	close(flood_fd);
	if (ret)
		return xtap_map_fail(err, "xtap_flood (inner devmap)", ret);

	bpf_map_lookup_elem(sp_fd, &p->segment_id, &sp);
	for (i = 0; i < sp.count && sp.ifindex[i] != p->ifindex; i++)
		;
	if (i == sp.count) {
		if (sp.count >= XTAP_MAX_SEGMENT_PORTS)
			return xtap_fail(err, -E2BIG, "segment %u already has %d ports", p->segment_id,
				    XTAP_MAX_SEGMENT_PORTS);
		sp.ifindex[sp.count++] = p->ifindex;
		ret = xtap_map_update(sp_fd, &p->segment_id, &sp);
		if (ret)
			return xtap_map_fail(err, "xtap_seg_ports", ret);
	}
	memcpy(fk.mac, p->mac, 6);
	ret = xtap_map_update(xtap_map_fd(dp, XTAP_MAP_FDB), &fk, &fe);
	return ret ? xtap_map_fail(err, "xtap_fdb", ret) : 0;
}

static int fdb_host_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6],
			int add, struct xtap_err *err)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_FDB);
	struct xtap_fdb_key k = { .segment_id = segment_id };
	struct xtap_fdb_entry e = { .ifindex = XTAP_FDB_HOST };
	int ret;

	memcpy(k.mac, mac, 6);
	if (!add) {
		if (bpf_map_lookup_elem(fd, &k, &e))
			return xtap_fail(err, -ENOENT, "segment %u has no host MAC entry for that MAC", segment_id);
		ret = xtap_map_delete(fd, &k);
		return ret ? xtap_map_fail(err, "xtap_fdb", ret) : 0;
	}
	if (!bpf_map_lookup_elem(fd, &k, &e) && e.ifindex != XTAP_FDB_HOST)
		return xtap_fail(err, -EEXIST, "that MAC belongs to a port in segment %u", segment_id);
	e.ifindex = XTAP_FDB_HOST;
	e.port_id = 0;
	ret = xtap_map_update(fd, &k, &e);
	return ret ? xtap_map_fail(err, "xtap_fdb", ret) : 0;
}

/* All or nothing on their own; inside a request, its undo takes them back too (map_txn.h). */
int xtap_segment_write(const struct xtap_datapath *dp, __u32 segment_id,
		       const struct xtap_segment *seg, struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = segment_write(dp, segment_id, seg, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}

int xtap_segment_delete(const struct xtap_datapath *dp, __u32 segment_id, struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = segment_delete(dp, segment_id, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}

int xtap_fdb_host_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6],
			int add, struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = fdb_host_write(dp, segment_id, mac, add, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}
