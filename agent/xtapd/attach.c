// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "attach.h"
#include "fault.h"
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

/* The most maps one of our programs uses (from_vm uses about 30). */
#define PROG_MAPS_MAX    64

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* The map with this id is one of the shared, pinned ones (not a load's own scratch map). */
static int map_id_shared(__u32 id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_map_get_fd_by_id(id), shared;

	if (fd < 0)
		return 1;   /* cannot tell: compare it */
	shared = bpf_obj_get_info_by_fd(fd, &info, &len) || xtap_map_is_shared_kname(info.name);
	close(fd);
	return shared;
}

/*
 * The tag and the ids of the shared maps fd uses, sorted: their number, or
 * -errno. Maps of one load alone (xtap_scratch, per-CPU scratch space) are
 * left out: every load has its own, and they hold no state.
 */
static int prog_identity(int fd, __u8 tag[BPF_TAG_SIZE], __u32 ids[PROG_MAPS_MAX])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), i, n = 0;

	info.nr_map_ids = PROG_MAPS_MAX;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.nr_map_ids > PROG_MAPS_MAX)
		return -E2BIG;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	for (i = 0; i < info.nr_map_ids; i++)
		if (map_id_shared(ids[i]))
			ids[n++] = ids[i];
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	return n;
}

/*
 * Program id_b is ours as loaded now (fd_a): the same instructions (the tag)
 * on the same maps. The tag alone is not enough: the kernel computes it with
 * the map references blanked, so a program left attached by an older
 * object, whose maps were replaced since (a map layout changed) or belong to
 * another pin directory, has our tag and would go on running on maps nobody
 * writes any more.
 */
static int xtap_same_prog(int fd_a, __u32 id_b)
{
	__u32 ids_a[PROG_MAPS_MAX], ids_b[PROG_MAPS_MAX];
	__u8 tag_a[BPF_TAG_SIZE], tag_b[BPF_TAG_SIZE];
	int fd_b = bpf_prog_get_fd_by_id(id_b), na, nb;

	if (fd_b < 0)
		return 0;
	na = prog_identity(fd_a, tag_a, ids_a);
	nb = prog_identity(fd_b, tag_b, ids_b);
	close(fd_b);
	return na >= 0 && na == nb && !memcmp(tag_a, tag_b, BPF_TAG_SIZE) &&
	       !memcmp(ids_a, ids_b, na * sizeof(ids_a[0]));
}

/* ---- XDP, through libxdp ---- */

static const char *role_xdp_name(enum xtap_role role)
{
	return role == XTAP_ROLE_VM ? "xtap_from_vm" : "xtap_from_uplink";
}

static enum xtap_prog_id role_xdp_prog(enum xtap_role role)
{
	return role == XTAP_ROLE_VM ? XTAP_PROG_FROM_VM_XDP : XTAP_PROG_FROM_UPLINK_XDP;
}

/* Set once known that libxdp cannot build its dispatcher here (no freplace): one program per device. */
static int dispatcher_unavailable;
static int dispatcher_probed;

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level, (void)fmt, (void)args;
	return 0;
}

/*
 * libxdp's own test for its dispatcher, asked once before the first XDP
 * attach: xdp-dispatcher.o's xdp_pass loaded as freplace of another copy of
 * itself, and attached. Where it fails (fentry/freplace refused, an old
 * kernel) libxdp would fall back to attaching the program alone; xtap then
 * attaches its loaded program itself, one rtnetlink request per device.
 */
