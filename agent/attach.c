// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "attach.h"
#include "netdev.h"

/* tcx arrived in 6.6; Debian's 6.1 uapi headers and libbpf 1.1 do not name it. */
#define XTAP_BPF_TCX_INGRESS  46
#define XTAP_BPF_TCX_EGRESS   47
#define XTAP_BPF_LINK_TYPE_TCX 11
/* The clsact filter xtap owns on kernels without tcx. */
#define XTAP_TC_HANDLE   0x7874
#define XTAP_TC_PRIO     1
/* Kernel program names are cut to 15 characters. */
#define PROG_NAME_CMP    15

static int prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static int same_prog_tag(int fd_a, __u32 id_b)
{
	struct bpf_prog_info a, b;
	int fd_b = bpf_prog_get_fd_by_id(id_b), same;

	if (fd_b < 0)
		return 0;
	same = !prog_info(fd_a, &a) && !prog_info(fd_b, &b) && !memcmp(a.tag, b.tag, sizeof(a.tag));
	close(fd_b);
	return same;
}

/* ---- XDP, through libxdp ---- */

/* Set once libxdp fell back to a single program here (no freplace: no dispatcher). */
static int dispatcher_unavailable;

static struct xdp_program *find_xdp_prog(struct xdp_multiprog *mp, const char *name)
{
	struct xdp_program *p;

	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		return p && !strncmp(xdp_program__name(p), name, PROG_NAME_CMP) ? p : NULL;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (!strncmp(xdp_program__name(p), name, PROG_NAME_CMP))
			return p;
	return NULL;
}

static struct xdp_multiprog *get_multiprog(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

	return libxdp_get_error(mp) ? NULL : mp;
}

static void xdp_mode_name(struct xdp_multiprog *mp, struct xtap_attach_state *st)
{
	snprintf(st->xdp, sizeof(st->xdp), "%s",
		 xdp_multiprog__is_legacy(mp) ? "native" : "native-dispatcher");
}

static int prog_name_is(__u32 id, const char *name)
{
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(id), same;

	if (fd < 0)
		return 0;
	same = !prog_info(fd, &info) && !strncmp(info.name, name, PROG_NAME_CMP);
	close(fd);
	return same;
}

/*
 * Without a dispatcher there is one XDP program per device, which one
 * rtnetlink request reports; libxdp's query dumps every link instead, which
 * costs O(links) per call on a host with thousands of taps.
 */
static int xdp_attach_single(int ifindex, const char *ifname, int prog_fd, const char *name,
			     struct xtap_attach_state *st, struct xtap_err *err)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	struct xtap_link l;
	int ret, old_fd = -1;
	__u32 flags = XDP_FLAGS_DRV_MODE;

	ret = xtap_link_get_index(ifindex, &l, err);
	if (ret)
		return ret;
	snprintf(st->xdp, sizeof(st->xdp), "native");
	if (l.xdp_prog_id && same_prog_tag(prog_fd, l.xdp_prog_id))
		return 0;
	if (l.xdp_prog_id && !prog_name_is(l.xdp_prog_id, name))
		return xtap_fail(err, -EBUSY, "%s: another XDP program (id %u) is attached: detach it first",
			    ifname, l.xdp_prog_id);
	if (l.xdp_prog_id) {
		/* An older build of ours: swap it in one step, no frame unfiltered. */
		old_fd = bpf_prog_get_fd_by_id(l.xdp_prog_id);
		o.old_prog_fd = old_fd;
		flags |= XDP_FLAGS_REPLACE;
	} else {
		flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	}
	ret = bpf_xdp_attach(ifindex, prog_fd, flags, &o);
	if (old_fd >= 0)
		close(old_fd);
	if (ret)
		return xtap_fail(err, ret, "%s: attaching XDP (native mode) failed: %s", ifname, strerror(-ret));
	return 0;
}

static int xdp_attach(int ifindex, const char *ifname, int prog_fd, const char *name,
		      struct xtap_attach_state *st, struct xtap_err *err)
{
	struct xdp_multiprog *mp;
	struct xdp_program *old, *prog;
	int ret;

	if (dispatcher_unavailable)
		return xdp_attach_single(ifindex, ifname, prog_fd, name, st, err);
	mp = get_multiprog(ifindex);
	old = mp ? find_xdp_prog(mp, name) : NULL;

