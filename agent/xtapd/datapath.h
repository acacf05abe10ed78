/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loaded data plane: xtap's three BPF objects, their maps pinned by name
 * under one bpffs directory so every object (and bpftool) shares them.
 */
#ifndef XTAP_DATAPATH_H
#define XTAP_DATAPATH_H

#include <limits.h>
#include <linux/types.h>

#include "xtap_abi.h"
#include "xtap_ctl.h"

struct bpf_object;
struct from_vm_bpf;
struct to_vm_bpf;
struct uplink_bpf;


/*
 * Which slots of xtap_acl_hits the rules in the maps use: the map writer's
 * (agent/xtapd/maps_acl_hits.c) allocator, built from the maps when it is first needed.
 */
struct xtap_hit_slots {
	int built;
	__u32 next;       /* next-fit: a freed slot is the last to be handed out again */
	__u32 used;
	__u64 bits[XTAP_MAX_TOTAL_ACL_RULES / 64];
};

struct xtap_datapath {
	struct from_vm_bpf *from_vm;
	struct to_vm_bpf *to_vm;
	struct uplink_bpf *uplink;
	struct xtap_hit_slots *hit_slots;
	struct bpf_object *trace[XTAP_DIRS];   /* trace copies, loaded on the first trace (trace.c) */
	char pin_dir[PATH_MAX];
};

/* The maps, by what they hold; fds stay valid while the datapath is loaded. */
enum xtap_map_id {
	XTAP_MAP_PORTS,
	XTAP_MAP_PORT_STATS,
	XTAP_MAP_PORT_BY_ID,    /* port entries by slot, two per port id (bpf/port.h) */
	XTAP_MAP_PORT_HINT,     /* ifindex % XTAP_PORT_HINTS -> slot + 1 */
	XTAP_MAP_ADDR4,
	XTAP_MAP_ADDR6,
	XTAP_MAP_ADDR_SETS,
	XTAP_MAP_ACL4,
	XTAP_MAP_ACL6,
	XTAP_MAP_ACL_RULES,
	XTAP_MAP_ACL_HITS,
	XTAP_MAP_RATE_STATE,
	XTAP_MAP_RATE_CREDIT,   /* per-CPU leases of the limiters (bpf/ratelimit.h) */
	XTAP_MAP_SEGMENTS,
	XTAP_MAP_FDB,
	XTAP_MAP_REDIRECT,
	XTAP_MAP_DELIVER,       /* VM taps for unicast, no egress program (bpf/deliver.h) */
	XTAP_MAP_FLOOD,
	XTAP_MAP_SEG_PORTS,
	XTAP_MAP_UPLINKS,
	XTAP_MAP_UPLINK_STATS,
	XTAP_MAP_UNDERLAY,
	XTAP_MAP_VNI,
	XTAP_MAP_SEG_VTEPS,
	XTAP_MAP_REMOTE_FDB,
	XTAP_MAP_OVL_STATS,
	XTAP_MAP_CT,
	XTAP_MAP_CT_COUNT,
	XTAP_MAP_CT_CONF,
	XTAP_MAP_OBS_CONF,      /* monitor and capture (bpf/observe.h) */
	XTAP_MAP_OBS_CPU,
	XTAP_MAP_OBS_EVENTS,
	XTAP_MAP_COUNT,
};

/* The programs, by hook. */
enum xtap_prog_id {
	XTAP_PROG_FROM_VM_XDP,     /* XDP on a VM tap */
	XTAP_PROG_FROM_VM_TC,      /* tc ingress on a VM tap */
	XTAP_PROG_TO_VM_DEVMAP,    /* devmap egress for a VM tap */
	XTAP_PROG_TO_VM_TC,        /* tc egress on a VM tap */
	XTAP_PROG_FROM_UPLINK_XDP, /* XDP on an uplink */
	XTAP_PROG_FROM_UPLINK_TC,  /* tc ingress on an uplink */
	XTAP_PROG_TO_UPLINK_DEVMAP,/* devmap egress for an uplink */
	XTAP_PROG_COUNT,
};

/*
 * Loads the programs and creates (or reuses) the maps pinned in pin_dir,
 * which must be on a mounted bpffs. Returns 0 or a negative errno and
 * prints what failed to stderr.
 */
int xtap_datapath_load(struct xtap_datapath *dp, const char *pin_dir);
void xtap_datapath_close(struct xtap_datapath *dp);
/* Removes every map xtap pinned in pin_dir (the directory itself stays). */
int xtap_datapath_unpin(const char *pin_dir);

int xtap_map_fd(const struct xtap_datapath *dp, enum xtap_map_id id);
int xtap_prog_fd(const struct xtap_datapath *dp, enum xtap_prog_id id);
/*
 * A map the kernel names kname (cut to 15 characters) is one of the shared,
 * pinned maps; the others (xtap_scratch) belong to one load of an object.
 */
int xtap_map_is_shared_kname(const char *kname);
const char *xtap_map_name(enum xtap_map_id id);

/*
 * A second, not yet loaded copy of the object that holds XDP program id
 * (XTAP_PROG_FROM_VM_XDP or XTAP_PROG_FROM_UPLINK_XDP), every map of it the
 * loaded one's, that program the only one to load: for libxdp's dispatcher,
 * which must load the program itself as freplace (an XDP program loaded
 * already never becomes one). NULL with errno set on failure; close it with
 * bpf_object__close().
 */
struct bpf_object *xtap_datapath_open_xdp(const struct xtap_datapath *dp, enum xtap_prog_id id);

/*
 * The trace copy of direction dir's program (from VM: XDP; to VM: tc egress),
 * loaded on first use and kept: its fd, or a negative errno.
 */
int xtap_datapath_trace_prog(struct xtap_datapath *dp, int dir);
/* The trace copy's map xtap_trace (after xtap_datapath_trace_prog), where it records each stage. */
int xtap_datapath_trace_map(const struct xtap_datapath *dp, int dir);

#endif /* XTAP_DATAPATH_H */
