/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol server of xtap-vhost: one frontend connection at
 * a time. It reads each message with its fds, validates it against what the
 * request needs, keeps the state in a struct xtap_vhost_dev, drives the
 * data plane and the tap queues, and replies. Any malformed or hostile
 * message, or a failure to carry one out, ends the connection (one log
 * line) and resets everything to "waiting for a frontend"; the process
 * keeps serving.
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
	/* For the status file. */
	uint64_t generation;           /* bumped whenever something the status file reports changes */
	uint64_t connections;
	uint64_t rejected;
	char last_error[256];
};

void xtap_vhost_server_init(struct xtap_vhost_server *s, const char *port, unsigned int n_pairs,
			    bool multi_queue, const struct xtap_vhost_plane *plane);
/* A frontend connected (fd made non-blocking here, owned by the server from now on). */
void xtap_vhost_server_attach(struct xtap_vhost_server *s, int fd);
/* The connection is readable (or hung up): handle what came. */
void xtap_vhost_server_input(struct xtap_vhost_server *s);
/* Something the status file reports changed (xtap-vhost's own changes, e.g. a guest memory fault). */
void xtap_vhost_server_changed(struct xtap_vhost_server *s);
/* Ends the connection, if any: rings stopped, plane and tap queues closed, memory unmapped. */
void xtap_vhost_server_disconnect(struct xtap_vhost_server *s, const char *why);
unsigned int xtap_vhost_server_rings_running(const struct xtap_vhost_server *s);
/* Virtio features offered to the frontend (GET_FEATURES). */
uint64_t xtap_vhost_server_offered(const struct xtap_vhost_server *s);

#endif /* XTAP_VHOST_USER_H */