	if (old && same_prog_tag(prog_fd, xdp_program__id(old))) {
		xdp_mode_name(mp, st);
		xdp_multiprog__close(mp);
		return 0;
	}
	if (old && xdp_multiprog__is_legacy(mp)) {
		/* An older build of ours: swap it in one step, no frame unfiltered. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = xdp_program__fd(old));

		ret = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &o);
		xdp_multiprog__close(mp);
		if (ret)
			return xtap_fail(err, ret, "%s: replacing the XDP program failed: %s", ifname,
				    strerror(-ret));
		snprintf(st->xdp, sizeof(st->xdp), "native");
		return 0;
	}
	if (old)
		xdp_program__detach(old, ifindex, XDP_MODE_NATIVE, 0);
	else if (mp && xdp_multiprog__is_legacy(mp) && xdp_multiprog__main_prog(mp)) {
		const char *other = xdp_program__name(xdp_multiprog__main_prog(mp));

		xdp_multiprog__close(mp);
		return xtap_fail(err, -EBUSY,
			    "%s: XDP program %s (not xtap's) is attached without libxdp's dispatcher: detach it first",
			    ifname, other);
	}
	xdp_multiprog__close(mp);

	prog = xdp_program__from_fd(prog_fd);
	ret = libxdp_get_error(prog);
	if (ret)
		return xtap_fail(err, ret, "%s: libxdp cannot use the XDP program: %s", ifname, strerror(-ret));
	ret = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
	xdp_program__close(prog);
	if (ret)
		return xtap_fail(err, ret, "%s: attaching XDP (native mode) failed: %s", ifname, strerror(-ret));
	mp = get_multiprog(ifindex);
	if (mp) {
		xdp_mode_name(mp, st);
		dispatcher_unavailable = xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
	return 0;
}

static void xdp_detach(int ifindex, const char *name)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;

	if (dispatcher_unavailable) {
		struct xtap_link l;

		if (!xtap_link_get_index(ifindex, &l, NULL) && l.xdp_prog_id &&
		    prog_name_is(l.xdp_prog_id, name)) {
			LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = bpf_prog_get_fd_by_id(l.xdp_prog_id));

			bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, &o);
			close(o.old_prog_fd);
		}
		return;
	}
	mp = get_multiprog(ifindex);
	p = mp ? find_xdp_prog(mp, name) : NULL;

	if (p && xdp_multiprog__is_legacy(mp))
		xdp_multiprog__detach(mp);
	else if (p)
		xdp_program__detach(p, ifindex, XDP_MODE_NATIVE, 0);
	xdp_multiprog__close(mp);
}

/* ---- tc: tcx links pinned in bpffs, or clsact ---- */

/* bpffs refuses '.' in names, which interface names may hold: pins are named by ifindex. */
static void link_pin_path(const struct xtap_datapath *dp, int ifindex, const char *hook,
			  char *path, size_t len)
{
	snprintf(path, len, "%s/links/if%d_%s", dp->pin_dir, ifindex, hook);
}

/* A pinned tcx link still attached to ifindex: returns its fd, or -1. */
static int tcx_link_open(const char *path, int ifindex, __u32 *prog_id)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info), link_ifindex;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.type != XTAP_BPF_LINK_TYPE_TCX) {
		close(fd);
		return -1;
	}
	/* tcx link info: { ifindex, attach_type } at the start of the union. */
	memcpy(&link_ifindex, &info.raw_tracepoint, sizeof(link_ifindex));
	if ((int)link_ifindex != ifindex) {
		close(fd);
		return -1;
	}
	*prog_id = info.prog_id;
	return fd;
}

static int tcx_attach(const struct xtap_datapath *dp, int ifindex, const char *ifname, int prog_fd,
		      int attach_type, const char *hook, struct xtap_err *err)
{
	char path[PATH_MAX + 64];
	__u32 prog_id;
	int fd, ret;

	link_pin_path(dp, ifindex, hook, path, sizeof(path));
	fd = tcx_link_open(path, ifindex, &prog_id);
	if (fd >= 0) {
		ret = same_prog_tag(prog_fd, prog_id) ? 0 : bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (ret)
			return xtap_fail(err, ret, "%s: updating the tc %s link failed: %s", ifname, hook,
				    strerror(-ret));
		return 0;
	}
	unlink(path);   /* stale: the device it belonged to is gone */
	fd = bpf_link_create(prog_fd, ifindex, attach_type, NULL);
	if (fd < 0)
		return -errno;
	ret = bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd);
	if (ret)
		return xtap_fail(err, ret, "%s: pinning the tc %s link at %s failed: %s", ifname, hook, path,
			    strerror(-ret));
	return 0;
}

static int clsact_attach(int ifindex, const char *ifname, int prog_fd,
			 enum bpf_tc_attach_point point, struct xtap_err *err)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XTAP_TC_HANDLE, .priority = XTAP_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST)
		return xtap_fail(err, ret, "%s: creating the clsact qdisc failed: %s", ifname, strerror(-ret));
	ret = bpf_tc_attach(&hook, &opts);
	if (ret)
		return xtap_fail(err, ret, "%s: attaching the tc program failed: %s", ifname, strerror(-ret));
	return 0;
}

static void clsact_detach(int ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XTAP_TC_HANDLE, .priority = XTAP_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

static int clsact_present(int ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = XTAP_TC_HANDLE, .priority = XTAP_TC_PRIO);

	return bpf_tc_query(&hook, &opts) == 0;
}

struct tc_hook_def {
	const char *hook;            /* pin name suffix */
	int tcx_type;
	enum bpf_tc_attach_point point;
	enum xtap_prog_id prog;
};

