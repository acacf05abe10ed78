/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who may connect to a port's vhost-user socket. A VMM refused by the
 * socket's permissions (EACCES) never reaches xtap-vhost, and QEMU with
 * reconnect=1 retries silently (`virsh start` waits on it): the socket's
 * mode and owner are all there is to go on, so port show says it.
 */
#ifndef XTAP_VHOST_ACCESS_H
#define XTAP_VHOST_ACCESS_H

#include <json-c/json.h>

/* The user libvirt runs QEMU as (Debian's libvirt-daemon-system creates it). */
#define XTAP_LIBVIRT_QEMU_USER "libvirt-qemu"

/*
 * Adds a "hint" to a running xtap-vhost's status (socket_mode, socket_uid,
 * socket_gid, connections) when no frontend ever connected and the socket
 * keeps libvirt's QEMU user out, or anyone but root where that user does not
 * exist. A status that has a hint already keeps it. For ports whose tap
 * nobody holds (port show asks only then).
 */
void xtap_vhost_access_hint(json_object *st);

#endif /* XTAP_VHOST_ACCESS_H */
