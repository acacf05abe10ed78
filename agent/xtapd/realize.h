/* SPDX-License-Identifier: GPL-2.0 */
/* Making the model's ports and segments real in the kernel (taps, maps, attachments, xtap-vhost), and undoing it. */
#ifndef XTAP_REALIZE_H
#define XTAP_REALIZE_H

#include "agent.h"

/*
 * Writes the port's policy and host MAC entry, attaches the programs to its
 * tap (ifindex set); all or nothing. *attached (may be NULL): the tap had
 * none of our programs before (an undo detaches them).
 */
int xtap_port_realize(struct xtap_agent *a, struct xtap_port_conf *p, int *attached, struct xtap_err *err);
/* Runs its vhost-user server (not fatal: logged, retried). */
void xtap_port_start_vhost(struct xtap_agent *a, struct xtap_port_conf *p);
/* Takes the port out of the maps (host MAC entry, policy, membership); inside a request, undone with it. */
int xtap_port_unwrite(struct xtap_agent *a, const struct xtap_port_conf *p, struct xtap_err *err);
/* Stops its xtap-vhost, detaches the programs, removes the port from the maps; the tap stays. */
void xtap_port_unrealize(struct xtap_agent *a, struct xtap_port_conf *p);
/* Creates the tap (or finds the adopted one); returns its ifindex, *created when it made it. */
int xtap_port_tap(struct xtap_port_conf *p, int *created, struct xtap_err *err);

/*
 * Attaches the segment's uplink and writes the segment; all or nothing.
 * *attached_ifindex (may be NULL): the uplink this call attached programs
 * to (it had none), 0 if none: what an undo detaches.
 */
int xtap_segment_realize(struct xtap_agent *a, const struct xtap_segment_conf *s, int *attached_ifindex,
			 struct xtap_err *err);
/* Does a segment other than except use this uplink? */
int xtap_segment_in_use_uplink(const struct xtap_agent *a, const char *uplink, __u32 except);

/* The overlay of the model: underlay (programs, neighbours of the VTEPs), VTEP lists, remote MACs. */
int xtap_overlay_realize(struct xtap_agent *a, struct xtap_err *err);

#endif