static const struct tc_hook_def vm_hooks[] = {
	{ "tc_ingress", XTAP_BPF_TCX_INGRESS, BPF_TC_INGRESS, XTAP_PROG_FROM_VM_TC },
	{ "tc_egress", XTAP_BPF_TCX_EGRESS, BPF_TC_EGRESS, XTAP_PROG_TO_VM_TC },
};

static const struct tc_hook_def uplink_hooks[] = {
	{ "tc_ingress", XTAP_BPF_TCX_INGRESS, BPF_TC_INGRESS, XTAP_PROG_FROM_UPLINK_TC },
};

static const struct tc_hook_def *role_hooks(enum xtap_role role, size_t *n)
{
	if (role == XTAP_ROLE_VM) {
		*n = sizeof(vm_hooks) / sizeof(vm_hooks[0]);
		return vm_hooks;
	}
	*n = sizeof(uplink_hooks) / sizeof(uplink_hooks[0]);
	return uplink_hooks;
}

static const char *role_xdp_name(enum xtap_role role)
{
	return role == XTAP_ROLE_VM ? "xtap_from_vm" : "xtap_from_uplink";
}

static enum xtap_prog_id role_xdp_prog(enum xtap_role role)
{
	return role == XTAP_ROLE_VM ? XTAP_PROG_FROM_VM_XDP : XTAP_PROG_FROM_UPLINK_XDP;
}

int xtap_attach(const struct xtap_datapath *dp, int ifindex, const char *ifname,
		enum xtap_role role, struct xtap_attach_state *st, struct xtap_err *err)
{
	char dir[PATH_MAX + 8];
	const struct tc_hook_def *hooks;
	size_t n, i;
	int ret;

	snprintf(st->xdp, sizeof(st->xdp), "none");
	snprintf(st->tc, sizeof(st->tc), "none");
	snprintf(dir, sizeof(dir), "%s/links", dp->pin_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return xtap_fail(err, -errno, "creating %s: %s", dir, strerror(errno));

	/* tc first: the XDP program hands GSO frames to tc and must not run before it is there. */
	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++) {
		int prog_fd = xtap_prog_fd(dp, hooks[i].prog);

		ret = tcx_attach(dp, ifindex, ifname, prog_fd, hooks[i].tcx_type, hooks[i].hook, err);
		if (ret == -EINVAL || ret == -EOPNOTSUPP) {
			ret = clsact_attach(ifindex, ifname, prog_fd, hooks[i].point, err);
			snprintf(st->tc, sizeof(st->tc), "clsact");
		} else if (!ret) {
			snprintf(st->tc, sizeof(st->tc), "tcx");
		} else if (!err || !err->msg[0]) {
			ret = xtap_fail(err, ret, "%s: attaching tc %s failed: %s", ifname, hooks[i].hook,
				   strerror(-ret));
		}
		if (ret)
			goto undo;
	}
	ret = xdp_attach(ifindex, ifname, xtap_prog_fd(dp, role_xdp_prog(role)), role_xdp_name(role),
			 st, err);
	if (ret)
		goto undo;
	return 0;
undo:
	xtap_detach(dp, ifindex, role, NULL);
	return ret;
}

int xtap_detach(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		struct xtap_err *err)
{
	const struct tc_hook_def *hooks;
	char path[PATH_MAX + 64];
	size_t n, i;

	(void)err;
	xdp_detach(ifindex, role_xdp_name(role));
	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++) {
		/* Unpinning the last reference detaches a tcx link. */
		link_pin_path(dp, ifindex, hooks[i].hook, path, sizeof(path));
		unlink(path);
		if (clsact_present(ifindex, hooks[i].point))
			clsact_detach(ifindex, hooks[i].point);
	}
	return 0;
}

void xtap_attach_query(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		       struct xtap_attach_state *st)
{
	const struct tc_hook_def *hooks;
	char path[PATH_MAX + 64];
	size_t n, i, tcx = 0, cls = 0;
	__u32 prog_id;
	int fd;

	snprintf(st->xdp, sizeof(st->xdp), "none");
	if (dispatcher_unavailable) {
		struct xtap_link l;

		if (!xtap_link_get_index(ifindex, &l, NULL) && l.xdp_prog_id &&
		    prog_name_is(l.xdp_prog_id, role_xdp_name(role)))
			snprintf(st->xdp, sizeof(st->xdp), "native");
	} else {
		struct xdp_multiprog *mp = get_multiprog(ifindex);

		if (mp && find_xdp_prog(mp, role_xdp_name(role)))
			xdp_mode_name(mp, st);
		xdp_multiprog__close(mp);
	}
	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++) {
		link_pin_path(dp, ifindex, hooks[i].hook, path, sizeof(path));
		fd = tcx_link_open(path, ifindex, &prog_id);
		if (fd >= 0) {
			tcx++;
			close(fd);
		} else if (clsact_present(ifindex, hooks[i].point)) {
			cls++;
		}
	}
	snprintf(st->tc, sizeof(st->tc), "%s",
		 tcx == n ? "tcx" : cls == n ? "clsact" : tcx + cls ? "partial" : "none");
}
