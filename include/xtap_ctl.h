/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control protocol between xtapd and its clients (xtapctl, tests, a
 * fleet controller): where the socket and the pinned maps are by default,
 * the keys of a request and its reply, the command names, the limits of a
 * request and xtapctl's exit codes. docs/api.md describes the messages;
 * agent/lib/ctl_commands.c lists each command's arguments. No logic.
 */
#ifndef XTAP_CTL_H
#define XTAP_CTL_H

#define XTAP_DEFAULT_SOCKET  "/run/xtap/xtapd.sock"
#define XTAP_DEFAULT_PIN_DIR "/sys/fs/bpf/xtap"

/* Queues handed to a VMM (port.open): fds sent with the reply (SCM_RIGHTS), then closed. */
#define XTAP_HANDOFF_MAX_QUEUES 64

/* A request: {"cmd": NAME, "args": {...}}; a reply: {"ok": true, "result": ...} or {"ok": false, "error": TEXT}. */
#define XTAP_REQ_CMD    "cmd"
#define XTAP_REQ_ARGS   "args"
#define XTAP_REQ_FAULT  "fault"   /* tests only: xtapd --fault-injection (docs/api.md) */
#define XTAP_REPLY_OK     "ok"
#define XTAP_REPLY_RESULT "result"
#define XTAP_REPLY_ERROR  "error"

/* The commands (agent/lib/ctl_commands.c: their arguments and help). */
#define XTAP_CMD_STATUS       "status"
#define XTAP_CMD_PORT_ADD     "port.add"
#define XTAP_CMD_PORT_DEL     "port.del"
#define XTAP_CMD_PORT_LIST    "port.list"
#define XTAP_CMD_PORT_SHOW    "port.show"
#define XTAP_CMD_PORT_OPEN    "port.open"
#define XTAP_CMD_ADDR_ADD     "addr.add"
#define XTAP_CMD_ADDR_DEL     "addr.del"
#define XTAP_CMD_ACL_ADD      "acl.add"
#define XTAP_CMD_ACL_DEL      "acl.del"
#define XTAP_CMD_ACL_DEFAULT  "acl.default"
#define XTAP_CMD_ACL_LIST     "acl.list"
#define XTAP_CMD_RATE_SET     "rate.set"
#define XTAP_CMD_RATE_CLEAR   "rate.clear"
#define XTAP_CMD_SEGMENT_ADD  "segment.add"
#define XTAP_CMD_SEGMENT_DEL  "segment.del"
#define XTAP_CMD_SEGMENT_LIST "segment.list"
#define XTAP_CMD_STATS        "stats"
#define XTAP_CMD_FDB          "fdb"
#define XTAP_CMD_TEARDOWN     "teardown"
#define XTAP_CMD_UNDERLAY_SET "overlay.underlay.set"
#define XTAP_CMD_VTEP_ADD     "overlay.vtep.add"
#define XTAP_CMD_VTEP_DEL     "overlay.vtep.del"
#define XTAP_CMD_RMAC_ADD     "overlay.mac.add"
#define XTAP_CMD_RMAC_DEL     "overlay.mac.del"
#define XTAP_CMD_OVERLAY_SHOW "overlay.show"
#define XTAP_CMD_CONNTRACK_LIST  "conntrack.list"
#define XTAP_CMD_CONNTRACK_FLUSH "conntrack.flush"
#define XTAP_CMD_TRACE        "trace"

/* xtapctl's exit codes. */
#define XTAP_EXIT_OK      0
#define XTAP_EXIT_REFUSED 1   /* the agent refused: its message says why */
#define XTAP_EXIT_USAGE   2   /* bad command line */
#define XTAP_EXIT_NOAGENT 3   /* xtapd is not reachable */
#define XTAP_EXIT_DENIED  4   /* the control socket is not ours to use (not root) */

/*
 * What xtapd allows a connection (agent/xtapd/ctl_server.c). A request
 * larger than XTAP_CTL_MAX_REQUEST, or not whole within
 * XTAP_CTL_REQUEST_TIMEOUT_S of its first byte, is answered with an error
 * and the connection closed; so is one that sends nothing for
 * XTAP_CTL_IDLE_TIMEOUT_S. A reply not read within XTAP_CTL_REPLY_TIMEOUT_S
 * is dropped. Past XTAP_CTL_MAX_CONNECTIONS, a new connection takes the
 * place of the oldest one that has sent nothing yet; with none such it is
 * answered XTAP_CTL_TOO_MANY and closed.
 */
#define XTAP_CTL_MAX_REQUEST      65536
#define XTAP_CTL_MAX_CONNECTIONS  256
#define XTAP_CTL_IDLE_TIMEOUT_S    10
#define XTAP_CTL_REQUEST_TIMEOUT_S 5
#define XTAP_CTL_REPLY_TIMEOUT_S   10
#define XTAP_CTL_TOO_MANY "xtapd: too many connections (%d); retry later"

#endif /* XTAP_CTL_H */
