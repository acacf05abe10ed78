// SPDX-License-Identifier: GPL-2.0
/*
 * The overlay's maps (bpf/overlay.h): xtap_underlay, xtap_seg_vteps,
 * xtap_remote_fdb; the underlay in the redirect devmap. (xtap_vni is
 * written with the segment, maps_segment.c.)
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "map_txn.h"
#include "maps.h"

static int underlay_write(const struct xtap_datapath *dp, __u32 ifindex, __be32 vtep, int keep_old,
			  struct xtap_err *err)
{
	struct xtap_underlay u = { .ifindex = ifindex, .vtep = ifindex ? vtep : 0 }, old = {};
	int fd = xtap_map_fd(dp, XTAP_MAP_UNDERLAY), redirect = xtap_map_fd(dp, XTAP_MAP_REDIRECT);
	__u32 zero = 0;
	int ret = 0;

	bpf_map_lookup_elem(fd, &zero, &old);
	if (ifindex)
		ret = xtap_devmap_add(redirect, ifindex, xtap_prog_fd(dp, XTAP_PROG_TO_UPLINK_DEVMAP));
	if (ret)
		return xtap_fail(err, ret, "underlay ifindex %u: adding it to xtap_redirect failed: %s", ifindex,
				 strerror(-ret));
	ret = xtap_map_update(fd, &zero, &u);
	if (ret)
		return xtap_map_fail(err, "xtap_underlay", ret);
	if (old.ifindex && old.ifindex != ifindex && !keep_old) {
		ret = xtap_map_delete(redirect, &old.ifindex);
		if (ret)
			return xtap_map_fail(err, "xtap_redirect", ret);
	}
	return 0;
}

static int seg_vteps_write(const struct xtap_datapath *dp, __u32 segment_id, const __be32 *vteps, __u32 n,
			   struct xtap_err *err)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_SEG_VTEPS);
	struct xtap_segment_vteps v = { .count = n };
	int ret;

	if (n > XTAP_MAX_SEGMENT_VTEPS)
		return xtap_fail(err, -E2BIG, "segment %u: more than %d VTEPs", segment_id, XTAP_MAX_SEGMENT_VTEPS);
	if (!n) {
		ret = xtap_map_delete(fd, &segment_id);
		return ret ? xtap_map_fail(err, "xtap_seg_vteps", ret) : 0;
	}
	memcpy(v.vtep, vteps, n * sizeof(*vteps));
	ret = xtap_map_update(fd, &segment_id, &v);
	return ret ? xtap_map_fail(err, "xtap_seg_vteps", ret) : 0;
}

static int remote_mac_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6], __be32 vtep,
			    struct xtap_err *err)
{
	int fd = xtap_map_fd(dp, XTAP_MAP_REMOTE_FDB);
	struct xtap_fdb_key k = { .segment_id = segment_id };
	struct xtap_remote_mac r = { .vtep = vtep };
	int ret;

	memcpy(k.mac, mac, 6);
	ret = vtep ? xtap_map_update(fd, &k, &r) : xtap_map_delete(fd, &k);
	return ret ? xtap_map_fail(err, "xtap_remote_fdb", ret) : 0;
}

/* All or nothing on their own; inside a request, its undo takes them back too (map_txn.h). */
int xtap_underlay_write(const struct xtap_datapath *dp, __u32 ifindex, __be32 vtep, int keep_old,
			struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = underlay_write(dp, ifindex, vtep, keep_old, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}

int xtap_seg_vteps_write(const struct xtap_datapath *dp, __u32 segment_id, const __be32 *vteps, __u32 n,
			 struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = seg_vteps_write(dp, segment_id, vteps, n, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}

int xtap_remote_mac_write(const struct xtap_datapath *dp, __u32 segment_id, const __u8 mac[6], __be32 vtep,
			  struct xtap_err *err)
{
	int owner = xtap_map_txn_begin(), ret;

	ret = remote_mac_write(dp, segment_id, mac, vtep, err);
	xtap_map_txn_end(dp, owner, ret);
	return ret;
}