static int freplace_works(void)
{
	struct xdp_program *tgt = xdp_program__find_file("xdp-dispatcher.o", NULL, NULL);
	struct xdp_program *ext = xdp_program__find_file("xdp-dispatcher.o", NULL, NULL);
	libbpf_print_fn_t old_print = libbpf_set_print(quiet_libbpf);
	const char *skip = getenv("LIBXDP_SKIP_DISPATCHER");
	struct bpf_object *tobj, *eobj;
	struct bpf_program *tp, *ep, *p;
	int ok = 0, lfd;

	if (libxdp_get_error(tgt))
		tgt = NULL;
	if (libxdp_get_error(ext))
		ext = NULL;
	if (!tgt || !ext || (skip && !strcmp(skip, "1")))
		goto out;
	tobj = xdp_program__bpf_obj(tgt);
	eobj = xdp_program__bpf_obj(ext);
	tp = tobj ? bpf_object__find_program_by_name(tobj, "xdp_pass") : NULL;
	ep = eobj ? bpf_object__find_program_by_name(eobj, "xdp_pass") : NULL;
	if (!tp || !ep)
		goto out;
	bpf_object__for_each_program(p, tobj)
		bpf_program__set_autoload(p, p == tp);
	if (bpf_object__load(tobj))
		goto out;
	bpf_object__for_each_program(p, eobj)
		bpf_program__set_autoload(p, p == ep);
	bpf_program__set_type(ep, BPF_PROG_TYPE_EXT);
	bpf_program__set_expected_attach_type(ep, 0);
	if (bpf_program__set_attach_target(ep, bpf_program__fd(tp), "xdp_pass") || bpf_object__load(eobj))
		goto out;
	lfd = bpf_raw_tracepoint_open(NULL, bpf_program__fd(ep));
	ok = lfd >= 0;
	if (ok)
		close(lfd);
out:
	libbpf_set_print(old_print);
	xdp_program__close(ext);
	xdp_program__close(tgt);
	return ok;
}

/*
 * libxdp 1.3.1 leaks a program fd for every program it reads back from the
 * kernel (xdp_multiprog__get_from_ifindex: the dispatcher and each program in
 * it, so every query, attach and detach; xdp_program__from_id), which keeps
 * removed dispatchers and their programs loaded as long as xtapd runs
 * (xdp-tools issue #343, fixed after 1.3.1). xtapd is single-threaded and
 * keeps no fd of a dispatcher or of a program in one, so every program fd
 * that appears across a libxdp call sequence, once ours are closed, is such a
 * leak: the sequence is wrapped in prog_fds() ... close_leaked_prog_fds().
 */
struct fd_list {
	int *fd;
	size_t n;
};

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int is_prog_fd(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = 0;
	return !strcmp(link, "anon_inode:bpf-prog");
}

/* The program fds open now, sorted (none where /proc is not there: nothing is closed then). */
static void prog_fds(struct fd_list *l)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t cap = 0;

	l->fd = NULL;
	l->n = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || !is_prog_fd(fd))
			continue;
		if (l->n == cap) {
			int *p = realloc(l->fd, (cap = cap ? cap * 2 : 64) * sizeof(*p));

			if (!p) {
				/* No list: close nothing rather than fds missing from a partial one. */
				free(l->fd);
				l->fd = NULL;
				l->n = 0;
				closedir(d);
				return;
			}
			l->fd = p;
		}
		l->fd[l->n++] = fd;
	}
	closedir(d);
	qsort(l->fd, l->n, sizeof(*l->fd), cmp_int);
}

static void close_leaked_prog_fds(struct fd_list *before)
{
	struct fd_list now;
	size_t i;

	if (!before->fd)
		return;
	prog_fds(&now);
	for (i = 0; i < now.n; i++)
		if (!bsearch(&now.fd[i], before->fd, before->n, sizeof(*before->fd), cmp_int))
			close(now.fd[i]);
	free(now.fd);
	free(before->fd);
	before->fd = NULL;
}

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
	if (l.xdp_prog_id && xtap_same_prog(prog_fd, l.xdp_prog_id))
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

/*
 * Our program behind libxdp's dispatcher: libxdp loads it as freplace from a
 * second copy of our object that shares every map with the loaded one.
 */
static int xdp_attach_dispatched(const struct xtap_datapath *dp, int ifindex, const char *ifname,
				 enum xtap_role role, struct xtap_err *err)
{
	struct bpf_object *obj = xtap_datapath_open_xdp(dp, role_xdp_prog(role));
	struct xdp_program *prog;
	int ret;

	if (!obj)
		return xtap_fail(err, -errno, "%s: opening %s for libxdp's dispatcher failed: %s", ifname,
			    role_xdp_name(role), strerror(errno));
	{
		DECLARE_LIBXDP_OPTS(xdp_program_opts, o, .obj = obj, .prog_name = role_xdp_name(role));

		prog = xdp_program__create(&o);
	}
	ret = libxdp_get_error(prog);
	if (ret) {
		bpf_object__close(obj);
		return xtap_fail(err, ret, "%s: libxdp cannot use the XDP program: %s", ifname, strerror(-ret));
	}
	ret = xdp_program__attach(prog, ifindex, XDP_MODE_NATIVE, 0);
	xdp_program__close(prog);
	bpf_object__close(obj);
	if (ret)
		return xtap_fail(err, ret, "%s: attaching XDP (native mode) failed: %s", ifname, strerror(-ret));
	return 0;
}

