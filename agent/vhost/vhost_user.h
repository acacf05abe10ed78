/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol server of xtap-vhost: one frontend connection at
 * a time. It reads each message with its fds, validates it against what the
 * request needs, keeps the state in a struct xtap_vhost_dev, drives the
 * data plane and the tap queues, and replies. Any malformed or hostile
 * message, or a failure to carry one out, ends the connection (one log
 * line) and resets everything to "waiting for a frontend"; the process
 * keeps serving. So does a frontend that stalls: each message must be whole
 * XTAP_VHOST_STALL_MS after its first byte (the first one after connecting).
 */
#ifndef XTAP_VHOST_USER_H
#define XTAP_VHOST_USER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vhost_dev.h"
#include "vhost_user_proto.h"

/* A message must be whole this long after its first byte arrived (the first message: after the connect). */
#define XTAP_VHOST_STALL_MS 5000
/*
 * A frontend that negotiated its features (QEMU does so as it starts the
 * device) and sent no memory table this long after has no shared memory to
 * give: QEMU found the guest's RAM not shared, falls back to its own virtio
 * and no frame reaches this port. Reported, counted and logged once.
 */
#define XTAP_VHOST_MEM_WAIT_MS 3000
/* What fixes it, in the log line and the status file's hint (QEMU's and libvirt's way). */
#define XTAP_VHOST_HINT_SHARED_MEMORY \
	"share the guest's RAM: QEMU -object memory-backend-memfd,id=mem,size=SIZE,share=on -numa node,memdev=mem; " \
	"libvirt <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
/* A second frontend replaces the attached one only if that one has been stuck mid-message this long. */
#define XTAP_VHOST_PREEMPT_MS 1000

struct xtap_vhost_server {
	struct xtap_vhost_dev dev;
	int conn;                      /* the frontend's connection; -1 = waiting */
	bool owned;                    /* SET_OWNER: tap queues and the plane are open */
	bool addr_set[XTAP_VHOST_MAX_RINGS];          /* SET_VRING_ADDR seen */
	bool tap_attached[XTAP_VHOST_MAX_PAIRS];      /* multiqueue taps: queue takes frames */
	/* The message being read: the socket is non-blocking, a message may come in pieces. */
	union {
		struct vhost_user_msg msg;
		uint8_t bytes[sizeof(struct vhost_user_msg)];
	} in;
	size_t in_len;
	int in_fds[VHOST_USER_MAX_REGIONS];
	unsigned int in_nfds;
	uint64_t in_started_ms;        /* monotonic ms the unfinished message (or the connection) began; 0 = none */
	/* For the status file. */
	uint64_t generation;           /* bumped whenever something the status file reports changes */
	uint64_t connections;
	uint64_t rejected;
	uint64_t stalled;              /* connections dropped for stalling mid-message */
	uint64_t features_ms;          /* monotonic ms of this connection's first SET_FEATURES without memory; 0 = none */
	bool mem_missing;              /* this connection is past XTAP_VHOST_MEM_WAIT_MS without a memory table */
	uint64_t no_shared_memory;     /* connections that were */
	char last_error[256];
};

void xtap_vhost_server_init(struct xtap_vhost_server *s, const char *port, unsigned int n_pairs,
			    bool multi_queue, const struct xtap_vhost_plane *plane);
/* A frontend connected (fd made non-blocking here, owned by the server from now on). */
void xtap_vhost_server_attach(struct xtap_vhost_server *s, int fd);
/* The connection is readable (or hung up): handle what came. */
void xtap_vhost_server_input(struct xtap_vhost_server *s);
/* CLOCK_MONOTONIC in ms: the clock of the stall timeout. */
uint64_t xtap_vhost_now_ms(void);
/* How long the connection has been stuck in an unfinished message (0: none, or no connection). */
uint64_t xtap_vhost_server_stalled_for(const struct xtap_vhost_server *s, uint64_t now);
/* Milliseconds until the stall timeout or the memory table's wait ends (the poll timeout); -1 = no deadline. */
int xtap_vhost_server_timeout(const struct xtap_vhost_server *s, uint64_t now);
/*
 * Ends a connection stuck past XTAP_VHOST_STALL_MS (counted in `stalled`, one log line);
 * marks one without a memory table XTAP_VHOST_MEM_WAIT_MS after SET_FEATURES (`no_shared_memory`).
 */
void xtap_vhost_server_expire(struct xtap_vhost_server *s, uint64_t now);
/* The guest's memory as the status file reports it: "shared", "not shared" or "unknown" (not yet). */
const char *xtap_vhost_server_guest_memory(const struct xtap_vhost_server *s);
/* Ends the connection as stalled now (a new frontend is waiting): `why` says so in the log. */
void xtap_vhost_server_drop_stalled(struct xtap_vhost_server *s, uint64_t now, const char *why);
/* Something the status file reports changed (xtap-vhost's own changes, e.g. a guest memory fault). */
void xtap_vhost_server_changed(struct xtap_vhost_server *s);
/* Ends the connection, if any: rings stopped, plane and tap queues closed, memory unmapped. */
void xtap_vhost_server_disconnect(struct xtap_vhost_server *s, const char *why);
unsigned int xtap_vhost_server_rings_running(const struct xtap_vhost_server *s);
/* Virtio features offered to the frontend (GET_FEATURES). */
uint64_t xtap_vhost_server_offered(const struct xtap_vhost_server *s);

#endif /* XTAP_VHOST_USER_H */
