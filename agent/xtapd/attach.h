/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Attaching xtap's programs to a device, so that they stay attached when
 * the agent exits: XDP through libxdp (its multi-program dispatcher where
 * the kernel allows, one program otherwise), tc through tcx links pinned in
 * bpffs (clsact + cls_bpf on kernels without tcx).
 * Attaching again is idempotent: programs already in place are kept, older
 * builds of them are replaced.
 */
#ifndef XTAP_ATTACH_H
#define XTAP_ATTACH_H

#include "datapath.h"
#include "policy.h"

enum xtap_role {
	XTAP_ROLE_VM,       /* a VM's tap: from_vm XDP, from_vm tc ingress, to_vm tc egress */
	XTAP_ROLE_UPLINK,   /* an uplink: from_uplink XDP, from_uplink tc ingress */
};

struct xtap_attach_state {
	char xdp[24];       /* "native", "native-dispatcher", "none" */
	char tc[16];        /* "tcx", "clsact", "none" */
	int had_programs;   /* xtap_attach: the device had some of ours before (undo must not detach them) */
};

int xtap_attach(const struct xtap_datapath *dp, int ifindex, const char *ifname,
		enum xtap_role role, struct xtap_attach_state *st, struct xtap_err *err);
/* Removes what xtap_attach put on the device (nothing else). */
int xtap_detach(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		struct xtap_err *err);
/* Detaches and unpins the device's tc links (a device that is gone: the pins of its dead links). */
void xtap_unpin_links(const struct xtap_datapath *dp, int ifindex, enum xtap_role role);
/* What is attached now, without changing anything. */
void xtap_attach_query(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		       struct xtap_attach_state *st);

#endif /* XTAP_ATTACH_H */