static int xdp_attach_libxdp(const struct xtap_datapath *dp, int ifindex, const char *ifname,
			     enum xtap_role role, struct xtap_attach_state *st, struct xtap_err *err)
{
	int prog_fd = xtap_prog_fd(dp, role_xdp_prog(role));
	const char *name = role_xdp_name(role);
	struct xdp_multiprog *mp;
	struct xdp_program *old;
	__u32 old_id;
	int ret;

	mp = get_multiprog(ifindex);
	old = mp ? find_xdp_prog(mp, name) : NULL;

	/*
	 * The dispatcher's copy of our program is freplace, ours XDP, but both are
	 * loaded from the same instructions: the tags match when the build does.
	 */
	if (old && xtap_same_prog(prog_fd, xdp_program__id(old))) {
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
	if (!old && mp && xdp_multiprog__is_legacy(mp) && xdp_multiprog__main_prog(mp)) {
		const char *other = xdp_program__name(xdp_multiprog__main_prog(mp));

		ret = xtap_fail(err, -EBUSY,
			   "%s: XDP program %s (not xtap's) is attached without libxdp's dispatcher: detach it first",
			   ifname, other);
		xdp_multiprog__close(mp);
		return ret;
	}
	old_id = old ? xdp_program__id(old) : 0;
	xdp_multiprog__close(mp);

	/*
	 * An older build of ours in the dispatcher leaves only after the new one
	 * is in (the old one runs first meanwhile): no frame unfiltered.
	 */
	ret = xdp_attach_dispatched(dp, ifindex, ifname, role, err);
	if (ret)
		return ret;
	if (old_id) {
		struct xdp_program *p = xdp_program__from_id(old_id);

		if (!libxdp_get_error(p)) {
			xdp_program__detach(p, ifindex, XDP_MODE_NATIVE, 0);
			xdp_program__close(p);
		}
	}
	mp = get_multiprog(ifindex);
	if (mp) {
		xdp_mode_name(mp, st);
		/* libxdp fell back to the program alone after all: no dispatcher here. */
		dispatcher_unavailable = xdp_multiprog__is_legacy(mp);
		xdp_multiprog__close(mp);
	}
	return 0;
}

static int xdp_attach(const struct xtap_datapath *dp, int ifindex, const char *ifname,
		      enum xtap_role role, struct xtap_attach_state *st, struct xtap_err *err)
{
	struct fd_list fds;
	int ret;

