// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>

#include "fault.h"
#include "netdev.h"

#define TUN_DEV      "/dev/net/tun"
#define TAP_FLAGS    (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define VNET_HDR_LEN 12      /* virtio_net_hdr_mrg_rxbuf, what virtio-net guests use */
#define REQ_SIZE     256     /* our requests: a header and one short attribute */
#define NL_BUF_SIZE  32768   /* holds any one link message, whatever its attributes */
#define WHY_LEN      160

/*
 * The kernel's dev_valid_name(), and no '%': TUNSETIFF would take it as a
 * template and create a name the caller never learns.
 */
static int check_name(const char *what, const char *name, struct xtap_err *err)
{
	size_t len = name ? strlen(name) : 0;
	const char *c;

	if (!len)
		return xtap_fail(err, -EINVAL, "%s: no interface name given (pass one)", what);
	if (len >= IFNAMSIZ)
		return xtap_fail(err, -EINVAL, "%s %.40s: name is %zu characters, the limit is %d (pick a shorter name)",
			    what, name, len, IFNAMSIZ - 1);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		goto bad;
	for (c = name; *c; c++)
		if (*c == '/' || *c == ':' || *c == '%' || isspace((unsigned char)*c))
			goto bad;
	return 0;
bad:
	return xtap_fail(err, -EINVAL, "%s %s: invalid interface name (no '/', ':', '%%' or spaces; not '.' or '..')",
		    what, name);
}

/* ---- rtnetlink ---- */

struct rtnl_ctx {
	mnl_cb_t cb;     /* for each reply, or NULL */
	void *data;
	char *why;       /* WHY_LEN bytes: the kernel's reason when it gives one */
};

static int extack_cb(const struct nlattr *a, void *data)
{
	struct rtnl_ctx *c = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(c->why, WHY_LEN, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int ack_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!e->error)
		return MNL_CB_STOP;
	/* The reason follows the echoed request, unless the kernel capped it. */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(e->msg);
		mnl_attr_parse(nlh, off, extack_cb, data);
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtnl_ctx *c = data;

	return c->cb ? c->cb(nlh, c->data) : MNL_CB_OK;
}

/*
 * Sends one request and runs cb on its replies until the kernel acks.
 * Returns 0 or -errno with why (WHY_LEN bytes) saying what went wrong.
 */
static int rtnl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *why)
{
	/* Only NLMSG_ERROR is ours: DONE and OVERRUN keep libmnl's handling. */
	mnl_cb_t ctl[NLMSG_ERROR + 1] = { [NLMSG_ERROR] = ack_cb };
	struct rtnl_ctx c = { .cb = cb, .data = data, .why = why };
	char buf[NL_BUF_SIZE];
	struct mnl_socket *nl;
	unsigned int portid;
	int one = 1, ret;
	ssize_t n;

	why[0] = '\0';
	if (xtap_fault_should_fail(XTAP_FAULT_NETLINK)) {
		snprintf(why, WHY_LEN, "injected fault (--fault-injection)");
		return -EIO;
	}
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl) {
		ret = -errno;
		goto out;
	}
	/* Best effort: kernels without extended acks still send the errno. */
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;   /* a fresh socket: nothing else to tell apart */
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out_close;
	}
	portid = mnl_socket_get_portid(nl);
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		ret = n < 0 ? MNL_CB_ERROR :
		      mnl_cb_run2(buf, n, nlh->nlmsg_seq, portid, data_cb, &c, ctl, MNL_ARRAY_SIZE(ctl));
	} while (ret > MNL_CB_STOP);
	if (ret < 0)
		ret = -errno;
out_close:
	mnl_socket_close(nl);
out:
	if (ret < 0 && !why[0])
		snprintf(why, WHY_LEN, "%s", strerror(-ret));
	return ret;
}

/* buf: REQ_SIZE bytes. */
static struct nlmsghdr *link_msg(char *buf, int type, int ifindex)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	/* libmnl before 1.0.5 leaves attribute padding unset: send no stack garbage. */
	memset(buf, 0, REQ_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	switch (type) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		break;
	case IFLA_ADDRESS:
	case IFLA_XDP:
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = a;
	return MNL_CB_OK;
}

