/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The agent's network devices: creating, opening and deleting the VM taps,
 * and reading, changing and watching links over rtnetlink.
 *
 * Functions that can fail return a negative errno and, when they take one,
 * put a line for the operator in err. A missing interface is -ENOENT.
 */
#ifndef XTAP_NETDEV_H
#define XTAP_NETDEV_H

#include <stdint.h>

#include "err.h"

/* The kernel's limit on queues per tap (MAX_TAP_QUEUES). */
#define XTAP_TAP_MAX_QUEUES 256

struct xtap_tap_opts {
	const char *name;        /* IFNAMSIZ-1 max */
	unsigned int queues;     /* >= 1; > 1 => IFF_MULTI_QUEUE */
	unsigned int offloads;   /* TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6|... for TUNSETOFFLOAD, 0 = none */
	uint16_t mtu;            /* 0 = leave default */
	long owner_uid;          /* -1 = none (TUNSETOWNER) */
	long owner_gid;          /* -1 = none (TUNSETGROUP) */
};

/*
 * Creates a persistent tap (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, vnet header size
 * 12, TUNSETPERSIST 1 so it outlives the agent), sets owner/group/offloads/MTU,
 * brings it up, closes the fds. Fails with -EEXIST if an interface with that
 * name exists; on any failure no tap is left behind. Returns ifindex (>0) or
 * -errno.
 */
int xtap_tap_create(const struct xtap_tap_opts *o, struct xtap_err *err);

/*
 * Opens n queues of an existing tap (created by xtap_tap_create with the same
 * multiqueue setting) and returns the fds (O_NONBLOCK|O_CLOEXEC) in fds[],
 * for handing them to a VMM. Returns 0, or -errno with no fd left open:
 * -ENOENT if the tap is missing (it is never created here), -EINVAL if the
 * name is not a tap or its queue mode differs, -EBUSY when a single-queue
 * tap is already attached to another process's fd.
 */
int xtap_tap_open_queues(const char *name, unsigned int n, int multi_queue, int *fds,
			 struct xtap_err *err);

/* Deletes a tap (RTM_DELLINK). -ENOENT if missing, -EINVAL if not a tap. */
int xtap_tap_delete(const char *name, struct xtap_err *err);

/*
 * Is name a tap (tun driver in TAP mode)? Reads /sys/class/net/NAME/tun_flags,
 * so sysfs must be mounted from the caller's network namespace. Returns 1, 0,
 * or -errno (-ENOENT: no such interface).
 */
int xtap_is_tap(const char *name);

struct xtap_link {
	int ifindex;
	char name[16];
	uint16_t mtu;            /* clamped to 65535 (loopback reports 65536) */
	int up;                  /* IFF_UP */
	int running;             /* IFF_RUNNING: up with carrier */
	uint8_t mac[6];          /* zero unless the link has an Ethernet address */
	uint8_t xdp_attached;    /* XDP_ATTACHED_*: how its XDP program is attached, 0 = none */
	uint32_t xdp_prog_id;    /* the program netlink reports (one attached without a dispatcher) */
};

int xtap_link_get(const char *name, struct xtap_link *out, struct xtap_err *err);
int xtap_link_get_index(int ifindex, struct xtap_link *out, struct xtap_err *err);
int xtap_link_set_up(int ifindex, int up, struct xtap_err *err);
int xtap_link_set_mtu(int ifindex, uint16_t mtu, struct xtap_err *err);
/* Adds (replaces) or deletes a managed IPv4 neighbour, ip in network order. */
int xtap_neigh_managed(int ifindex, uint32_t ip, int add, struct xtap_err *err);
/* 1 when IPv4 forwarding is on for the link, 0 when off, -errno when unknown. */
int xtap_ipv4_forwarding(const char *ifname);

/* Link monitor: a netlink socket subscribed to RTMGRP_LINK, non-blocking; fd for poll(). */
struct xtap_link_monitor;

struct xtap_link_monitor *xtap_link_monitor_open(struct xtap_err *err);
int xtap_link_monitor_fd(const struct xtap_link_monitor *m);

/* NEW is sent when a link appears and again whenever it changes (flags, MTU, ...). */
enum xtap_link_event_type { XTAP_LINK_NEW, XTAP_LINK_DEL };

struct xtap_link_event {
	enum xtap_link_event_type type;
	struct xtap_link link;
};

/*
 * Reads all pending messages, calls cb for each link event. Returns number of
 * events or -errno. -ENOBUFS means the kernel dropped events because the
 * socket fell behind: re-read the links of interest with xtap_link_get();
 * the monitor stays usable.
 */
int xtap_link_monitor_read(struct xtap_link_monitor *m,
			   void (*cb)(const struct xtap_link_event *ev, void *ctx), void *ctx);
void xtap_link_monitor_close(struct xtap_link_monitor *m);

#endif /* XTAP_NETDEV_H */