	if (!dispatcher_probed) {
		dispatcher_unavailable = !freplace_works();
		dispatcher_probed = 1;
	}
	if (dispatcher_unavailable)
		return xdp_attach_single(ifindex, ifname, xtap_prog_fd(dp, role_xdp_prog(role)),
					 role_xdp_name(role), st, err);
	prog_fds(&fds);
	ret = xdp_attach_libxdp(dp, ifindex, ifname, role, st, err);
	close_leaked_prog_fds(&fds);
	return ret;
}

static void xdp_detach(int ifindex, const char *name)
{
	struct fd_list fds;
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
	prog_fds(&fds);
	mp = get_multiprog(ifindex);
	p = mp ? find_xdp_prog(mp, name) : NULL;

	/* In a dispatcher: libxdp removes the dispatcher too when ours was its last program. */
	if (p && xdp_multiprog__is_legacy(mp))
		xdp_multiprog__detach(mp);
	else if (p)
		xdp_program__detach(p, ifindex, XDP_MODE_NATIVE, 0);
	xdp_multiprog__close(mp);
	close_leaked_prog_fds(&fds);
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
		ret = xtap_same_prog(prog_fd, prog_id) ? 0 : bpf_link_update(fd, prog_fd, NULL);
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

/* Each attach step asks the fault switch first (docs/api.md): it fails as the kernel would refuse. */
static int attach_query(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
			struct xtap_attach_state *st, struct xtap_err *err);

static int attach_step_injected(const char *ifname, const char *hook, struct xtap_err *err)
{
	if (!xtap_fault_should_fail(XTAP_FAULT_ATTACH))
		return 0;
	return xtap_fail(err, -EIO, "%s: attaching %s failed: injected fault (--fault-injection)", ifname, hook);
}

int xtap_attach(const struct xtap_datapath *dp, int ifindex, const char *ifname,
		enum xtap_role role, struct xtap_attach_state *st, struct xtap_err *err)
{
	char dir[PATH_MAX + 8];
	const struct tc_hook_def *hooks;
	struct xtap_attach_state before;
	size_t n, i;
	int ret;

	/* On failure only a device that had none of our programs is cleaned up: another user's stay. */
	ret = attach_query(dp, ifindex, role, &before, err);
	if (ret)
		return ret;
	st->had_programs = strcmp(before.xdp, "none") || strcmp(before.tc, "none");
	snprintf(st->xdp, sizeof(st->xdp), "none");
	snprintf(st->tc, sizeof(st->tc), "none");
	snprintf(dir, sizeof(dir), "%s/links", dp->pin_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return xtap_fail(err, -errno, "creating %s: %s", dir, strerror(errno));

	/* tc first: the XDP program hands GSO frames to tc and must not run before it is there. */
	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++) {
		int prog_fd = xtap_prog_fd(dp, hooks[i].prog);

		ret = attach_step_injected(ifname, hooks[i].hook, err);
		if (ret)
			goto undo;
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
	ret = attach_step_injected(ifname, "xdp", err);
	if (!ret)
		ret = xdp_attach(dp, ifindex, ifname, role, st, err);
	if (ret)
		goto undo;
	return 0;
undo:
	if (!st->had_programs)
		xtap_detach(dp, ifindex, role, NULL);
	return ret;
}

void xtap_unpin_links(const struct xtap_datapath *dp, int ifindex, enum xtap_role role)
{
	const struct tc_hook_def *hooks;
	char path[PATH_MAX + 64];
	size_t n, i;

	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++) {
		int fd;

		link_pin_path(dp, ifindex, hooks[i].hook, path, sizeof(path));
		/*
		 * Unpinning the last reference would detach a tcx link too, but later
		 * (the kernel frees it from a work queue): detached now, before the reply.
		 */
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
	}
	/* The links directory goes with its last pin (xtap_attach makes it again). */
	snprintf(path, sizeof(path), "%s/links", dp->pin_dir);
	rmdir(path);
}

int xtap_detach(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		struct xtap_err *err)
{
	const struct tc_hook_def *hooks;
	size_t n, i;

	(void)err;
	xdp_detach(ifindex, role_xdp_name(role));
	xtap_unpin_links(dp, ifindex, role);
	hooks = role_hooks(role, &n);
	for (i = 0; i < n; i++)
		if (clsact_present(ifindex, hooks[i].point))
			clsact_detach(ifindex, hooks[i].point);
	return 0;
}

/* What is attached; fails when the device cannot be asked (an attach must know what it would undo). */
static int attach_query(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
			struct xtap_attach_state *st, struct xtap_err *err)
{
	const struct tc_hook_def *hooks;
	char path[PATH_MAX + 64];
	size_t n, i, tcx = 0, cls = 0;
	__u32 prog_id;
	int fd, ret;

	snprintf(st->xdp, sizeof(st->xdp), "none");
	if (dispatcher_unavailable) {
		struct xtap_link l;

		ret = xtap_link_get_index(ifindex, &l, err);
		if (ret)
			return ret;
		if (l.xdp_prog_id && prog_name_is(l.xdp_prog_id, role_xdp_name(role)))
			snprintf(st->xdp, sizeof(st->xdp), "native");
	} else {
		struct fd_list fds;
		struct xdp_multiprog *mp;

		prog_fds(&fds);
		mp = get_multiprog(ifindex);
		if (mp && find_xdp_prog(mp, role_xdp_name(role)))
			xdp_mode_name(mp, st);
		xdp_multiprog__close(mp);
		close_leaked_prog_fds(&fds);
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
	return 0;
}

void xtap_attach_query(const struct xtap_datapath *dp, int ifindex, enum xtap_role role,
		       struct xtap_attach_state *st)
{
	attach_query(dp, ifindex, role, st, NULL);
}