static int xdp_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type == IFLA_XDP_ATTACHED && mnl_attr_validate(a, MNL_TYPE_U8) == 0)
		tb[type] = a;
	if (type == IFLA_XDP_PROG_ID && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* From an RTM_NEWLINK or RTM_DELLINK message; -errno if malformed. */
static int parse_link(const struct nlmsghdr *nlh, struct xtap_link *out)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFLA_MAX + 1] = {};
	uint32_t mtu;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, tb) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifi->ifi_index;
	out->up = !!(ifi->ifi_flags & IFF_UP);
	out->running = !!(ifi->ifi_flags & IFF_RUNNING);
	if (tb[IFLA_IFNAME])
		snprintf(out->name, sizeof(out->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU]) {
		mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
		out->mtu = mtu > UINT16_MAX ? UINT16_MAX : mtu;
	}
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == sizeof(out->mac))
		memcpy(out->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), sizeof(out->mac));
	if (tb[IFLA_XDP]) {
		const struct nlattr *xtb[IFLA_XDP_MAX + 1] = {};

		if (mnl_attr_parse_nested(tb[IFLA_XDP], xdp_attr_cb, xtb) < 0)
			return -errno;
		if (xtb[IFLA_XDP_ATTACHED])
			out->xdp_attached = mnl_attr_get_u8(xtb[IFLA_XDP_ATTACHED]);
		if (xtb[IFLA_XDP_PROG_ID])
			out->xdp_prog_id = mnl_attr_get_u32(xtb[IFLA_XDP_PROG_ID]);
	}
	return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	int ret = parse_link(nlh, data);

	if (ret) {
		errno = -ret;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int link_query(struct nlmsghdr *nlh, const char *desc, struct xtap_link *out,
		      struct xtap_err *err)
{
	char why[WHY_LEN];
	int ret = rtnl_talk(nlh, get_cb, out, why);

	if (ret == -ENODEV)
		return xtap_fail(err, -ENOENT, "link %s: no such interface (check the name)", desc);
	if (ret)
		return xtap_fail(err, ret, "link %s: reading it failed: %s", desc, why);
	return 0;
}

int xtap_link_get(const char *name, struct xtap_link *out, struct xtap_err *err)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh;
	int ret;

	ret = check_name("link", name, err);
	if (ret)
		return ret;
	nlh = link_msg(buf, RTM_GETLINK, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return link_query(nlh, name, out, err);
}

static int check_ifindex(int ifindex, struct xtap_err *err)
{
	if (ifindex <= 0)
		return xtap_fail(err, -EINVAL, "link %d: invalid ifindex (pass the index of an existing link)",
			    ifindex);
	return 0;
}

int xtap_link_get_index(int ifindex, struct xtap_link *out, struct xtap_err *err)
{
	char buf[REQ_SIZE], desc[16];
	int ret;

	ret = check_ifindex(ifindex, err);
	if (ret)
		return ret;
	snprintf(desc, sizeof(desc), "%d", ifindex);
	return link_query(link_msg(buf, RTM_GETLINK, ifindex), desc, out, err);
}

/* RTM_NEWLINK on an existing link: the flags in change, and the MTU unless 0. */
static int link_modify(int ifindex, unsigned int change, unsigned int flags, uint16_t mtu,
		       char *why)
{
	char buf[REQ_SIZE];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_change = change;
	ifi->ifi_flags = flags;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return rtnl_talk(nlh, NULL, NULL, why);
}

int xtap_link_set_up(int ifindex, int up, struct xtap_err *err)
{
	char why[WHY_LEN];
	int ret;

	ret = check_ifindex(ifindex, err);
	if (ret)
		return ret;
	ret = link_modify(ifindex, IFF_UP, up ? IFF_UP : 0, 0, why);
	if (ret == -ENODEV)
		return xtap_fail(err, -ENOENT, "link %d: no such interface (was it deleted?)", ifindex);
	if (ret)
		return xtap_fail(err, ret, "link %d: setting it %s failed: %s", ifindex, up ? "up" : "down", why);
	return 0;
}

/*
 * A managed neighbour (NTF_EXT_MANAGED, Linux 5.16): the kernel resolves it
 * and keeps it resolved without traffic, so that the datapath's
 * bpf_fib_lookup finds its MAC before the first frame.
 */
int xtap_neigh_managed(int ifindex, uint32_t ip, int add, struct xtap_err *err)
{
	char buf[REQ_SIZE], why[WHY_LEN], addr[INET_ADDRSTRLEN];
	struct nlmsghdr *nlh;
	struct ndmsg *nd;
	int ret;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = NUD_NONE;
	mnl_attr_put(nlh, NDA_DST, sizeof(ip), &ip);
	if (add)
		mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
	ret = rtnl_talk(nlh, NULL, NULL, why);
	if (!add && ret == -ENOENT)
		return 0;
	if (ret) {
		inet_ntop(AF_INET, &ip, addr, sizeof(addr));
		return xtap_fail(err, ret, "neighbour %s on ifindex %d: %s failed: %s", addr, ifindex,
				 add ? "adding it (managed)" : "deleting it", why);
	}
	return 0;
}

int xtap_ipv4_forwarding(const char *ifname)
{
	char path[128], c = '0';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fread(&c, 1, 1, f) != 1)
		c = '0';
	fclose(f);
	return c == '1';
}

