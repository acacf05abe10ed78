/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control protocol between xtapd and its clients (xtapctl, tests, a
 * fleet controller): where the socket and the pinned maps are by default,
 * and the limits of a request. docs/api.md describes the messages. No logic.
 */
#ifndef XTAP_CTL_H
#define XTAP_CTL_H

#define XTAP_DEFAULT_SOCKET  "/run/xtap/xtapd.sock"
#define XTAP_DEFAULT_PIN_DIR "/sys/fs/bpf/xtap"

/* Queues handed to a VMM (port.open): fds sent with the reply (SCM_RIGHTS), then closed. */
#define XTAP_HANDOFF_MAX_QUEUES 64

#endif /* XTAP_CTL_H */
