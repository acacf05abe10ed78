// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "log.h"
#include "from_vm.skel.h"
#include "to_vm.skel.h"
#include "uplink.skel.h"
#include "from_vm_trace.skel.h"
#include "to_vm_trace.skel.h"

static const char *const map_names[XTAP_MAP_COUNT] = {
	[XTAP_MAP_PORTS]        = "xtap_ports",
	[XTAP_MAP_PORT_STATS]   = "xtap_port_stats",
	[XTAP_MAP_PORT_BY_ID]   = "xtap_port_by_id",
	[XTAP_MAP_PORT_HINT]    = "xtap_port_hint",
	[XTAP_MAP_ADDR4]        = "xtap_addr4",
	[XTAP_MAP_ADDR6]        = "xtap_addr6",
	[XTAP_MAP_ADDR_SETS]    = "xtap_addr_sets",
	[XTAP_MAP_ACL4]         = "xtap_acl4",
	[XTAP_MAP_ACL6]         = "xtap_acl6",
	[XTAP_MAP_ACL_RULES]    = "xtap_acl_rules",
	[XTAP_MAP_ACL_HITS]     = "xtap_acl_hits",
	[XTAP_MAP_RATE_STATE]   = "xtap_rate_state",
	[XTAP_MAP_RATE_CREDIT]  = "xtap_rate_credit",
	[XTAP_MAP_SEGMENTS]     = "xtap_segments",
	[XTAP_MAP_FDB]          = "xtap_fdb",
	[XTAP_MAP_REDIRECT]     = "xtap_redirect",
	[XTAP_MAP_DELIVER]      = "xtap_deliver",
	[XTAP_MAP_FLOOD]        = "xtap_flood",
	[XTAP_MAP_SEG_PORTS]    = "xtap_seg_ports",
	[XTAP_MAP_UPLINKS]      = "xtap_uplinks",
	[XTAP_MAP_UPLINK_STATS] = "xtap_upl_stats",
	[XTAP_MAP_UNDERLAY]     = "xtap_underlay",
	[XTAP_MAP_VNI]          = "xtap_vni",
	[XTAP_MAP_SEG_VTEPS]    = "xtap_seg_vteps",
	[XTAP_MAP_REMOTE_FDB]   = "xtap_remote_fdb",
	[XTAP_MAP_OVL_STATS]    = "xtap_ovl_stats",
	[XTAP_MAP_CT]           = "xtap_ct",
	[XTAP_MAP_CT_COUNT]     = "xtap_ct_count",
	[XTAP_MAP_CT_CONF]      = "xtap_ct_conf",
	[XTAP_MAP_OBS_CONF]     = "xtap_obs_conf",
	[XTAP_MAP_OBS_CPU]      = "xtap_obs_cpu",
	[XTAP_MAP_OBS_EVENTS]   = "xtap_obs_events",
};

const char *xtap_map_name(enum xtap_map_id id)
{
	return id < XTAP_MAP_COUNT ? map_names[id] : NULL;
}

static int is_shared_map(const char *name)
{
	int i;

	for (i = 0; i < XTAP_MAP_COUNT; i++)
		if (!strcmp(name, map_names[i]))
			return 1;
	return 0;
}

int xtap_map_is_shared_kname(const char *kname)
{
	int i;

	for (i = 0; i < XTAP_MAP_COUNT; i++)
		if (!strncmp(kname, map_names[i], BPF_OBJ_NAME_LEN - 1))
			return 1;
	return 0;
}

/* A map pinned by an earlier run must match what this build declares. */
static int pinned_map_compatible(const struct bpf_map *map, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map);
}

/*
 * Points obj's shared maps at the pinned ones, or at those an object loaded
 * before it created. (Done here rather than with LIBBPF_PIN_BY_NAME: libbpf
 * 1.1 refuses to reuse a pinned devmap, whose flags the kernel amends.)
 */
static int share_maps(struct xtap_datapath *dp, struct bpf_object *obj,
		      struct bpf_object *const *earlier, int n_earlier)
{
	char path[PATH_MAX + 32];
	struct bpf_map *map;
	int i, fd, err;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		struct bpf_map *prev = NULL;