int xtap_link_set_mtu(int ifindex, uint16_t mtu, struct xtap_err *err)
{
	char why[WHY_LEN];
	int ret;

	ret = check_ifindex(ifindex, err);
	if (ret)
		return ret;
	if (!mtu)
		return xtap_fail(err, -EINVAL, "link %d: MTU 0 (pass the MTU to set)", ifindex);
	ret = link_modify(ifindex, 0, 0, mtu, why);
	if (ret == -ENODEV)
		return xtap_fail(err, -ENOENT, "link %d: no such interface (was it deleted?)", ifindex);
	if (ret)
		return xtap_fail(err, ret, "link %d: setting MTU %u failed: %s (pick one the device supports)",
			    ifindex, mtu, why);
	return 0;
}

/* ---- taps ---- */

/* 1 with the flags for a tun device, 0 for another interface, or -errno. */
static int tun_flags(const char *name, unsigned long *flags)
{
	char path[64];
	FILE *f;
	int ret;

	ret = check_name("link", name, NULL);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT)
			return -errno;
		/* Only tun devices have tun_flags: tell "not tun" from "missing". */
		snprintf(path, sizeof(path), "/sys/class/net/%s", name);
		return access(path, F_OK) ? -errno : 0;
	}
	ret = fscanf(f, "%lx", flags) == 1 ? 1 : -EIO;
	fclose(f);
	return ret;
}

int xtap_is_tap(const char *name)
{
	unsigned long flags;
	int ret = tun_flags(name, &flags);

	return ret <= 0 ? ret : !!(flags & IFF_TAP);
}

/* An fd attached to tap name (TUNSETIFF creates it if missing), or -errno. */
static int tun_attach(const char *name, int flags, struct xtap_err *err)
{
	struct ifreq ifr = { .ifr_flags = (short)flags };
	int fd, ret;

	fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
			return xtap_fail(err, ret, "tap %s: " TUN_DEV " missing (load the tun module: modprobe tun)",
				    name);
		if (ret == -EACCES || ret == -EPERM)
			return xtap_fail(err, ret, "tap %s: no permission to open " TUN_DEV " (run as root)", name);
		return xtap_fail(err, ret, "tap %s: opening " TUN_DEV " failed: %s", name, strerror(-ret));
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(fd, TUNSETIFF, &ifr))
		return fd;
	ret = -errno;
	close(fd);
	switch (ret) {
	case -EBUSY:
		return xtap_fail(err, ret, "tap %s: already in use by another process (a single-queue tap has one opener: stop that process first)",
			    name);
	case -EPERM:
		return xtap_fail(err, ret, "tap %s: not permitted (needs CAP_NET_ADMIN or the tap's owner uid/gid)",
			    name);
	case -E2BIG:
		return xtap_fail(err, ret, "tap %s: all %d queues are open already (close some first)",
			    name, XTAP_TAP_MAX_QUEUES);
	case -EINVAL:
		return xtap_fail(err, ret, "tap %s: exists but is not a tap in this queue mode (check the name)",
			    name);
	default:
		return xtap_fail(err, ret, "tap %s: TUNSETIFF failed: %s", name, strerror(-ret));
	}
}

static int id_ok(long id)
{
	/* (uid_t)-1 is no id: the kernel refuses it. */
	return id == -1 || (id >= 0 && (unsigned long)id < UINT32_MAX);
}