		if (!is_shared_map(name))
			continue;
		for (i = 0; i < n_earlier && !prev; i++)
			prev = bpf_object__find_map_by_name(earlier[i], name);
		if (prev) {
			err = bpf_map__reuse_fd(map, bpf_map__fd(prev));
			if (err)
				return err;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!pinned_map_compatible(map, fd)) {
			/*
			 * An upgrade changed its layout: a new map replaces it and
			 * reconcile rewrites the policy from the state file; programs
			 * still using the old one are replaced with the new build's.
			 */
			xtap_log(XTAP_LOG_WARN, "pinned map %s has another build's layout: replacing it "
				 "(the state file's policy is written into the new one; counters restart from 0)", path);
			close(fd);
			if (unlink(path)) {
				err = -errno;
				xtap_log(XTAP_LOG_ERR, "removing %s: %s (remove it by hand, or run xtapctl teardown "
					 "with the build that made it)", path, strerror(-err));
				return err;
			}
			continue;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

static int pin_maps(struct xtap_datapath *dp, struct bpf_object *obj)
{
	char path[PATH_MAX + 32];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (!is_shared_map(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, name);
		if (!access(path, F_OK))
			continue;
		err = bpf_map__pin(map, path);
		if (err) {
			xtap_log(XTAP_LOG_ERR, "pinning %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

#define XTAP_LOAD_SKEL(dp, field, name, earlier, n_earlier)                              \
	({                                                                               \
		int __err = 0;                                                           \
		(dp)->field = name##_bpf__open();                                        \
		if (!(dp)->field)                                                        \
			__err = -errno;                                                  \
		if (!__err)                                                              \
			__err = share_maps(dp, (dp)->field->obj, earlier, n_earlier);    \
		if (!__err)                                                              \
			__err = name##_bpf__load((dp)->field);                          \
		if (!__err)                                                              \
			__err = pin_maps(dp, (dp)->field->obj);                          \
		if (__err)                                                               \
			xtap_log(XTAP_LOG_ERR, "loading BPF object %s failed: %s",      \
				 #name, strerror(-__err));                               \
		__err;                                                                   \
	})

int xtap_datapath_load(struct xtap_datapath *dp, const char *pin_dir)
{
	struct bpf_object *loaded[2] = { NULL, NULL };
	int err;

	memset(dp, 0, sizeof(*dp));
	if (strlen(pin_dir) >= sizeof(dp->pin_dir))
		return -ENAMETOOLONG;
	strcpy(dp->pin_dir, pin_dir);
	if (access(pin_dir, W_OK)) {
		err = -errno;
		xtap_log(XTAP_LOG_ERR, "pin directory %s: %s (is bpffs mounted there?)",
			 pin_dir, strerror(errno));
		return err;
	}
	dp->hit_slots = calloc(1, sizeof(*dp->hit_slots));
	if (!dp->hit_slots)
		return -ENOMEM;
	err = XTAP_LOAD_SKEL(dp, from_vm, from_vm, loaded, 0);
	if (!err) {
		loaded[0] = dp->from_vm->obj;
		err = XTAP_LOAD_SKEL(dp, to_vm, to_vm, loaded, 1);
	}
	if (!err) {
		loaded[1] = dp->to_vm->obj;
		err = XTAP_LOAD_SKEL(dp, uplink, uplink, loaded, 2);
	}
	if (err)
		xtap_datapath_close(dp);
	return err;
}

void xtap_datapath_close(struct xtap_datapath *dp)
{
	bpf_object__close(dp->trace[0]);
	bpf_object__close(dp->trace[1]);
	dp->trace[0] = dp->trace[1] = NULL;
	uplink_bpf__destroy(dp->uplink);
	to_vm_bpf__destroy(dp->to_vm);
	from_vm_bpf__destroy(dp->from_vm);
	dp->uplink = NULL;
	dp->to_vm = NULL;
	dp->from_vm = NULL;
	free(dp->hit_slots);
	dp->hit_slots = NULL;
}

int xtap_datapath_unpin(const char *pin_dir)
{
	char path[PATH_MAX + 32];
	int i, err = 0;

	for (i = 0; i < XTAP_MAP_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, map_names[i]);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	return err;
}

int xtap_map_fd(const struct xtap_datapath *dp, enum xtap_map_id id)
{
	struct bpf_map *m;

	if (id >= XTAP_MAP_COUNT)
		return -EINVAL;
	/* Maps are shared by name; the object that declares them all is from_vm, but uplink stats. */
	if (id == XTAP_MAP_UPLINK_STATS)
		m = dp->uplink->maps.xtap_upl_stats;
	else
		m = bpf_object__find_map_by_name(dp->from_vm->obj, map_names[id]);
	return m ? bpf_map__fd(m) : -ENOENT;
}

int xtap_prog_fd(const struct xtap_datapath *dp, enum xtap_prog_id id)
{
	switch (id) {
	case XTAP_PROG_FROM_VM_XDP:      return bpf_program__fd(dp->from_vm->progs.xtap_from_vm);
	case XTAP_PROG_FROM_VM_TC:       return bpf_program__fd(dp->from_vm->progs.xtap_from_vm_tc);
	case XTAP_PROG_TO_VM_DEVMAP:     return bpf_program__fd(dp->to_vm->progs.xtap_to_vm);
	case XTAP_PROG_TO_VM_TC:         return bpf_program__fd(dp->to_vm->progs.xtap_to_vm_tc);
	case XTAP_PROG_FROM_UPLINK_XDP:  return bpf_program__fd(dp->uplink->progs.xtap_from_uplink);
	case XTAP_PROG_FROM_UPLINK_TC:   return bpf_program__fd(dp->uplink->progs.xtap_from_uplink_tc);
	case XTAP_PROG_TO_UPLINK_DEVMAP: return bpf_program__fd(dp->uplink->progs.xtap_to_uplink);
	default:                         return -EINVAL;
	}
}

/*
 * A second copy of the object holding program id, every map the loaded
 * one's, that program the only one to load. A trace copy is the object's
 * trace variant (bpf/trace.h): its maps are found by name, and those the
 * live object lacks (xtap_trace) and its internal ones are its own.
 */
static struct bpf_object *open_copy(const struct xtap_datapath *dp, enum xtap_prog_id id, int trace)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	const struct bpf_object *loaded;
	const struct bpf_program *want;
	struct bpf_object *obj;
	struct bpf_program *p;
	struct bpf_map *m, *lm = NULL;
	const void *elf;
	size_t sz;
	int err = 0;

	switch (id) {
	case XTAP_PROG_FROM_VM_XDP:
		loaded = dp->from_vm->obj;
		want = dp->from_vm->progs.xtap_from_vm;
		elf = trace ? from_vm_trace_bpf__elf_bytes(&sz) : from_vm_bpf__elf_bytes(&sz);
		break;
	case XTAP_PROG_FROM_UPLINK_XDP:
		loaded = dp->uplink->obj;
		want = dp->uplink->progs.xtap_from_uplink;
		elf = uplink_bpf__elf_bytes(&sz);
		break;
	case XTAP_PROG_TO_VM_TC:
		loaded = dp->to_vm->obj;
		want = dp->to_vm->progs.xtap_to_vm_tc;
		elf = trace ? to_vm_trace_bpf__elf_bytes(&sz) : to_vm_bpf__elf_bytes(&sz);
		break;
	default:
		errno = EINVAL;
		return NULL;
	}
	/* The skeleton's object name, so that internal maps (.rodata, .bss) get the same names. */
	opts.object_name = bpf_object__name(loaded);
	obj = bpf_object__open_mem(elf, sz, &opts);
	if (libbpf_get_error(obj)) {
		err = libbpf_get_error(obj);
		errno = -err;
		return NULL;
	}
	/* Same ELF, same open options: the maps come in the same order (a trace variant: by name). */
	bpf_object__for_each_map(m, obj) {
		if (trace) {
			lm = bpf_object__find_map_by_name(loaded, bpf_map__name(m));
			if (!lm || bpf_map__is_internal(m))
				continue;
		} else {
			lm = bpf_object__next_map(loaded, lm);
			if (!lm || strcmp(bpf_map__name(m), bpf_map__name(lm))) {
				err = -EINVAL;
				break;
			}
		}
		err = bpf_map__reuse_fd(m, bpf_map__fd(lm));
		if (err)
			break;
	}
	bpf_object__for_each_program(p, obj)
		if (!err)
			err = bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), bpf_program__name(want)));
	if (err) {
		bpf_object__close(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

struct bpf_object *xtap_datapath_open_xdp(const struct xtap_datapath *dp, enum xtap_prog_id id)
{
	if (id != XTAP_PROG_FROM_VM_XDP && id != XTAP_PROG_FROM_UPLINK_XDP) {
		errno = EINVAL;
		return NULL;
	}
	return open_copy(dp, id, 0);
}

int xtap_datapath_trace_map(const struct xtap_datapath *dp, int dir)
{
	struct bpf_map *m = dp->trace[dir & 1] ? bpf_object__find_map_by_name(dp->trace[dir & 1], "xtap_trace") : NULL;

	return m ? bpf_map__fd(m) : -ENOENT;
}

int xtap_datapath_trace_prog(struct xtap_datapath *dp, int dir)
{
	enum xtap_prog_id id = dir == XTAP_DIR_FROM_VM ? XTAP_PROG_FROM_VM_XDP : XTAP_PROG_TO_VM_TC;
	struct bpf_object *obj = dp->trace[dir & 1];
	struct bpf_program *p;
	int err;

	if (!obj) {
		obj = open_copy(dp, id, 1);
		if (!obj)
			return -errno;
		err = bpf_object__load(obj);
		if (err) {
			bpf_object__close(obj);
			return err;
		}
		dp->trace[dir & 1] = obj;
	}
	bpf_object__for_each_program(p, obj)
		if (bpf_program__autoload(p))
			return bpf_program__fd(p);
	return -ENOENT;
}