/* Everything after TUNSETIFF, persisting last so that until then closing fd undoes it all. */
static int tap_setup(int fd, const struct xtap_tap_opts *o, struct xtap_err *err)
{
	char why[WHY_LEN];
	int hdr = VNET_HDR_LEN, ifindex, ret;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr))
		return xtap_fail(err, -errno, "tap %s: setting the vnet header size failed: %s",
			    o->name, strerror(errno));
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)o->offloads))
		return xtap_fail(err, -errno, "tap %s: offloads 0x%x refused: %s (TSO and USO need TUN_F_CSUM, USO4 needs USO6; or the kernel lacks one)",
			    o->name, o->offloads, strerror(errno));
	if (o->owner_uid != -1 && ioctl(fd, TUNSETOWNER, (unsigned long)o->owner_uid))
		return xtap_fail(err, -errno, "tap %s: setting owner uid %ld failed: %s",
			    o->name, o->owner_uid, strerror(errno));
	if (o->owner_gid != -1 && ioctl(fd, TUNSETGROUP, (unsigned long)o->owner_gid))
		return xtap_fail(err, -errno, "tap %s: setting owner gid %ld failed: %s",
			    o->name, o->owner_gid, strerror(errno));
	ifindex = if_nametoindex(o->name);
	if (!ifindex)
		return xtap_fail(err, -errno, "tap %s: created but not found: %s", o->name, strerror(errno));
	if (o->mtu) {
		ret = link_modify(ifindex, 0, 0, o->mtu, why);
		if (ret)
			return xtap_fail(err, ret, "tap %s: setting MTU %u failed: %s (pick 68 to 65535)",
				    o->name, o->mtu, why);
	}
	ret = link_modify(ifindex, IFF_UP, IFF_UP, 0, why);
	if (ret)
		return xtap_fail(err, ret, "tap %s: setting it up failed: %s", o->name, why);
	if (ioctl(fd, TUNSETPERSIST, 1UL))
		return xtap_fail(err, -errno, "tap %s: making it persistent failed: %s",
			    o->name, strerror(errno));
	return ifindex;
}

int xtap_tap_create(const struct xtap_tap_opts *o, struct xtap_err *err)
{
	/* IFF_TUN_EXCL: fail on an existing name rather than attach to it. */
	int flags = TAP_FLAGS | IFF_TUN_EXCL;
	int fd, ret;

	ret = check_name("tap", o->name, err);
	if (ret)
		return ret;
	if (!o->queues || o->queues > XTAP_TAP_MAX_QUEUES)
		return xtap_fail(err, -EINVAL, "tap %s: %u queues (use 1 to %d)",
			    o->name, o->queues, XTAP_TAP_MAX_QUEUES);
	if (!id_ok(o->owner_uid) || !id_ok(o->owner_gid))
		return xtap_fail(err, -EINVAL, "tap %s: owner uid %ld / gid %ld out of range (use -1 for none, or 0 to 4294967294)",
			    o->name, o->owner_uid, o->owner_gid);
	if (o->queues > 1)
		flags |= IFF_MULTI_QUEUE;
	fd = tun_attach(o->name, flags, err);
	if (fd == -EBUSY) {
		if (xtap_is_tap(o->name) == 1)
			return xtap_fail(err, -EEXIST, "tap %s: already exists (adopt it, delete it, or pick another name)",
				    o->name);
		return xtap_fail(err, -EEXIST, "tap %s: the name is taken by an interface that is not a tap (pick another name)",
			    o->name);
	}
	if (fd < 0)
		return fd;
	ret = tap_setup(fd, o, err);
	close(fd);
	return ret;
}

int xtap_tap_open_queues(const char *name, unsigned int n, int multi_queue, int *fds,
			 struct xtap_err *err)
{
	int flags = TAP_FLAGS | (multi_queue ? IFF_MULTI_QUEUE : 0);
	unsigned int i = 0, ifindex;
	unsigned long tf;
	int ret;

	ret = check_name("tap", name, err);
	if (ret)
		return ret;
	if (!n || n > XTAP_TAP_MAX_QUEUES || (!multi_queue && n > 1))
		return xtap_fail(err, -EINVAL, "tap %s: cannot open %u queues (1 on a single-queue tap, 1 to %d on a multiqueue one)",
			    name, n, XTAP_TAP_MAX_QUEUES);
	/* Checked first: TUNSETIFF would create a missing tap, and its errors say less. */
	ret = tun_flags(name, &tf);
	if (ret == -ENOENT)
		return xtap_fail(err, ret, "tap %s: no such interface (create it first)", name);
	if (ret < 0)
		return xtap_fail(err, ret, "tap %s: reading its tun_flags in sysfs failed: %s", name, strerror(-ret));
	if (!ret || !(tf & IFF_TAP))
		return xtap_fail(err, -EINVAL, "tap %s: the interface is not a tap (check the name)", name);
	if (!(tf & IFF_MULTI_QUEUE) != !multi_queue)
		return xtap_fail(err, -EINVAL, "tap %s: is a %s tap (open it %s multi_queue)",
			    name, multi_queue ? "single-queue" : "multiqueue",
			    multi_queue ? "without" : "with");
	ifindex = if_nametoindex(name);
	for (; i < n; i++) {
		ret = tun_attach(name, flags, err);
		if (ret < 0)
			goto err_close;
		fds[i] = ret;
	}
	/* Deleted after the check: TUNSETIFF made a new tap, which closing the fds removes. */
	if (!ifindex || if_nametoindex(name) != ifindex) {
		ret = xtap_fail(err, -ENOENT, "tap %s: deleted while being opened (create it again)", name);
		goto err_close;
	}
	return 0;
err_close:
	while (i--)
		close(fds[i]);
	return ret;
}

int xtap_tap_delete(const char *name, struct xtap_err *err)
{
	char buf[REQ_SIZE], why[WHY_LEN];
	struct nlmsghdr *nlh;
	int ret;

	ret = check_name("tap", name, err);
	if (ret)
		return ret;
	ret = xtap_is_tap(name);
	if (!ret)
		return xtap_fail(err, -EINVAL, "tap %s: not a tap, refusing to delete it (check the name)", name);
	if (ret == 1) {
		nlh = link_msg(buf, RTM_DELLINK, 0);
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
		ret = rtnl_talk(nlh, NULL, NULL, why);
	} else {
		snprintf(why, sizeof(why), "%s", strerror(-ret));
	}
	if (ret == -ENOENT || ret == -ENODEV)
		return xtap_fail(err, -ENOENT, "tap %s: no such interface (nothing to delete)", name);
	if (ret)
		return xtap_fail(err, ret, "tap %s: deleting it failed: %s", name, why);
	return 0;
}

/* ---- link monitor ---- */

struct xtap_link_monitor {
	struct mnl_socket *nl;
};

struct xtap_link_monitor *xtap_link_monitor_open(struct xtap_err *err)
{
	struct xtap_link_monitor *m = calloc(1, sizeof(*m));

	if (!m) {
		xtap_fail(err, -ENOMEM, "link monitor: out of memory");
		return NULL;
	}
	m->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->nl || mnl_socket_bind(m->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		xtap_fail(err, -errno, "link monitor: opening an rtnetlink socket failed: %s", strerror(errno));
		if (m->nl)
			mnl_socket_close(m->nl);
		free(m);
		return NULL;
	}
	return m;
}

int xtap_link_monitor_fd(const struct xtap_link_monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

struct monitor_ctx {
	void (*cb)(const struct xtap_link_event *ev, void *ctx);
	void *ctx;
	int events;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct monitor_ctx *mc = data;
	struct xtap_link_event ev;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	ret = parse_link(nlh, &ev.link);
	if (ret) {
		errno = -ret;
		return MNL_CB_ERROR;
	}
	/* Bridge port notifications (AF_BRIDGE) repeat links already reported. */
	if (ifi->ifi_family != AF_UNSPEC)
		return MNL_CB_OK;
	ev.type = nlh->nlmsg_type == RTM_NEWLINK ? XTAP_LINK_NEW : XTAP_LINK_DEL;
	mc->cb(&ev, mc->ctx);
	mc->events++;
	return MNL_CB_OK;
}

int xtap_link_monitor_read(struct xtap_link_monitor *m,
			   void (*cb)(const struct xtap_link_event *ev, void *ctx), void *ctx)
{
	struct monitor_ctx mc = { .cb = cb, .ctx = ctx };
	char buf[NL_BUF_SIZE];
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(m->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? mc.events : -errno;
		if (mnl_cb_run(buf, n, 0, 0, event_cb, &mc) < 0)
			return -errno;
	}
}

void xtap_link_monitor_close(struct xtap_link_monitor *m)
{
	if (!m)
		return;
	mnl_socket_close(m->nl);
	free(m);
}
